"""The report page's finer cuts: figures per half-hour and per agent, and the calls behind any bar.

The day, queue and tier figures are service_level.py's SQL aggregates; a half-hour or an agent is a
cut SQL would need a CASE per slot for, so here the period's calls are read once (a handful of columns
per call) and each is classified by :func:`classify`, the same rules as service_level.py's query: a
call is answered when an agent connected, *exited* when it took the queue's exit unanswered, else
abandoned; within the SL when answered with a wait up to the threshold (inclusive); a short abandon
when it left within ``short_abandon_seconds``. A half-hour is the Vietnam clock's slot the call
*entered the queue* in (08:30 = 08:30:00 … 08:59:59), summed over the period's days; an agent's
figures count the calls they answered (abandons belong to no agent).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, date, datetime
from fractions import Fraction
from typing import Any, Literal

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from acd.exits import EXIT_DISPOSITION_PREFIX
from core.errors import BadRequest
from core.models import CallRecord
from core.vietnam import VN_TZ
from reports.config import ReportsConfig
from reports.service_level import (
    _EPSILON,
    OVERFLOW_OUTCOME,
    Figures,
    _in_period,
    day_start_utc,
    service_level_report,
)

Scope = Literal["total", "day", "halfhour", "queue", "tier", "agent"]
SCOPES: tuple[str, ...] = ("total", "day", "halfhour", "queue", "tier", "agent")
Outcome = Literal["answered", "abandoned", "exited"]


class BadScope(BadRequest):
    error_id = "report.bad_scope"


@dataclass(frozen=True)
class CallRow:
    """One offered call of the period, classified."""

    call_id: str
    queued_at: datetime  # aware, UTC
    queue: str
    tier: str
    agent_id: str
    wait: float
    talk: float | None
    outcome: Outcome
    in_sl: bool
    short: bool
    overflowed: bool

    @property
    def day(self) -> str:
        return self.queued_at.astimezone(VN_TZ).date().isoformat()

    @property
    def halfhour(self) -> str:
        t = self.queued_at.astimezone(VN_TZ)
        return f"{t.hour:02d}:{30 if t.minute >= 30 else 0:02d}"

    def key(self, scope: str) -> str:
        if scope == "total":
            return ""
        if scope in ("day", "halfhour"):
            return self.day if scope == "day" else self.halfhour
        return {"queue": self.queue, "tier": self.tier, "agent": self.agent_id}[scope]

    def to_json(self) -> dict[str, Any]:
        return {
            "call_id": self.call_id,
            "queued_at": self.queued_at.isoformat(),
            "queue": self.queue,
            "tier": self.tier,
            "agent_id": self.agent_id,
            "wait": round(self.wait, 2),
            "talk": None if self.talk is None else round(self.talk, 2),
            "outcome": self.outcome,
            "in_sl": self.in_sl,
            "short": self.short,
        }


def classify(  # noqa: PLR0917 (one calls-table row, in the query's column order)
    call_id: str,
    queued_at: datetime,
    queue: str,
    tier: str,
    agent_id: str,
    wait: float | None,
    talk: float | None,
    answered: bool,
    disposition: str,
    ivr_outcome: str,
    cfg: ReportsConfig,
) -> CallRow:
    w = float(wait or 0.0)
    exited = disposition.startswith(EXIT_DISPOSITION_PREFIX)
    outcome: Outcome = "answered" if answered else "exited" if exited else "abandoned"
    return CallRow(
        call_id=call_id,
        queued_at=queued_at if queued_at.tzinfo else queued_at.replace(tzinfo=UTC),
        queue=queue,
        tier=tier or "standard",
        agent_id=agent_id if answered else "",
        wait=w,
        talk=talk if answered else None,
        outcome=outcome,
        in_sl=answered and w <= cfg.sl_threshold_seconds + _EPSILON,
        short=outcome == "abandoned" and w <= cfg.short_abandon_seconds + _EPSILON,
        overflowed=ivr_outcome == OVERFLOW_OUTCOME,
    )


async def call_rows(
    sessions: async_sessionmaker[AsyncSession],
    since: date,
    until: date,
    cfg: ReportsConfig,
    *,
    queue: str | None = None,
    narrow: tuple[str, str] | None = None,
) -> list[CallRow]:
    """Every offered call of the Vietnam days ``[since, until)``, oldest first. ``narrow`` (a scope
    and key) lets the database keep only a drill-down's calls where a column says it (a day is
    narrowed by the caller's period; a half-hour is not: :func:`behind` still filters every row)."""
    c = CallRecord
    start, end = day_start_utc(since), day_start_utc(until)
    where = list(_in_period(start, end, queue))
    if narrow is not None:
        where += _narrowing(*narrow)
    q = (
        select(
            c.call_id, c.queued_at, c.queue, c.acd_tier, c.agent_id, c.wait_seconds, c.talk_seconds,
            c.answered_at.is_not(None), c.disposition, c.ivr_outcome,
        )
        .where(*where)
        .order_by(c.queued_at, c.call_id)
    )  # fmt: skip
    async with sessions() as s:
        rows = await s.execute(q)
        out = []
        for cid, queued, q_name, tier, agent, wait, talk, answered, dispo, ivr_outcome in rows:
            assert queued is not None  # _in_period bounds queued_at
            out.append(
                classify(cid, queued, q_name, tier, agent, wait, talk, answered, dispo, ivr_outcome, cfg)
            )
        return out


