"""Repeat contacts and first-contact resolution per owner, from the ``calls`` table.

tongdai knows one customer across all their numbers (one permanent customer ID), so it can tell that
the same *owner* came back, from any of their numbers, which no queue-based report can. Definitions
(written on the report as they are here):

* a **contact** is a call that reached the IVR, counted on the Asia/Ho_Chi_Minh day it started; its
  **owner** is the identified customer ID, else the caller's number (an unidentified caller who calls
  again from the same phone is the same person as far as we can tell); anonymous calls are left out;
* a contact is **repeated** when the same owner contacts the centre again within ``window`` after it
  (strictly after it started, at most ``window`` later), optionally about the same **topic**: the
  queue it was routed to (``queue``), its IVR path (``ivr_path``) or the agent's disposition code
  (``disposition``);
* a contact is **pending** while its window is still open (it may yet be repeated): pending contacts
  are counted, but left out of FCR and the repeat rate;
* **FCR** = answered contacts whose window closed without a repeat / answered contacts whose window
  closed; **repeat rate** = repeated / contacts whose window closed (answered or not: a caller who
  gave up and called back counts against the first contact).

One SQL query per report: ``LEAD`` over the owner's contacts (and topic) finds each contact's next one
in ``[since, until + window)``, and the grouping by day, queue, tier and agent is done in SQL too.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any, Literal

from sqlalchemy import Float, Integer, String, and_, case, cast, func, literal, select, union_all
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from sqlalchemy.orm import InstrumentedAttribute
from sqlalchemy.sql.elements import ColumnElement

from core.models import CallRecord
from reports.service_level import BadPeriod, day_start_utc
from webchat.models import ChatTranscript

Topic = Literal["none", "queue", "ivr_path", "disposition"]

DEFINITIONS = {
    "contacts": "calls that reached the IVR and web chats, on the Asia/Ho_Chi_Minh day they started,"
    " owner known",
    "repeated": "contacts followed by another contact of the same owner (and topic) within the window",
    "pending": "contacts whose window has not closed yet: not counted in FCR or the repeat rate",
    "fcr": "answered contacts not repeated within the window / answered contacts whose window closed",
    "repeat_rate": "repeated contacts / contacts whose window closed",
}


@dataclass
class RepeatFigures:
    contacts: int = 0
    answered: int = 0
    closed: int = 0  # window closed
    answered_closed: int = 0
    repeated: int = 0
    answered_repeated: int = 0

    @property
    def pending(self) -> int:
        return self.contacts - self.closed

    @property
    def fcr(self) -> float | None:
        return 1 - self.answered_repeated / self.answered_closed if self.answered_closed else None

    @property
    def repeat_rate(self) -> float | None:
        return self.repeated / self.closed if self.closed else None

    def add(self, other: RepeatFigures) -> None:
        for name in ("contacts", "answered", "closed", "answered_closed", "repeated", "answered_repeated"):
            setattr(self, name, getattr(self, name) + getattr(other, name))

    def to_json(self) -> dict[str, Any]:
        return {
            "contacts": self.contacts,
            "answered": self.answered,
            "pending": self.pending,
            "repeated": self.repeated,
            "fcr": self.fcr,
            "repeat_rate": self.repeat_rate,
        }


@dataclass
class RepeatReport:
    since: date
    until: date
    window_days: float
    topic: Topic
    total: RepeatFigures = field(default_factory=RepeatFigures)
    days: dict[date, RepeatFigures] = field(default_factory=dict)
    queues: dict[str, RepeatFigures] = field(default_factory=dict)
    tiers: dict[str, RepeatFigures] = field(default_factory=dict)
    agents: dict[str, RepeatFigures] = field(default_factory=dict)
    topics: dict[str, RepeatFigures] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        def group(d: dict[Any, RepeatFigures]) -> dict[str, Any]:
            return {str(k): v.to_json() for k, v in sorted(d.items(), key=lambda kv: str(kv[0]))}

        return {
            "since": self.since.isoformat(),
            "until": self.until.isoformat(),
            "window_days": self.window_days,
            "topic": self.topic,
            "definitions": DEFINITIONS,
            "total": self.total.to_json(),
            "days": group(self.days),
            "queues": group(self.queues),
            "tiers": group(self.tiers),
            "agents": group(self.agents),
            "topics": group(self.topics),
        }


def _topic_column(topic: Topic) -> ColumnElement[str] | InstrumentedAttribute[str]:
    c = CallRecord
    if topic == "queue":
        return c.queue
    if topic == "ivr_path":
        return c.ivr_path_text
    if topic == "disposition":
        from crm_bridge.models import Interaction  # only this topic needs the agents' disposition codes

        code = select(func.max(Interaction.disposition)).where(Interaction.call_id == c.call_id)
        return func.coalesce(code.scalar_subquery(), literal(""))
    return literal("")


def _contacts(topic: Topic, lo: datetime, hi: datetime) -> Any:
    """Every contact of both channels started in ``[lo, hi)`` whose owner is known: calls and web chats.

    The owner is the customer ID, else the number (a chat's typed E.164 number in the calls' national
    form, so a caller who then chats from the same phone is the same owner). A chat's topic is its
    queue or its disposition; it has no IVR path. A chat nobody answered counts as abandoned.
    """
    c, t = CallRecord, ChatTranscript
    call_owner = func.coalesce(func.nullif(c.customer_id, ""), func.nullif(c.caller_number, ""))
    calls = select(
        call_owner.label("owner"),
        _topic_column(topic).label("topic"),
        c.started_at.label("started_at"),
        c.queue.label("queue"),
        c.acd_tier.label("acd_tier"),
        c.agent_id.label("agent_id"),
        case((c.answered_at.is_not(None), 1), else_=0).label("answered"),
        c.ivr_path_text.label("ivr_path"),
        c.disposition.label("disposition"),
        c.call_id.label("contact_id"),
        c.customer_id.label("customer_id"),
        c.caller_number.label("number"),
    ).where(c.started_at >= lo, c.started_at < hi, call_owner.is_not(None))
    national = case(
        (t.phone.like("+84%"), literal("0", String).concat(func.substr(t.phone, 4))),
        else_=func.nullif(t.phone, ""),
    )
    chat_owner = func.coalesce(func.nullif(t.customer_id, ""), national)
    chat_topic: Any = {"queue": t.queue, "disposition": func.coalesce(t.disposition, literal(""))}.get(
        topic, literal("")
    )
    chats = select(
        chat_owner.label("owner"),
        chat_topic.label("topic"),
        t.started_at.label("started_at"),
        t.queue.label("queue"),
        t.acd_tier.label("acd_tier"),
        t.agent_id.label("agent_id"),
        case((t.answered_at.is_not(None), 1), else_=0).label("answered"),
        literal("", String).label("ivr_path"),
        case(
            (t.answered_at.is_(None), literal("abandoned", String)), else_=func.coalesce(t.disposition, "")
        ).label("disposition"),
        t.chat_id.label("contact_id"),
        t.customer_id.label("customer_id"),
        national.label("number"),
    ).where(t.started_at >= lo, t.started_at < hi, chat_owner.is_not(None))
    return union_all(calls, chats).subquery("contacts")


def _seconds_between(dialect: str, later: Any, earlier: Any) -> ColumnElement[float]:
    if dialect == "sqlite":  # stored as ISO text: julianday() reads it, fractions included
        return (func.julianday(later) - func.julianday(earlier)) * 86400.0
    seconds: ColumnElement[float] = cast(func.extract("epoch", later - earlier), Float)
    return seconds


async def repeat_contacts(
    sessions: async_sessionmaker[AsyncSession],
    since: date,
    until: date,
    *,
    window: timedelta = timedelta(days=7),
    topic: Topic = "none",
    now: datetime | None = None,
) -> RepeatReport:
    """Repeat contacts and FCR for the Vietnam days ``[since, until)``."""
    if until <= since:
        raise BadPeriod(f"until ({until}) must be after since ({since}); until is exclusive")
    if window <= timedelta(0):
        raise BadPeriod("the repeat window must be positive")
    now = now or datetime.now(UTC)
    day_list = [since + timedelta(days=i) for i in range((until - since).days)]
    bounds = [day_start_utc(d) for d in [*day_list, until]]
    start, end = bounds[0], bounds[-1]
    base = _contacts(topic, start, end + window)
    partition = [base.c.owner] if topic == "none" else [base.c.owner, base.c.topic]
    ranked = select(
        base,
        func.lead(base.c.started_at)
        .over(partition_by=partition, order_by=base.c.started_at)
        .label("next_at"),
    ).subquery("ranked")

    async with sessions() as s:
        dialect = s.get_bind().dialect.name
        r = ranked.c
        gap = _seconds_between(dialect, r.next_at, r.started_at)
        closed = _seconds_between(dialect, literal(now), r.started_at) >= window.total_seconds()
        repeated = and_(closed, r.next_at.is_not(None), gap <= window.total_seconds())
        day_idx = case(
            *[(r.started_at < b, literal(i)) for i, b in enumerate(bounds[1:])], else_=literal(len(day_list))
        )

        def count(cond: Any) -> Any:
            return func.sum(case((cond, 1), else_=0))

        query = (
            select(
                cast(day_idx, Integer),
                r.queue,
                r.acd_tier,
                r.agent_id,
                r.topic,
                func.count(),
                func.sum(r.answered),
                count(closed),
                count(and_(closed, r.answered == 1)),
                count(repeated),
                count(and_(repeated, r.answered == 1)),
            )
            .where(r.started_at >= start, r.started_at < end)
            .group_by(day_idx, r.queue, r.acd_tier, r.agent_id, r.topic)
        )
        rows = (await s.execute(query)).all()

    report = RepeatReport(since, until, window.total_seconds() / 86400, topic)
    report.days = {d: RepeatFigures() for d in day_list}
    for idx, queue, tier, agent, topic_value, *nums in rows:
        f = RepeatFigures(*(int(n or 0) for n in nums))
        report.total.add(f)
        report.days[day_list[int(idx)]].add(f)
        report.queues.setdefault(queue or "", RepeatFigures()).add(f)
        report.tiers.setdefault(tier or "standard", RepeatFigures()).add(f)
        if agent:
            report.agents.setdefault(agent, RepeatFigures()).add(f)
        if topic != "none":
            report.topics.setdefault(topic_value or "", RepeatFigures()).add(f)
    return report


@dataclass(frozen=True)
class ContactHistory:
    """For the pop: how many times this owner contacted us in the window, and the last time."""

    count: int  # including the contact in progress
    last_at: datetime | None
    last_queue: str
    last_ivr_path: str
    last_outcome: str
    last_call_id: str = ""


async def contact_history(
    sessions: async_sessionmaker[AsyncSession],
    *,
    customer_id: str | None,
    numbers: list[str],
    now: datetime,
    window: timedelta = timedelta(days=7),
    exclude_call: str | None = None,
) -> ContactHistory:
    """The owner's earlier contacts (calls and chats) within ``window`` before ``now`` (by customer ID,
    else numbers)."""
    k = _contacts("none", now - window, now)
    who = k.c.customer_id == customer_id if customer_id else k.c.number.in_(numbers or [""])
    q = select(k.c.started_at, k.c.queue, k.c.ivr_path, k.c.disposition, k.c.contact_id).where(who)
    if exclude_call:
        q = q.where(k.c.contact_id != exclude_call)
    async with sessions() as s:
        rows = (await s.execute(q.order_by(k.c.started_at.desc()))).all()
    if not rows:
        return ContactHistory(1, None, "", "", "")
    at, queue, path, outcome, last_id = rows[0]
    at = at if at.tzinfo else at.replace(tzinfo=UTC)
    return ContactHistory(len(rows) + 1, at, queue, path, outcome, last_id)


@dataclass(frozen=True)
class Returning:
    """Contacts in a span, and how many of them came back: another contact of the same owner at most
    ``window`` before (the backward view, known at once: the wallboard's "repeat contacts today")."""

    contacts: int
    returning: int

    @property
    def rate(self) -> float | None:
        return self.returning / self.contacts if self.contacts else None


async def returning_contacts(
    sessions: async_sessionmaker[AsyncSession], start: datetime, end: datetime, *, window: timedelta
) -> Returning:
    """Contacts started in ``[start, end)`` following an earlier contact of their owner within ``window``."""
    base = _contacts("none", start - window, end)
    ranked = select(
        base,
        func.lag(base.c.started_at)
        .over(partition_by=base.c.owner, order_by=base.c.started_at)
        .label("prev_at"),
    ).subquery("ranked")
    async with sessions() as s:
        dialect = s.get_bind().dialect.name
        r = ranked.c
        gap = _seconds_between(dialect, r.started_at, r.prev_at)
        back = and_(r.prev_at.is_not(None), gap <= window.total_seconds())
        q = select(func.count(), func.sum(case((back, 1), else_=0))).where(r.started_at >= start)
        n, returning = (await s.execute(q)).one()
    return Returning(int(n or 0), int(returning or 0))
