"""The one audit trail: who did what to which subject (Decree 13/2023: every access to personal data).

Every package records through :class:`Audit` (a Protocol, so rules and tests need no database); the
composition root hands them the one :class:`AuditTrail` that writes ``audit_log`` rows.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Protocol

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from core.db import unit_of_work
from core.models import AuditEntry

# Column widths of audit_log: longer values are cut rather than refused, so an audit row is never lost.
_ACTOR, _ACTION, _SUBJECT_TYPE, _SUBJECT_ID, _DETAIL = 32, 32, 32, 64, 2000


class Audit(Protocol):
    """Records one audited action. ``detail`` carries a stated reason or a short context."""

    async def __call__(
        self, actor: str, action: str, subject_type: str, subject_id: str, detail: str = ""
    ) -> None: ...


class AuditTrail:
    """Writes each audited action as one ``audit_log`` row in its own unit of work."""

    def __init__(self, sessions: async_sessionmaker[AsyncSession]) -> None:
        self._sessions = sessions

    async def __call__(
        self, actor: str, action: str, subject_type: str, subject_id: str, detail: str = ""
    ) -> None:
        async with unit_of_work(self._sessions) as s:
            s.add(
                AuditEntry(
                    at=datetime.now(UTC),
                    actor=actor[:_ACTOR],
                    action=action[:_ACTION],
                    subject_type=subject_type[:_SUBJECT_TYPE],
                    subject_id=subject_id[:_SUBJECT_ID],
                    detail=detail[:_DETAIL],
                )
            )
