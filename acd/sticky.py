"""The sticky agent: who answered this customer's last call within N days (from the ``calls`` table).

Read by the IVR while it hands the caller to the queue (ivr/agi_route.py), within a short budget of its
own: a slow database costs the caller the sticky stage, never their time.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from core.models import CallRecord
from core.vietnam import VN_TZ

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class LastAgent:
    agent_id: str
    answered_at: datetime

    @property
    def served_on(self) -> str:
        """The Vietnam date of that call, ISO (the pop shows it as 28/11)."""
        return self.answered_at.astimezone(VN_TZ).date().isoformat()


class StickyLookup:
    def __init__(self, sessions: async_sessionmaker[AsyncSession], *, budget: float = 0.3) -> None:
        self._sessions = sessions
        self._budget = budget
        self.lookups = 0
        self.failures = 0

    async def last_agent(self, customer_id: str, days: int, now: datetime) -> LastAgent | None:
        """The agent of the customer's latest answered call since ``now - days``, or None (also when
        the database does not answer within the budget)."""
        if not customer_id:
            return None
        self.lookups += 1
        try:
            since = (now - timedelta(days=days)).astimezone(UTC)
            async with asyncio.timeout(self._budget):
                return await self._query(customer_id, since)
        except Exception as err:  # a timeout or a database error: no sticky stage, the call goes on
            self.failures += 1
            log.warning("sticky agent of %s not looked up: %r", customer_id, err)
            return None

    async def _query(self, customer_id: str, since: datetime) -> LastAgent | None:
        stmt = (
            select(CallRecord.agent_id, CallRecord.answered_at)
            .where(
                CallRecord.customer_id == customer_id,
                CallRecord.agent_id != "",
                CallRecord.answered_at.is_not(None),
                CallRecord.answered_at >= since,
            )
            .order_by(CallRecord.answered_at.desc())
            .limit(1)
        )
        async with self._sessions() as s:
            row = (await s.execute(stmt)).first()
        if row is None or row[1] is None:
            return None
        # SQLite hands back the stored UTC time without its zone.
        answered = row[1] if row[1].tzinfo is not None else row[1].replace(tzinfo=UTC)
        return LastAgent(str(row[0]), answered)
