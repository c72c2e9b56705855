"""Service-level report for a period of Vietnam days, from the ``calls`` and ``agent_state_log`` tables.

What QCVN 36:2022 asks of operators: at least ``sl_target`` (80 %) of support-line calls answered by an
agent within ``sl_threshold_seconds`` (60 s), measured 24 h a day. The definitions are the wallboard's
(``agent_desktop/wallboard.py``), applied to finished calls:

* a call is **offered** when it entered a queue, and is counted in the Asia/Ho_Chi_Minh day in which it
  entered (a call crossing midnight stays on the day it arrived);
* **answered**: an agent connected; **abandoned**: the caller left unanswered; **abandoned_short**: of
  those, the ones who left within ``short_abandon_seconds`` (reported apart, still counted as abandoned);
* **exited**: the caller reached the queue's maximum wait and took its exit (acd/exits.py): a callback
  request, voicemail or the goodbye after declining the callback. Not an abandon (the caller did not
  give up), but not answered by an agent either, so it stays in the SL denominator;
* **overflow**: a call moved from one queue to another (acd/exits.py) is *one* offered call, counted in
  the queue where it ended (answered there, abandoned or exited), with its wait from its *first* queue
  entry; it is never an abandon of the first queue. ``overflowed_in`` counts such calls in the queue
  that received them, ``overflowed_out`` in the queue they first entered (queue rows and the total);
* **sl** = answered within the threshold / (answered + abandoned + exited); a wait of exactly the
  threshold is within; short abandons stay in the denominator, as on the wallboard;
* **asa** = mean wait of answered calls (queue entry → answer); **aht** = mean talk time of answered
  calls (wrap-up excluded); **longest_wait** = the longest wait of any offered call, answered or not;
* **compliant**: sl ≥ target (``None`` when nothing was answered or abandoned).

Per agent: queue calls answered and their talk time (same population and days as above), and the
time spent in each status of ``agent_state_log`` (``paused:<reason>`` per pause reason), clipped to the
period. Agent status time is not per queue, so a ``queue`` filter leaves it whole.

The figures are SQL aggregates (one grouped query over the calls, one over the state log, plus the few
state periods that straddle a boundary), so a month of calls costs a handful of queries.
"""

from __future__ import annotations

import csv
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from fractions import Fraction
from typing import Any, TextIO

from sqlalchemy import and_, case, func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from acd.exits import EXIT_DISPOSITION_PREFIX
from acd.models import AgentStateLog
from billing.export import neutralise
from core.errors import TongdaiError
from core.models import CallRecord
from core.vietnam import VN_TZ
from reports.config import ReportsConfig

# Timestamps come from epoch floats: a wait of exactly 60 s may be stored as 60.00000001.
_EPSILON = 0.001

DEFINITIONS = {
    "offered": "calls that entered a queue, counted on the Asia/Ho_Chi_Minh day they entered it",
    "sl": "answered within the threshold (inclusive) / (answered + abandoned + exited)",
    "exited": "took the queue's exit at its maximum wait (callback, voicemail, goodbye); not an abandon",
    "overflowed_in": "calls that came from another queue by overflow; counted once, where they ended",
    "overflowed_out": "calls whose first queue this was and that overflowed to another (not abandons here)",
    "wait": "from the first queue entry (an overflowed call keeps the time it waited before)",
    "abandoned_short": "abandoned within short_abandon_seconds; included in abandoned and in the SL",
    "asa": "mean wait of answered calls (queue entry to answer), seconds",
    "aht": "mean talk time (answer to hang-up) of answered calls, seconds; wrap-up excluded",
    "longest_wait": "longest wait of any offered call, answered or abandoned, seconds",
    "compliant": "sl >= target (QCVN 36:2022: 80 % within 60 s, 24 h a day)",
    "agent_states": "seconds in each status from agent_state_log, clipped to the period",
}


class BadPeriod(TongdaiError, ValueError):
    """A report period that cannot be computed (unparsable, empty or too long): HTTP 400."""

    error_id = "report.bad_period"


