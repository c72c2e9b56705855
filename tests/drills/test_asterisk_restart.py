"""Drill: Asterisk restarts under traffic. The calls it drops are closed and recorded once (the
tracker's resync ends them as ``recovered``), every CDR it wrote is stored once, the bridge
reconnects, logs its agents back in, and later calls are tracked and recorded in full."""

from __future__ import annotations

import asyncio
import subprocess

import pytest

from tests.asterisk.conftest import SANDBOX, AsteriskSandbox, eventually
from tests.drills.conftest import (
    CallWatch,
    NewBridge,
    Traffic,
    assert_nothing_lost_or_doubled,
    call_rows,
)

pytestmark = [pytest.mark.drills, pytest.mark.asterisk, pytest.mark.postgres]


async def test_asterisk_restart_under_traffic(
    asterisk_sandbox: AsteriskSandbox, watch: CallWatch, drill_db: str, new_bridge: NewBridge
) -> None:
    bridge = new_bridge(drill_db)
    bridge.start()
    await bridge.wait_ready()
    with Traffic(watch, every=0.8, stay=4.0) as traffic:
        await traffic.until(4)
        before = set(watch.ids)
        await asyncio.to_thread(subprocess.run, [str(SANDBOX), "restart"], check=True, timeout=120)
        # Every channel died with the old Asterisk: no Hangup will come for them.
        for cid in before:
            watch.hung_up.add(cid)
        await watch.ami.wait_connected(60)
        await watch.ami.wait_booted(60)
        await bridge.wait_ready(idle_agents=False)
        # Calls placed while the bridge was still reconnecting are only adopted by its re-sync
        # (marked recovered, checked for loss below); from here on each is seen from its start.
        settled = set(watch.ids)
        after = traffic.placed
        await traffic.until(after + 4)
    await eventually(watch.all_ended, timeout=60, interval=0.3)
    watch.forget_unseen()
    await assert_nothing_lost_or_doubled(drill_db, asterisk_sandbox.settings.cdr.csv_path, watch, timeout=60)
    later = [c for c in watch.ids if c not in settled]
    assert len(later) >= 4
    rows = await call_rows(drill_db, set(later))
    # Later calls are tracked from their start: IVR facts, queue, agent, nothing approximate.
    assert all(not r.recovered and r.ivr_path and r.queue for r in rows.values()), [
        (r.call_id, r.recovered, r.ivr_path, r.queue, r.disposition) for r in rows.values()
    ]
    answered = [r for r in rows.values() if r.disposition == "answered"]
    assert answered and all(r.agent_id for r in answered)
    print(f"\nAsterisk restart drill: {len(before)} calls cut, {len(later)} after, all recorded once")
