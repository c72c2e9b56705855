"""The call store's batch upsert on SQLite and PostgreSQL: a replayed ``call.ended`` is no duplicate,
a later record with a value replaces the stored one, and one that knows less (a call adopted mid-way
after a restart or a takeover) does not erase what the record rebuilt from its CDRs holds."""

from __future__ import annotations

import time
from datetime import UTC, datetime

from sqlalchemy import func, select

from core.call_store import CallStore
from core.db import create_engine, session_factory, unit_of_work
from core.models import CallRecord
from tongdai.schema import upgrade_to_head


async def test_upsert_keeps_what_a_later_record_does_not_know(db_url: str) -> None:
    engine = create_engine(db_url)
    await upgrade_to_head(engine)
    sessions = session_factory(engine)
    now = time.time()
    async with unit_of_work(sessions) as s:  # as billing/recovered_calls.py writes it, from the CDRs
        s.add(
            CallRecord(
                call_id="c-1",
                caller_number="+84912345678",
                queue="mobile",
                agent_id="1001",
                started_at=datetime.fromtimestamp(now - 60, UTC),
                answered_at=datetime.fromtimestamp(now - 50, UTC),
                disposition="answered",
                recovered=True,
            )
        )
    store = CallStore(sessions)
    store.writer.start()
    try:
        # The adopting node's tracker saw only the end: no queue, agent or answer time.
        adopted = {"caller_number": "+84912345678", "started_at": now - 30, "ended_at": now}
        store.writer.submit(("c-1", adopted))
        store.writer.submit(("c-1", adopted))  # replayed: still one row
        store.writer.submit(("c-2", {"caller_number": "+84911111111", "queue": "tv", "started_at": now}))
        assert await store.writer.flush(10)
        store.writer.submit(("c-2", {"caller_number": "+84911111111", "queue": "care", "started_at": now}))
        assert await store.writer.flush(10)
    finally:
        await store.stop()
    async with sessions() as s:
        assert await s.scalar(select(func.count()).select_from(CallRecord)) == 2
        one = await s.get(CallRecord, "c-1")
        two = await s.get(CallRecord, "c-2")
    assert one is not None and two is not None
    assert (one.queue, one.agent_id, one.disposition) == ("mobile", "1001", "answered")
    assert one.answered_at is not None and one.ended_at is not None  # kept, and the new end added
    assert two.queue == "care"  # a value replaces the stored one
    await engine.dispose()
