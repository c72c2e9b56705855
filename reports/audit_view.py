"""Reading the audit trail (core/audit.py writes it): who viewed or unmasked which customer, played
which recording, changed which campaign — filtered by period, person, kind, action and subject, newest
first, and as CSV. Reading it is itself audited (``audit.view`` / ``audit.export``) by the HTTP edge.
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass
from datetime import UTC, date
from typing import Any

from sqlalchemy import Select, func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from billing.export import neutralise
from core.models import AuditEntry
from reports.service_level import day_start_utc

# What a data-protection officer asks about, as action prefixes of the trail.
KINDS: dict[str, tuple[str, ...]] = {
    "customer": ("profile.", "customer.", "access."),  # pops, views, unmasks, searches, bulk alerts
    "recording": ("recording.",),
    "campaign": ("campaign.",),
    "auth": ("auth.",),
    "quality": ("quality.",),
    "audit": ("audit.",),
}
COLUMNS = ("at", "actor", "action", "subject_type", "subject_id", "detail")


@dataclass(frozen=True)
class AuditFilter:
    since: date
    until: date  # exclusive
    actor: str | None = None
    kind: str | None = None
    action: str | None = None
    subject_id: str | None = None


def _query(f: AuditFilter) -> Select[Any]:
    a = AuditEntry
    q = select(a).where(a.at >= day_start_utc(f.since), a.at < day_start_utc(f.until))
    if f.actor:
        q = q.where(a.actor == f.actor)
    if f.kind:
        q = q.where(or_(*(a.action.startswith(p, autoescape=True) for p in KINDS[f.kind])))
    if f.action:
        q = q.where(a.action == f.action)
    if f.subject_id:
        q = q.where(a.subject_id == f.subject_id)
    return q


def entry_json(e: AuditEntry) -> dict[str, Any]:
    at = e.at if e.at.tzinfo else e.at.replace(tzinfo=UTC)
    return {
        "id": e.id,
        "at": at.isoformat(),
        "actor": e.actor,
        "action": e.action,
        "subject_type": e.subject_type,
        "subject_id": e.subject_id,
        "detail": e.detail,
    }


async def search(
    sessions: async_sessionmaker[AsyncSession], f: AuditFilter, *, limit: int
) -> tuple[list[dict[str, Any]], int]:
    """The newest ``limit`` matching rows and how many matched in all."""
    q = _query(f)
    async with sessions() as s:
        total = int(await s.scalar(select(func.count()).select_from(q.subquery())) or 0)
        rows = await s.scalars(q.order_by(AuditEntry.at.desc(), AuditEntry.id.desc()).limit(limit))
        return [entry_json(e) for e in rows], total


def to_csv(entries: list[dict[str, Any]]) -> bytes:
    out = io.StringIO()
    w = csv.writer(out)
    w.writerow(COLUMNS)
    for e in entries:
        w.writerow([e["at"], *(neutralise(str(e[c])) for c in COLUMNS[1:])])
    return ("\ufeff" + out.getvalue()).encode("utf-8")


def is_viewer(agent_id: str, supervisor: bool, viewers: list[str]) -> bool:
    return supervisor or agent_id in viewers
