"""The one audit trail: who did what to which subject (Decree 13/2023: every access to personal data).

Every package records through :class:`Audit` (a Protocol, so rules and tests need no database); the
composition root hands them the one :class:`BufferedAudit` that writes ``audit_log`` rows in the
background (:class:`AuditTrail` writes directly: commands and tests).
"""

from __future__ import annotations

import json
import logging
import os
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Protocol

from sqlalchemy import delete
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from core.config import LegalHold
from core.db import insert_rows, row_values, unit_of_work
from core.models import AuditEntry
from core.writer import Writer

log = logging.getLogger(__name__)

# Column widths of audit_log: longer values are cut rather than refused, so an audit row is never lost.
_ACTOR, _ACTION, _SUBJECT_TYPE, _SUBJECT_ID, _DETAIL = 32, 32, 32, 64, 2000


class Audit(Protocol):
    """Records one audited action. ``detail`` carries a stated reason or a short context."""

    async def __call__(
        self, actor: str, action: str, subject_type: str, subject_id: str, detail: str = ""
    ) -> None: ...


def audit_entry(actor: str, action: str, subject_type: str, subject_id: str, detail: str = "") -> AuditEntry:
    return AuditEntry(
        at=datetime.now(UTC),
        actor=actor[:_ACTOR],
        action=action[:_ACTION],
        subject_type=subject_type[:_SUBJECT_TYPE],
        subject_id=subject_id[:_SUBJECT_ID],
        detail=detail[:_DETAIL],
    )


class AuditTrail:
    """Writes each audited action as one ``audit_log`` row in its own unit of work."""

    def __init__(self, sessions: async_sessionmaker[AsyncSession]) -> None:
        self._sessions = sessions

    async def __call__(
        self, actor: str, action: str, subject_type: str, subject_id: str, detail: str = ""
    ) -> None:
        async with unit_of_work(self._sessions) as s:
            s.add(audit_entry(actor, action, subject_type, subject_id, detail))


class BufferedAudit:
    """The node's audit trail: rows go through a background :class:`Writer`, batched and retried
    through a locked SQLite file or a PostgreSQL outage (a ``profile.pop`` row was lost to "database
    is locked" under load). A caller waits at most ``wait`` seconds for its row (so a request that
    audits still normally sees it written); past that the row stays queued and is still written.
    Rows the database refuses for good, or unwritten at shutdown, go to ``dead_letter``."""

    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        *,
        dead_letter: Path | None = None,
        wait: float = 2.0,
    ) -> None:
        self._sessions = sessions
        self.dead_letter = dead_letter
        self._wait = wait
        self.writer: Writer[AuditEntry] = Writer("audit", self._write, on_failed=self._spill)

    def start(self) -> None:
        self.writer.start()

    async def stop(self, timeout: float = 10.0) -> None:
        await self.writer.stop(timeout)

    async def __call__(
        self, actor: str, action: str, subject_type: str, subject_id: str, detail: str = ""
    ) -> None:
        entry = audit_entry(actor, action, subject_type, subject_id, detail)
        if not await self.writer.write(entry, timeout=self._wait):
            log.warning("audit row %s on %s queued, not yet written", action, subject_id)

    async def _write(self, batch: Sequence[AuditEntry]) -> None:
        async with unit_of_work(self._sessions) as s:  # values, not the objects: retries reuse nothing
            await insert_rows(s, AuditEntry, [row_values(e) for e in batch])

    def _spill(self, entry: AuditEntry, err: BaseException | None) -> None:
        if self.dead_letter is None:
            log.error("audit row %s %s not written (%s): lost", entry.action, entry.subject_id, err)
            return
        self.dead_letter.parent.mkdir(parents=True, exist_ok=True)
        row = {
            c: getattr(entry, c) for c in ("at", "actor", "action", "subject_type", "subject_id", "detail")
        }
        with open(self.dead_letter, "a", encoding="utf-8") as f:
            f.write(
                json.dumps({**row, "error": str(err or "shutdown")}, default=str, ensure_ascii=False) + "\n"
            )
            f.flush()
            os.fsync(f.fileno())


async def purge_audit(sessions: async_sessionmaker[AsyncSession], cutoff: datetime, hold: LegalHold) -> int:
    """Delete audit rows older than ``cutoff``, except those about a customer or call under legal hold."""
    held = [*hold.customers, *hold.calls]
    async with unit_of_work(sessions) as s:
        q = delete(AuditEntry).where(AuditEntry.at < cutoff)
        if held:
            q = q.where(AuditEntry.subject_id.not_in(held))
        result = await s.execute(q)
    return int(getattr(result, "rowcount", 0) or 0)
