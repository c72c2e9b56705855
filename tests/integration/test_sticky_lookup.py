"""The sticky agent's lookup (acd/sticky.py) on SQLite and PostgreSQL: the latest answered call within
the days wins, older or unanswered calls and other customers do not, and the pop's date is Vietnam's."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from acd.sticky import StickyLookup
from core.db import create_engine, session_factory, unit_of_work
from core.models import CallRecord
from tongdai.schema import upgrade_to_head

NOW = datetime(2026, 12, 3, 9, 0, tzinfo=UTC)
ME = "KH0000000001"


def row(n: int, answered: datetime | None, agent: str, customer: str = ME) -> CallRecord:
    return CallRecord(
        call_id=f"sticky-{n}",
        caller_number="0912345678",
        customer_id=customer,
        agent_id=agent if answered else "",
        started_at=(answered or NOW) - timedelta(seconds=30),
        answered_at=answered,
    )


@pytest.fixture
async def sessions(db_url: str) -> AsyncIterator[async_sessionmaker[AsyncSession]]:
    engine = create_engine(db_url)
    await upgrade_to_head(engine)
    s = session_factory(engine)
    async with unit_of_work(s) as db:
        db.add_all(
            [
                row(1, NOW - timedelta(days=31), "1003"),  # outside 30 days
                row(2, NOW - timedelta(days=10), "1001"),
                # 17:30 UTC on 27/11 is 00:30 on 28/11 in Việt Nam: the latest, and the pop says 28/11
                row(3, datetime(2026, 11, 27, 17, 30, tzinfo=UTC), "1002"),
                row(4, None, ""),  # unanswered, later still
                row(5, NOW - timedelta(hours=1), "1003", customer="KH0000000002"),  # someone else
            ]
        )
    yield s
    await engine.dispose()


async def test_the_latest_answered_call_within_the_days(sessions: async_sessionmaker[AsyncSession]) -> None:
    lookup = StickyLookup(sessions, budget=5)
    last = await lookup.last_agent(ME, 30, NOW)
    assert last is not None and last.agent_id == "1002" and last.served_on == "2026-11-28"
    assert await lookup.last_agent(ME, 4, NOW) is None  # the 1002 call is 5 days and 15½ hours old
    assert await lookup.last_agent("KH0000000009", 30, NOW) is None
    assert await lookup.last_agent("", 30, NOW) is None


async def test_a_database_that_does_not_answer_in_the_budget_costs_only_the_stage(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    lookup = StickyLookup(sessions, budget=1e-9)
    assert await lookup.last_agent(ME, 30, NOW) is None
    assert lookup.failures == 1