def _narrowing(scope: str, key: str) -> list[Any]:
    c = CallRecord
    if scope == "queue":
        return [c.queue == key]
    if scope == "tier":  # classify names an empty tier "standard"
        return [c.acd_tier.in_(["", "standard"]) if key == "standard" else c.acd_tier == key]
    if scope == "agent":
        return [c.agent_id == key, c.answered_at.is_not(None)]
    return []


def figures_of(rows: Iterable[CallRow], target: Fraction) -> Figures:
    f = Figures(target)
    for r in rows:
        f.offered += 1
        f.longest_wait = max(f.longest_wait, r.wait)
        f.overflowed_in += r.overflowed
        if r.outcome == "answered":
            f.answered += 1
            f.answered_in_sl += r.in_sl
            f.wait_sum += r.wait
            if r.talk is not None:
                f.talk_sum += r.talk
                f.talked += 1
        elif r.outcome == "exited":
            f.exited += 1
        else:
            f.abandoned += 1
            f.abandoned_short += r.short
    return f


def grouped(rows: Iterable[CallRow], scope: str, target: Fraction) -> dict[str, Figures]:
    """Figures per key of ``scope`` (half-hours and agents; any scope works)."""
    groups: dict[str, list[CallRow]] = {}
    for r in rows:
        key = r.key(scope)
        if scope == "agent" and not key:
            continue  # abandons and exits belong to no agent
        groups.setdefault(key, []).append(r)
    return {k: figures_of(v, target) for k, v in sorted(groups.items())}


def behind(rows: Iterable[CallRow], scope: str, key: str) -> list[CallRow]:
    """The calls behind one bar: those whose ``scope`` key is ``key``."""
    if scope not in SCOPES:
        raise BadScope(f"scope={scope!r}: one of {', '.join(SCOPES)}")
    return [r for r in rows if scope == "total" or r.key(scope) == key]


def page_json(rows: list[CallRow], cfg: ReportsConfig) -> dict[str, Any]:
    """The half-hour and agent cuts, in the report's JSON shape (``name`` + the figures)."""
    target = Fraction(str(cfg.sl_target))
    out: dict[str, Any] = {}
    for scope, name in (("halfhour", "half_hours"), ("agent", "agent_figures")):
        out[name] = [{"name": k, **f.to_json()} for k, f in grouped(rows, scope, target).items()]
    return out


def _with_abandon_rate(figures: dict[str, Any]) -> dict[str, Any]:
    offered = figures["offered"]
    figures["abandon_rate"] = round(figures["abandoned"] / offered, 4) if offered else None
    return figures


async def page_report(
    sessions: async_sessionmaker[AsyncSession],
    since: date,
    until: date,
    cfg: ReportsConfig,
    *,
    queue: str | None = None,
) -> dict[str, Any]:
    """What the report page draws and its exports write: service_level.py's report (total, days,
    queues, tiers) plus the half-hour and agent cuts, each figure set with its ``abandon_rate``
    (abandoned / offered)."""
    report = await service_level_report(sessions, since, until, config=cfg, queue=queue)
    rows = await call_rows(sessions, since, until, cfg, queue=queue)
    page = {**report.to_json(), **page_json(rows, cfg)}
    _with_abandon_rate(page["total"])
    for name in ("days", "queues", "tiers", "half_hours", "agent_figures"):
        for item in page[name]:
            _with_abandon_rate(item)
    return page
