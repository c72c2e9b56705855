"""Outage notices in the database (``outage_notices``): post, expire, list, the live ones for the IVR,
and the count of callers who heard each.

A notice is checked when posted: its area must be one the customers' addresses hold (a province some
customer has, compared folded; or an area of the configured ``ivr.outages`` map), it must end after it
starts and after now, and last at most :data:`MAX_DAYS`. Expiring keeps the row (who, when); a notice
already expired or already ended cannot be expired again (409).
"""

from __future__ import annotations

import time
from collections import Counter as Tally
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, Literal

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from core.db import unit_of_work
from core.errors import BadRequest, Conflict, NotFound
from core.vietnam import VN_TZ
from crm_bridge.models import Customer
from ivr.models import OutageNotice
from ivr.outages import area_key

MAX_DAYS = 31
KNOWN_AREAS_TTL = 60.0  # seconds the distinct provinces are kept before they are read again
State = Literal["active", "upcoming", "all"]


class UnknownArea(BadRequest):
    error_id = "outage.unknown_area"


class BadPeriod(BadRequest):
    error_id = "outage.bad_period"


class NoticeNotFound(NotFound):
    error_id = "outage.not_found"


class AlreadyOver(Conflict):
    error_id = "outage.already_over"


def as_vietnam(t: datetime) -> datetime:
    """A time without a zone is Việt Nam's (what a person in the NOC means by "17:00")."""
    return t.replace(tzinfo=VN_TZ) if t.tzinfo is None else t


def _aware(t: datetime) -> datetime:
    # SQLite hands DateTime(timezone=True) back naive (the UTC we stored); PostgreSQL aware.
    return t.replace(tzinfo=UTC) if t.tzinfo is None else t


@dataclass(frozen=True)
class NoticeView:
    """One notice as the API and the IVR see it."""

    id: int
    area: str
    area_key: str
    message_vi: str
    message_en: str | None
    starts_at: datetime
    ends_at: datetime
    created_by: str
    created_at: datetime
    expired_at: datetime | None
    expired_by: str | None
    heard: int

    @classmethod
    def of(cls, r: OutageNotice) -> NoticeView:
        return cls(
            r.id,
            r.area,
            r.area_key,
            r.message_vi,
            r.message_en,
            _aware(r.starts_at),
            _aware(r.ends_at),
            r.created_by,
            _aware(r.created_at),
            _aware(r.expired_at) if r.expired_at else None,
            r.expired_by,
            r.heard,
        )

    def state(self, now: datetime) -> str:
        if self.expired_at is not None:
            return "expired"
        if now >= self.ends_at:
            return "ended"
        return "active" if now >= self.starts_at else "upcoming"

    def to_json(self, now: datetime) -> dict[str, Any]:
        return {
            "id": self.id,
            "area": self.area,
            "area_key": self.area_key,
            "message_vi": self.message_vi,
            "message_en": self.message_en,
            "starts_at": self.starts_at.isoformat(),
            "ends_at": self.ends_at.isoformat(),
            "state": self.state(now),
            "created_by": self.created_by,
            "created_at": self.created_at.isoformat(),
            "expired_at": self.expired_at.isoformat() if self.expired_at else None,
            "expired_by": self.expired_by,
            "heard": self.heard,
        }