def parse_period(since: str | None, until: str | None, *, max_days: int = 366) -> tuple[date, date]:
    """``since``/``until`` as ``YYYY-MM-DD`` Vietnam days, ``until`` exclusive; raises :class:`BadPeriod`."""
    days: list[date] = []
    for name, text in (("since", since), ("until", until)):
        if not text:
            raise BadPeriod(f"{name} is required, as a date like 2026-11-01")
        try:
            days.append(date.fromisoformat(text.strip()))
        except ValueError:
            raise BadPeriod(f"{name}={text!r} is not a date like 2026-11-01") from None
    start, end = days
    if end <= start:
        raise BadPeriod(f"until ({end}) must be after since ({start}); until is exclusive")
    if (end - start).days > max_days:
        raise BadPeriod(f"the period is {(end - start).days} days; at most {max_days} days per report")
    return start, end


def day_start_utc(day: date) -> datetime:
    """Midnight of a Vietnam day, in UTC (how ``calls`` stores its timestamps)."""
    return datetime(day.year, day.month, day.day, tzinfo=VN_TZ).astimezone(UTC)


@dataclass
class Figures:
    """Call figures of one group (a day, a queue, a tier or the whole period)."""

    target: Fraction
    offered: int = 0
    answered: int = 0
    answered_in_sl: int = 0
    abandoned: int = 0
    abandoned_short: int = 0
    exited: int = 0  # took the queue's exit (callback, voicemail, goodbye)
    overflowed_in: int = 0
    overflowed_out: int = 0
    wait_sum: float = 0.0  # over answered calls
    talk_sum: float = 0.0
    talked: int = 0  # answered calls with a talk time
    longest_wait: float = 0.0

    def add(self, other: Figures) -> None:
        self.offered += other.offered
        self.answered += other.answered
        self.answered_in_sl += other.answered_in_sl
        self.abandoned += other.abandoned
        self.abandoned_short += other.abandoned_short
        self.exited += other.exited
        self.overflowed_in += other.overflowed_in
        self.overflowed_out += other.overflowed_out
        self.wait_sum += other.wait_sum
        self.talk_sum += other.talk_sum
        self.talked += other.talked
        self.longest_wait = max(self.longest_wait, other.longest_wait)

    @property
    def handled(self) -> int:
        return self.answered + self.abandoned + self.exited

    @property
    def sl(self) -> float | None:
        handled = self.handled
        return self.answered_in_sl / handled if handled else None

    @property
    def compliant(self) -> bool | None:
        handled = self.handled
        if not handled:
            return None
        # Exact: 0.8 as a float would misjudge e.g. 4 in 5 on some targets.
        return self.answered_in_sl * self.target.denominator >= self.target.numerator * handled

    @property
    def asa(self) -> float | None:
        return self.wait_sum / self.answered if self.answered else None

    @property
    def aht(self) -> float | None:
        return self.talk_sum / self.talked if self.talked else None

    def to_json(self) -> dict[str, Any]:
        sl, asa, aht = self.sl, self.asa, self.aht
        return {
            "offered": self.offered,
            "answered": self.answered,
            "answered_in_sl": self.answered_in_sl,
            "abandoned": self.abandoned,
            "abandoned_short": self.abandoned_short,
            "exited": self.exited,
            "overflowed_in": self.overflowed_in,
            "overflowed_out": self.overflowed_out,
            "sl": None if sl is None else round(sl, 4),
            "asa": None if asa is None else round(asa, 2),
            "aht": None if aht is None else round(aht, 2),
            "longest_wait": round(self.longest_wait, 2),
            "compliant": self.compliant,
        }


@dataclass
class AgentFigures:
    agent_id: str
    calls: int = 0
    talk_seconds: float = 0.0
    states: dict[str, float] = field(default_factory=dict)  # "ready", "paused:lunch", "wrap_up" …

    def to_json(self) -> dict[str, Any]:
        return {
            "agent_id": self.agent_id,
            "calls": self.calls,
            "talk_seconds": round(self.talk_seconds, 2),
            "states": {k: round(v, 2) for k, v in sorted(self.states.items())},
        }


