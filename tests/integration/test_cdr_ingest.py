"""CDR ingestion: idempotent on its key, spooled to disk while the database is down, drained after."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import func, select

from billing.cdr import CdrIngest
from billing.models import CdrRecord, RatedCall
from billing.rating import Rater
from billing.tariffs import BillingConfig
from core.db import create_engine, session_factory
from tests.support.cdrs import CDR
from tongdai.schema import upgrade_to_head


async def test_idempotent_and_rated(db_url: str, tmp_path: Path) -> None:
    engine = create_engine(db_url)
    await upgrade_to_head(engine)
    ingest = CdrIngest(session_factory(engine), tmp_path, "ast1", Rater(BillingConfig()))
    assert await ingest.ingest(CDR) is True
    assert await ingest.ingest(CDR) is False  # replayed: stored once
    async with session_factory(engine)() as s:
        assert await s.scalar(select(func.count()).select_from(CdrRecord)) == 1
        line = await s.scalar(select(RatedCall))
    assert line is not None
    # 1900 is premium: the caller pays, per block; 61.2 s exact, never the truncated 61.
    assert line.charged_party == "caller" and line.exact_us == 61_200_000 and line.total > 0
    await engine.dispose()


async def test_spooled_while_database_down_then_drained(tmp_path: Path) -> None:
    down = create_engine("postgresql+asyncpg://postgres@127.0.0.1:1/nowhere")
    spool = tmp_path / "spool"
    ingest = CdrIngest(session_factory(down), spool, "ast1")
    assert await ingest.ingest(CDR) is True
    assert await ingest.ingest({**CDR, "UniqueID": "ast1-1795400000.2", "Sequence": "2"}) is True
    assert ingest.spooled == 2 and (spool / "cdr-spool.jsonl").exists()
    await down.dispose()

    up = create_engine(f"sqlite+aiosqlite:///{tmp_path / 'db.sqlite'}")
    await upgrade_to_head(up)
    back = CdrIngest(session_factory(up), spool, "ast1")
    assert await back.drain_spool() == 2
    assert not (spool / "cdr-spool.jsonl").exists()
    async with session_factory(up)() as s:
        ids = set(await s.scalars(select(CdrRecord.uniqueid)))
    assert ids == {"ast1-1795400000.1", "ast1-1795400000.2"}
    await up.dispose()


async def test_rerate_reads_back_stored_times(db_url: str, tmp_path: Path) -> None:
    """`tongdai billing rerate` rates CDRs read back from the database (SQLite returns naive times)."""
    from datetime import UTC, datetime

    engine = create_engine(db_url)
    await upgrade_to_head(engine)
    ingest = CdrIngest(session_factory(engine), tmp_path, "ast1", Rater(BillingConfig()))
    assert await ingest.ingest(CDR) is True
    async with session_factory(engine)() as s:
        first = await s.scalar(select(RatedCall))
    n = await ingest.rerate(
        Rater(BillingConfig()), datetime(2026, 11, 23, tzinfo=UTC), datetime(2026, 11, 24, tzinfo=UTC)
    )
    async with session_factory(engine)() as s:
        again = list(await s.scalars(select(RatedCall)))
    assert n == 1 and first is not None and len(again) == 1
    assert again[0].total == first.total and again[0].answered_at == first.answered_at
    await engine.dispose()
