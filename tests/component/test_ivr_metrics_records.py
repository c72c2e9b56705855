"""IVR containment and drop-off recomputed from stored call records (SQLite)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

from core.db import create_engine, session_factory, unit_of_work
from core.models import CallRecord
from ivr.metrics import stats_from_records
from tongdai.schema import upgrade_to_head


async def test_stats_from_call_records(tmp_path: Path) -> None:
    engine = create_engine(f"sqlite+aiosqlite:///{tmp_path / 'm.db'}")
    await upgrade_to_head(engine)
    sessions = session_factory(engine)
    t0 = datetime(2026, 11, 23, 8, 0, tzinfo=UTC)
    rows = [
        ("a", "self_served", ["main:9", "self:3", "ss_bill", "self"], t0),
        ("b", "hung_up", ["main:4", "billing"], t0 + timedelta(minutes=1)),
        ("c", "transferred", ["main:1", "mobile:1", "mobile_fault"], t0 + timedelta(minutes=2)),
        ("d", "", [], t0 + timedelta(minutes=3)),  # no IVR (fallback)
        ("e", "hung_up", ["main"], t0 - timedelta(days=1)),  # yesterday
    ]
    async with unit_of_work(sessions) as s:
        for cid, outcome, path, at in rows:
            s.add(CallRecord(call_id=cid, ivr_outcome=outcome, ivr_path=path, started_at=at))
    today = await stats_from_records(sessions, since=t0)
    assert today.calls == 3 and today.self_served == 1
    assert round(today.containment, 3) == 0.333
    assert today.dropoff == {"billing": 1}
    everything = await stats_from_records(sessions)
    assert everything.dropoff == {"billing": 1, "main": 1} and everything.calls == 4
    await engine.dispose()