@dataclass
class ServiceLevelReport:
    since: date
    until: date  # exclusive
    queue: str | None
    threshold_seconds: float
    target: float
    short_abandon_seconds: float
    total: Figures
    days: dict[date, Figures]
    queues: dict[str, Figures]
    tiers: dict[str, Figures]
    agents: list[AgentFigures]

    def to_json(self) -> dict[str, Any]:
        return {
            "since": self.since.isoformat(),
            "until": self.until.isoformat(),
            "timezone": "Asia/Ho_Chi_Minh",
            "queue": self.queue,
            "threshold_seconds": self.threshold_seconds,
            "target": self.target,
            "short_abandon_seconds": self.short_abandon_seconds,
            "definitions": DEFINITIONS,
            "total": self.total.to_json(),
            "days": [{"day": d.isoformat(), **f.to_json()} for d, f in sorted(self.days.items())],
            "queues": [{"name": q, **f.to_json()} for q, f in sorted(self.queues.items())],
            "tiers": [{"name": t, **f.to_json()} for t, f in sorted(self.tiers.items())],
            "agents": [a.to_json() for a in self.agents],
        }


def state_key(status: str, reason: str) -> str:
    return f"{status}:{reason}" if reason else status


async def service_level_report(
    sessions: async_sessionmaker[AsyncSession],
    since: date,
    until: date,
    *,
    config: ReportsConfig | None = None,
    queue: str | None = None,
) -> ServiceLevelReport:
    """Figures for the Vietnam days ``[since, until)``, optionally for one queue."""
    cfg = config or ReportsConfig()
    if until <= since:
        raise BadPeriod(f"until ({until}) must be after since ({since})")
    target = Fraction(str(cfg.sl_target))
    day_list = [since + timedelta(days=i) for i in range((until - since).days)]
    bounds = [day_start_utc(d) for d in [*day_list, until]]
    start, end = bounds[0], bounds[-1]
    async with sessions() as s:
        call_rows = await s.execute(_call_aggregate(bounds, cfg, queue))
        agent_rows = await s.execute(_agent_calls(start, end, queue))
        # Overflowed calls of the period whatever queue they ended in: their first queue is in the path.
        overflow_rows = list(
            await s.scalars(select(CallRecord.ivr_path).where(*_in_period(start, end, None), _overflowed()))
        )
        inside = await s.execute(
            select(
                AgentStateLog.agent,
                AgentStateLog.status,
                AgentStateLog.reason,
                func.sum(AgentStateLog.seconds),
            )
            .where(AgentStateLog.started >= start, AgentStateLog.ended <= end)
            .group_by(AgentStateLog.agent, AgentStateLog.status, AgentStateLog.reason)
        )
        straddling = await s.execute(
            select(AgentStateLog.agent, AgentStateLog.status, AgentStateLog.reason, AgentStateLog.started,
                   AgentStateLog.ended)
            .where(AgentStateLog.started < end, AgentStateLog.ended > start)
            .where(or_(AgentStateLog.started < start, AgentStateLog.ended > end))
        )  # fmt: skip

    total = Figures(target)
    days = {d: Figures(target) for d in day_list}
    queues: dict[str, Figures] = {}
    tiers: dict[str, Figures] = {}
    for idx, q, tier, *nums in call_rows:
        f = Figures(
            target,
            offered=int(nums[0]),
            answered=int(nums[1] or 0),
            answered_in_sl=int(nums[2] or 0),
            abandoned=int(nums[3] or 0),
            abandoned_short=int(nums[4] or 0),
            exited=int(nums[5] or 0),
            overflowed_in=int(nums[6] or 0),
            wait_sum=float(nums[7] or 0),
            talk_sum=float(nums[8] or 0),
            talked=int(nums[9] or 0),
            longest_wait=float(nums[10] or 0),
        )
        total.add(f)
        days[day_list[int(idx)]].add(f)
        queues.setdefault(q, Figures(target)).add(f)
        tiers.setdefault(tier or "standard", Figures(target)).add(f)

    for first in _first_queues(overflow_rows):
        if queue is None or first == queue:
            queues.setdefault(first, Figures(target)).overflowed_out += 1
            total.overflowed_out += 1

    agents: dict[str, AgentFigures] = {}
    for agent, n, talk in agent_rows:
        agents[agent] = AgentFigures(agent, calls=int(n), talk_seconds=float(talk or 0))
    for agent, status, reason, seconds in inside:
        a = agents.setdefault(agent, AgentFigures(agent))
        key = state_key(status, reason)
        a.states[key] = a.states.get(key, 0.0) + float(seconds or 0)
    for agent, status, reason, started, ended in straddling:
        lo, hi = max(_aware(started), start), min(_aware(ended), end)
        a = agents.setdefault(agent, AgentFigures(agent))
        key = state_key(status, reason)
        a.states[key] = a.states.get(key, 0.0) + max(0.0, (hi - lo).total_seconds())

    return ServiceLevelReport(
        since=since,
        until=until,
        queue=queue,
        threshold_seconds=cfg.sl_threshold_seconds,
        target=cfg.sl_target,
        short_abandon_seconds=cfg.short_abandon_seconds,
        total=total,
        days=days,
        queues=queues,
        tiers=tiers,
        agents=[agents[k] for k in sorted(agents)],
    )


