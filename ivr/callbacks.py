"""Callback requests: written to ``callback_requests`` while the caller is still on the line.

The row is the record (the bus event ``callback.requested`` only tells live listeners), so a request
survives a restart or a missed event. Agents or a dialler work the ``pending`` rows.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from core.db import unit_of_work
from ivr.models import CallbackRequest


@dataclass(frozen=True)
class CallbackView:
    id: int
    number: str
    customer_id: str | None
    call_id: str
    requested_at: datetime
    status: str


def _view(r: CallbackRequest) -> CallbackView:
    at = r.requested_at if r.requested_at.tzinfo else r.requested_at.replace(tzinfo=UTC)  # SQLite: naive
    return CallbackView(r.id, r.number, r.customer_id, r.call_id, at, r.status)


class CallbackStore:
    def __init__(self, sessions: async_sessionmaker[AsyncSession]) -> None:
        self._sessions = sessions

    async def record(self, number: str, customer_id: str | None, call_id: str) -> int:
        """Store one request; returns its id."""
        row = CallbackRequest(
            number=number,
            customer_id=customer_id,
            call_id=call_id,
            requested_at=datetime.now(UTC),
            status="pending",
        )
        async with unit_of_work(self._sessions) as s:
            s.add(row)
            await s.flush()
            return row.id

    async def pending(self, limit: int = 100) -> list[CallbackView]:
        async with self._sessions() as s:
            rows = await s.scalars(
                select(CallbackRequest)
                .where(CallbackRequest.status == "pending")
                .order_by(CallbackRequest.requested_at)
                .limit(limit)
            )
            return [_view(r) for r in rows]
