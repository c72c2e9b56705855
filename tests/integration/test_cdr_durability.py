"""CDRs survive every database failure: a real PostgreSQL killed and restarted mid-traffic (pooled
connections cut without goodbye, then connections refused), a rating failure, and a CDR the schema
refuses. Each CDR ends up stored exactly once, or set aside with its reason; none is lost."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator
from pathlib import Path

import asyncpg
import pytest
from sqlalchemy import func, select

from billing.cdr import CdrIngest
from billing.models import CdrRecord, RatedCall
from billing.rating import CallToRate, RatedLine, Rater
from billing.tariffs import BillingConfig
from core.bus import BusEvent, LocalBus
from core.db import create_engine, session_factory
from tests.support.cdrs import cdr
from tests.support.pg_cluster import PgCluster, pg_cluster
from tongdai.schema import upgrade_to_head

pytestmark = pytest.mark.postgres


@pytest.fixture
def cluster() -> Iterator[PgCluster]:
    with pg_cluster() as c:
        c.create_database("cdrs")
        yield c


async def test_postgresql_killed_and_restarted_mid_traffic_loses_no_cdr(
    cluster: PgCluster, tmp_path: Path
) -> None:
    engine = create_engine(cluster.url("cdrs"))
    await upgrade_to_head(engine)
    ingest = CdrIngest(session_factory(engine), tmp_path / "spool", "ast1", Rater(BillingConfig()))
    for n in range(20):
        assert await ingest.ingest(cdr(n)) is True
    assert ingest.stored == 20 and ingest.spooled == 0

    # Killed while an INSERT is in flight (held behind a lock so the moment is certain): asyncpg
    # reports that as a bare DBAPIError, which must spool like a refused connection does.
    blocker = await asyncpg.connect(cluster.admin_dsn.rsplit("/", 1)[0] + "/cdrs")
    await blocker.execute("BEGIN; LOCK TABLE cdrs IN ACCESS EXCLUSIVE MODE")
    in_flight = asyncio.create_task(ingest.ingest(cdr(20)))

    async def insert_waiting() -> bool:
        # Any session waiting on a lock but the blocker's: the ingest's INSERT. Not by its query text:
        # while asyncpg prepares the statement, pg_stat_activity still shows "BEGIN;" (the test flaked).
        q = "SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock' AND pid <> pg_backend_pid()"
        return bool(await blocker.fetchval(q))

    for _ in range(200):
        if await insert_waiting():
            break
        await asyncio.sleep(0.05)
    else:
        raise AssertionError("the INSERT never waited on the lock")
    await asyncio.to_thread(cluster.stop, "immediate")  # the pool's connections are now dead sockets
    assert await in_flight is True
    assert ingest.spooled == 1 and ingest.stored == 20
    blocker.terminate()
    for n in range(21, 40):
        assert await ingest.ingest(cdr(n)) is True
    assert ingest.spooled == 20 and ingest.quarantined == 0
    spool = tmp_path / "spool" / "cdr-spool.jsonl"
    assert len(spool.read_text(encoding="utf-8").splitlines()) == 20

    cluster.start()
    for n in range(40, 60):  # the first one drains the spool, in order, before it is stored
        assert await ingest.ingest(cdr(n)) is True
    assert not spool.exists()
    async with session_factory(engine)() as s:
        keys = list(await s.scalars(select(CdrRecord.uniqueid)))
        rated = await s.scalar(select(func.count()).select_from(RatedCall))
    assert sorted(keys) == sorted(f"ast1-1795400000.{n}" for n in range(60))  # each once, none lost
    assert rated == 60
    await engine.dispose()


class _BrokenRater(Rater):
    """A rater with a bug (not an unratable call): it must not cost the CDR."""

    def rate(self, call: CallToRate) -> RatedLine:
        raise RuntimeError("tariff table corrupted")


async def test_rating_failure_stores_the_cdr_and_rates_it_later(db_url: str, tmp_path: Path) -> None:
    engine = create_engine(db_url)
    await upgrade_to_head(engine)
    sessions = session_factory(engine)
    broken = CdrIngest(sessions, tmp_path, "ast1", _BrokenRater(BillingConfig()))
    assert await broken.ingest(cdr(1)) is True
    assert broken.stored == 1 and broken.unratable == 1 and broken.spooled == 0
    async with sessions() as s:
        assert await s.scalar(select(func.count()).select_from(CdrRecord)) == 1
        assert await s.scalar(select(func.count()).select_from(RatedCall)) == 0

    fixed = CdrIngest(sessions, tmp_path, "ast1", Rater(BillingConfig()))
    assert await fixed.rate_pending() == 1
    assert await fixed.rate_pending() == 0  # nothing left to rate
    async with sessions() as s:
        line = await s.scalar(select(RatedCall))
    assert line is not None and line.exact_us == 61_200_000 and line.total > 0
    await engine.dispose()


async def test_a_cdr_the_schema_refuses_is_quarantined_not_blocking(pg_url: str, tmp_path: Path) -> None:
    engine = create_engine(pg_url)
    await upgrade_to_head(engine)
    ingest = CdrIngest(session_factory(engine), tmp_path, "ast1", Rater(BillingConfig()))
    bad = {**cdr(1), "UniqueID": "x" * 100}  # wider than the column: PostgreSQL refuses the value
    assert await ingest.ingest(bad) is True
    assert ingest.quarantined == 1 and ingest.spooled == 0
    kept = [json.loads(x) for x in ingest.quarantine_path.read_text(encoding="utf-8").splitlines()]
    assert json.loads(kept[0]["line"])["headers"]["UniqueID"] == "x" * 100 and kept[0]["error"]
    assert await ingest.ingest(cdr(2)) is True  # the next CDR is not held up
    async with session_factory(engine)() as s:
        assert list(await s.scalars(select(CdrRecord.uniqueid))) == ["ast1-1795400000.2"]
    await engine.dispose()


async def test_cdrs_from_the_bus_survive_postgresql_stopped_and_restarted(
    cluster: PgCluster, tmp_path: Path
) -> None:
    """The node's path: cdr.posted on the bus → the CDR writer → ingest. PostgreSQL is killed and later
    restarted while CDRs keep arriving; the spool is drained once it is back, with no new CDR needed."""
    engine = create_engine(cluster.url("cdrs"))
    await upgrade_to_head(engine)
    bus = LocalBus()
    ingest = CdrIngest(session_factory(engine), tmp_path / "spool", "ast1", Rater(BillingConfig()))
    ingest.attach(bus)
    ingest.start(retry_spool_every=0.2)
    try:

        def post(n: int) -> None:
            bus.publish(BusEvent("cdr.posted", f"ast1-1795400000.{n}", cdr(n)))

        for n in range(30):
            post(n)
            if n == 10:
                await asyncio.sleep(0.2)
                await asyncio.to_thread(cluster.stop, "immediate")  # mid-traffic, connections cut
            await asyncio.sleep(0.01)
        await bus.drain()
        assert ingest.spool_depth > 0  # the outage's CDRs wait on disk
        for n in range(30, 40):  # and a replay of CDRs already stored or spooled: never doubled
            post(n % 35)
        await bus.drain()
        await asyncio.to_thread(cluster.start)
        for _ in range(100):
            if ingest.spool_depth == 0:
                break
            await asyncio.sleep(0.1)
        assert ingest.spool_depth == 0 and ingest.quarantined == 0
        async with session_factory(engine)() as s:
            keys = list(await s.scalars(select(CdrRecord.uniqueid)))
        assert sorted(keys) == sorted(f"ast1-1795400000.{n}" for n in range(35))  # each once, none lost
    finally:
        await ingest.stop()
        await bus.close()
        await engine.dispose()