def _aware(ts: datetime) -> datetime:
    return ts if ts.tzinfo else ts.replace(tzinfo=UTC)  # SQLite gives naive UTC back


def _in_period(start: datetime, end: datetime, queue: str | None) -> list[Any]:
    c = CallRecord
    where: list[Any] = [
        c.queued_at >= start,
        c.queued_at < end,
        # started_at is indexed and a call starts (IVR) before it queues: narrows the scan on a big table.
        c.started_at >= start - timedelta(days=1),
        c.started_at < end,
    ]
    if queue is not None:
        where.append(c.queue == queue)
    return where


def _call_aggregate(bounds: list[datetime], cfg: ReportsConfig, queue: str | None) -> Any:
    c = CallRecord
    # Day index by comparison with each day's UTC midnight: exact, and the same SQL on SQLite and
    # PostgreSQL. Computed in a subquery so GROUP BY names a column, not a re-bound CASE expression.
    day = case(*[(c.queued_at < b, i) for i, b in enumerate(bounds[1:])], else_=len(bounds) - 2)
    rows = (
        select(
            day.label("day"),
            c.queue.label("queue"),
            c.acd_tier.label("tier"),
            case((c.answered_at.is_not(None), 1), else_=0).label("answered"),
            func.coalesce(c.wait_seconds, 0.0).label("wait"),
            c.talk_seconds.label("talk"),
            case((c.disposition.like(f"{EXIT_DISPOSITION_PREFIX}%"), 1), else_=0).label("exited"),
            case((_overflowed(), 1), else_=0).label("overflowed"),
        )
        .where(*_in_period(bounds[0], bounds[-1], queue))
        .subquery()
    )
    answered, wait = rows.c.answered == 1, rows.c.wait
    exited = and_(rows.c.answered == 0, rows.c.exited == 1)
    abandoned = and_(rows.c.answered == 0, rows.c.exited == 0)
    return select(
        rows.c.day,
        rows.c.queue,
        rows.c.tier,
        func.count(),
        func.sum(case((answered, 1), else_=0)),
        func.sum(case((and_(answered, wait <= cfg.sl_threshold_seconds + _EPSILON), 1), else_=0)),
        func.sum(case((abandoned, 1), else_=0)),
        func.sum(case((and_(abandoned, wait <= cfg.short_abandon_seconds + _EPSILON), 1), else_=0)),
        func.sum(case((exited, 1), else_=0)),
        func.sum(rows.c.overflowed),
        func.sum(case((answered, wait), else_=0.0)),
        func.sum(case((answered, rows.c.talk), else_=None)),
        func.count(case((answered, rows.c.talk), else_=None)),
        func.max(wait),
    ).group_by(rows.c.day, rows.c.queue, rows.c.tier)


# Set on the call record by the FastAGI exit route (ivr/exit_route.py).
OVERFLOW_OUTCOME = "overflow"  # ivr_outcome of a call that overflowed; ivr_path has "overflow:<queue>"


def _overflowed() -> Any:
    return CallRecord.ivr_outcome == OVERFLOW_OUTCOME


def _first_queues(paths: list[Any]) -> list[str]:
    """The first queue of each overflowed call, from its path's first ``overflow:<queue>`` step."""
    out = []
    for path in paths:
        steps = [p for p in (path or []) if isinstance(p, str) and p.startswith("overflow:")]
        if steps:
            out.append(steps[0].removeprefix("overflow:"))
    return out


def _agent_calls(start: datetime, end: datetime, queue: str | None) -> Any:
    c = CallRecord
    return (
        select(c.agent_id, func.count(), func.sum(c.talk_seconds))
        .where(*_in_period(start, end, queue), c.answered_at.is_not(None), c.agent_id != "")
        .group_by(c.agent_id)
    )


