"""Drill: the PostgreSQL server crashes (``pg_ctl stop -m immediate``) under traffic and comes back
after a while. Calls keep flowing (the IVR goes on without its lookup), CDRs go to the spool and
drain after, call records wait in their writer: every CDR Asterisk wrote is stored exactly once,
every call has one record."""

from __future__ import annotations

import asyncio
import os

import pytest

from tests.asterisk.conftest import AsteriskSandbox, eventually
from tests.drills.conftest import (
    CallWatch,
    NewBridge,
    Traffic,
    assert_nothing_lost_or_doubled,
    metric,
)
from tests.support.pg_cluster import PgCluster

pytestmark = [pytest.mark.drills, pytest.mark.asterisk, pytest.mark.postgres]

# Reduced for CI; the drill is DRILL_PG_DOWN_SECONDS=30.
DOWN = float(os.environ.get("DRILL_PG_DOWN_SECONDS", "12"))


async def test_postgres_down_under_traffic(
    asterisk_sandbox: AsteriskSandbox,
    watch: CallWatch,
    pg: PgCluster,
    drill_db: str,
    new_bridge: NewBridge,
) -> None:
    bridge = new_bridge(drill_db)
    bridge.start()
    await bridge.wait_ready()
    spooled = 0.0
    with Traffic(watch, every=1.0, stay=2.0) as traffic:
        await traffic.until(3)
        await asyncio.to_thread(pg.stop, "immediate")
        try:
            down_since = asyncio.get_running_loop().time()
            placed_before = traffic.placed
            ended_before = len(watch.hung_up)
            # Calls go on ending while the database is away; their CDRs wait in the spool.
            while asyncio.get_running_loop().time() - down_since < DOWN:
                spooled = max(spooled, metric(await bridge.metrics(), "tongdai_cdr_spool_depth"))
                await asyncio.sleep(1)
            assert traffic.placed > placed_before and len(watch.hung_up) > ended_before
        finally:
            await asyncio.to_thread(pg.start)
        await traffic.until(traffic.placed + 3)
    await eventually(watch.all_ended, timeout=60, interval=0.3)
    await assert_nothing_lost_or_doubled(drill_db, asterisk_sandbox.settings.cdr.csv_path, watch, timeout=60)
    assert spooled > 0, "no CDR reached the spool: the outage proved nothing"

    async def drained() -> bool:
        return metric(await bridge.metrics(), "tongdai_cdr_spool_depth") == 0

    await eventually(drained, timeout=30, interval=0.5)
    print(f"\nPostgreSQL drill: down {DOWN:.0f} s, {len(watch.ids)} calls, up to {spooled:.0f} CDRs spooled")