class OutageStore:
    """``extra_areas``: areas known beside the customers' provinces (the configured map's)."""

    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        *,
        extra_areas: Iterable[str] = (),
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self.sessions = sessions
        self.clock = clock
        self._extra = {area_key(a): a for a in extra_areas if area_key(a)}
        self._areas: dict[str, str] = {}
        self._areas_read = -KNOWN_AREAS_TTL

    async def known_areas(self) -> dict[str, str]:
        """Folded area → a spelling of it: every customer's province, and the configured areas."""
        if time.monotonic() - self._areas_read >= KNOWN_AREAS_TTL:
            async with self.sessions() as s:
                provinces = (await s.scalars(select(Customer.province).distinct())).all()
            self._areas = {area_key(p): p for p in provinces if p and area_key(p)}
            self._areas_read = time.monotonic()
        return {**self._extra, **self._areas}

    async def create(
        self,
        area: str,
        message_vi: str,
        *,
        message_en: str | None,
        starts_at: datetime | None,
        ends_at: datetime,
        by: str,
    ) -> NoticeView:
        now = self.clock()
        area = " ".join(area.split())
        key = area_key(area)
        if not key:
            raise UnknownArea("give an area: a province as the customers' addresses hold it")
        known = await self.known_areas()
        if key not in known:
            some = ", ".join(sorted(known.values())[:12]) or "none yet: import customers first"
            raise UnknownArea(f"no customer's address is in {area!r} (known areas: {some})")
        start = as_vietnam(starts_at) if starts_at is not None else now
        end = as_vietnam(ends_at)
        if end <= now:
            raise BadPeriod(f"ends_at ({end.isoformat()}) is already past: nothing to tell callers")
        if end <= start:
            raise BadPeriod(f"ends_at ({end.isoformat()}) must be after starts_at ({start.isoformat()})")
        if end - start > timedelta(days=MAX_DAYS):
            raise BadPeriod(f"a notice lasts at most {MAX_DAYS} days: post a new one when it runs out")
        row = OutageNotice(
            area=known[key],  # as the customers' addresses spell it ("ha noi" → "Hà Nội")
            area_key=key,
            message_vi=message_vi,
            message_en=message_en or None,
            starts_at=start.astimezone(UTC),
            ends_at=end.astimezone(UTC),
            created_by=by[:32],
            created_at=now,
            heard=0,
        )
        async with unit_of_work(self.sessions) as s:
            s.add(row)
            await s.flush()
            view = NoticeView.of(row)
        return view

    async def expire(self, notice_id: int, by: str) -> NoticeView:
        now = self.clock()
        async with unit_of_work(self.sessions) as s:
            # One compare-and-set: of two people expiring at once, one wins and the other is told.
            done = await s.execute(
                update(OutageNotice)
                .where(
                    OutageNotice.id == notice_id,
                    OutageNotice.expired_at.is_(None),
                    OutageNotice.ends_at > now,
                )
                .values(expired_at=now, expired_by=by[:32])
            )
            row = await s.get(OutageNotice, notice_id, populate_existing=True)
            if row is None:
                raise NoticeNotFound(f"no outage notice {notice_id}")
            view = NoticeView.of(row)
            if getattr(done, "rowcount", 0) != 1:
                if view.expired_at is not None:
                    raise AlreadyOver(f"outage notice {notice_id} was already expired by {view.expired_by}")
                raise AlreadyOver(f"outage notice {notice_id} already ended at {view.ends_at.isoformat()}")
            return view

    async def listing(self, state: State) -> list[NoticeView]:
        """``active``: in force now; ``upcoming``: to start; ``all``: every notice, newest first."""
        now = self.clock()
        q = select(OutageNotice).order_by(OutageNotice.starts_at.desc(), OutageNotice.id.desc())
        if state != "all":
            q = q.where(OutageNotice.expired_at.is_(None), OutageNotice.ends_at > now)
            q = q.where(OutageNotice.starts_at <= now if state == "active" else OutageNotice.starts_at > now)
        async with self.sessions() as s:
            return [NoticeView.of(r) for r in await s.scalars(q)]

    async def live(self) -> list[NoticeView]:
        """Not expired, not ended: in force now or to start (the IVR decides per call)."""
        now = self.clock()
        q = select(OutageNotice).where(OutageNotice.expired_at.is_(None), OutageNotice.ends_at > now)
        async with self.sessions() as s:
            return [NoticeView.of(r) for r in await s.scalars(q.order_by(OutageNotice.id))]

    async def add_heard(self, counts: Tally[int]) -> None:
        """Add callers who heard each notice (an increment, so every node's counts add up)."""
        if not counts:
            return
        async with unit_of_work(self.sessions) as s:
            for notice_id, n in sorted(counts.items()):
                await s.execute(
                    update(OutageNotice)
                    .where(OutageNotice.id == notice_id)
                    .values(heard=OutageNotice.heard + n)
                )