# --- output -------------------------------------------------------------------------------------

FIGURE_COLUMNS = (
    "offered",
    "answered",
    "answered_in_sl",
    "abandoned",
    "abandoned_short",
    "exited",
    "overflowed_in",
    "overflowed_out",
    "sl",
    "asa",
    "aht",
    "longest_wait",
    "compliant",
)


def _rows(report: ServiceLevelReport) -> list[tuple[str, str, Figures]]:
    rows = [("total", f"{report.since}..{report.until}", report.total)]
    rows += [("day", d.isoformat(), f) for d, f in sorted(report.days.items())]
    rows += [("queue", q, f) for q, f in sorted(report.queues.items())]
    rows += [("tier", t, f) for t, f in sorted(report.tiers.items())]
    return rows


def _verdict(v: bool | None) -> str:
    return "-" if v is None else "yes" if v else "no"


def write_csv(report: ServiceLevelReport, out: TextIO) -> None:
    """Two tables: call figures (total, per day, queue, tier), a blank line, then per-agent figures.

    Names (queues, tiers, agents, pause reasons) go through billing's formula neutraliser; numbers
    are written bare so a spreadsheet can sum them. Open ``out`` with ``newline=""``.
    """
    w = csv.writer(out)
    w.writerow(["scope", "key", *FIGURE_COLUMNS])
    for scope, key, f in _rows(report):
        j = f.to_json()
        w.writerow(
            [scope, neutralise(key), *[_num(j[c]) for c in FIGURE_COLUMNS[:-1]], _verdict(f.compliant)]
        )
    w.writerow([])
    states = sorted({k for a in report.agents for k in a.states})
    w.writerow(["agent", "calls", "talk_seconds", *(neutralise(f"state:{k}") for k in states)])
    for a in report.agents:
        per_state = [round(a.states.get(k, 0.0), 2) for k in states]
        w.writerow([neutralise(a.agent_id), a.calls, round(a.talk_seconds, 2), *per_state])


def _num(v: Any) -> Any:
    return "" if v is None else v


def _fmt(v: float | None, spec: str) -> str:
    return "-" if v is None else format(v, spec)


def format_table(report: ServiceLevelReport) -> str:
    """A readable plain-text report (the CLI prints it)."""
    pct = f"{report.target:.0%}"
    lines = [
        f"Service level {report.since} .. {report.until} (exclusive), Asia/Ho_Chi_Minh"
        + (f", queue {report.queue}" if report.queue else ""),
        f"SL = answered within {report.threshold_seconds:g} s / (answered + abandoned + exited); "
        f"QCVN 36:2022 target {pct}; short abandon <= {report.short_abandon_seconds:g} s",
        "",
        f"{'scope':<6} {'key':<24} {'offered':>7} {'answ':>6} {'in SL':>6} {'aband':>6} {'short':>6} "
        f"{'exit':>5} {'ovf in':>6} {'ovf out':>7} "
        f"{'SL':>7} {'ASA':>7} {'AHT':>7} {'max wait':>8}  ok",
    ]
    for scope, key, f in _rows(report):
        sl = f.sl
        lines.append(
            f"{scope:<6} {key:<24} {f.offered:>7} {f.answered:>6} {f.answered_in_sl:>6} {f.abandoned:>6} "
            f"{f.abandoned_short:>6} {f.exited:>5} {f.overflowed_in:>6} {f.overflowed_out:>7} "
            f"{_fmt(None if sl is None else sl * 100, '6.1f'):>6}% "
            f"{_fmt(f.asa, '7.1f'):>7} {_fmt(f.aht, '7.1f'):>7} {f.longest_wait:>8.1f}  "
            f"{_verdict(f.compliant)}"
        )
    lines += ["", f"{'agent':<8} {'calls':>6} {'talk s':>9}  time in state (s)"]
    for a in report.agents:
        states = ", ".join(f"{k} {v:.0f}" for k, v in sorted(a.states.items())) or "-"
        lines.append(f"{a.agent_id:<8} {a.calls:>6} {a.talk_seconds:>9.0f}  {states}")
    verdict = _verdict(report.total.compliant)
    lines += ["", f"QCVN 36:2022 compliant over the period: {verdict}"]
    return "\n".join(lines)
