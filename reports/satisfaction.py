"""Customer-satisfaction KPIs: CSAT and the survey's response rate (``survey_answers``), with FCR and
the repeat rate (reports/repeat_contacts.py), per Vietnam day, queue and agent (FCR and the repeat rate
also per ACD tier and, with a topic, per topic; the survey figures are None there).

Definitions (served with every report, on the wallboard, and in the CSV/XLSX exports):

* **surveyed**: calls whose caller was moved to the post-call survey (sampled), counted on the
  Asia/Ho_Chi_Minh day the survey was asked; **responded**: surveyed calls with at least one key
  answered; **response rate** = responded / surveyed;
* **CSAT** = the mean score of the survey's CSAT question (its first scale question, e.g. 1–5) over
  the callers who answered it; **CSAT 4–5** = the share of those answers in the scale's top two
  (4 or 5 on a 1–5 scale); a caller who keyed nothing or hung up is "no answer", never a score;
* **said solved** = the share of "was your problem solved?" answers that were yes (1);
* **FCR** and **repeat rate**: see reports/repeat_contacts.py (same owner again within the window).

The survey figures are SQL aggregates (one grouped query); the export rows come from the same
figures as the JSON, so a CSV, an XLSX and the API never disagree.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any

from sqlalchemy import Integer, and_, case, cast, func, literal, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from billing.export import neutralise
from ivr.models import SurveyAnswerRecord
from reports.repeat_contacts import DEFINITIONS as REPEAT_DEFINITIONS
from reports.repeat_contacts import RepeatFigures, Topic, repeat_contacts
from reports.service_level import BadPeriod, day_start_utc

DEFINITIONS = {
    "surveyed": "calls whose caller was moved to the post-call survey, on the Asia/Ho_Chi_Minh day asked",
    "responded": "surveyed calls with at least one question answered by a key",
    "response_rate": "responded / surveyed",
    "csat": "mean score of the CSAT question (the survey's first scale question) over those who answered it",
    "csat_top2": "share of CSAT answers in the scale's top two (4-5 on 1-5)",
    "said_solved": "share of 'was your problem solved?' answers that were yes",
    "no_answer": "a caller who keyed nothing or hung up: 'no answer', counted as surveyed, never as a score",
    **{k: v for k, v in REPEAT_DEFINITIONS.items() if k in ("fcr", "repeat_rate", "contacts", "repeated")},
}

COLUMNS = [
    "surveyed",
    "responded",
    "response_rate",
    "csat_answers",
    "csat",
    "csat_top2",
    "solved_answers",
    "said_solved",
    "contacts",
    "repeated",
    "pending",
    "fcr",
    "repeat_rate",
]


@dataclass
class SurveyFigures:
    surveyed: int = 0
    responded: int = 0
    csat_answers: int = 0
    csat_sum: int = 0
    csat_top2_n: int = 0
    solved_answers: int = 0
    solved_yes: int = 0

    def add(self, o: SurveyFigures) -> None:
        for k in self.__dataclass_fields__:
            setattr(self, k, getattr(self, k) + getattr(o, k))

    @property
    def response_rate(self) -> float | None:
        return self.responded / self.surveyed if self.surveyed else None

    @property
    def csat(self) -> float | None:
        return self.csat_sum / self.csat_answers if self.csat_answers else None

    @property
    def csat_top2(self) -> float | None:
        return self.csat_top2_n / self.csat_answers if self.csat_answers else None

    @property
    def said_solved(self) -> float | None:
        return self.solved_yes / self.solved_answers if self.solved_answers else None

    def to_json(self) -> dict[str, Any]:
        return {
            "surveyed": self.surveyed,
            "responded": self.responded,
            "response_rate": self.response_rate,
            "csat_answers": self.csat_answers,
            "csat": self.csat,
            "csat_top2": self.csat_top2,
            "solved_answers": self.solved_answers,
            "said_solved": self.said_solved,
        }


def kpis_json(s: SurveyFigures | None, r: RepeatFigures | None) -> dict[str, Any]:
    """One row's figures; a scope the surveys are not grouped by (tier, topic) has them as None."""
    r = r or RepeatFigures()
    survey = s.to_json() if s is not None else dict.fromkeys(SurveyFigures().to_json())
    return {**survey, **r.to_json()}


@dataclass
class KpiReport:
    since: date
    until: date
    window_days: float
    topic: Topic
    survey_total: SurveyFigures = field(default_factory=SurveyFigures)
    survey: dict[str, dict[str, SurveyFigures]] = field(default_factory=dict)  # scope -> key -> figures
    repeat_total: RepeatFigures = field(default_factory=RepeatFigures)
    repeat: dict[str, dict[str, RepeatFigures]] = field(default_factory=dict)

    def rows(self) -> Iterator[tuple[str, str, dict[str, Any]]]:
        """(scope, key, figures): the total, then each day, queue and agent — what every export holds."""
        yield "total", "", kpis_json(self.survey_total, self.repeat_total)
        for scope in ("day", "queue", "tier", "agent", "topic"):
            s, r = self.survey.get(scope), self.repeat.get(scope, {})
            for key in sorted(set(s or {}) | set(r)):
                yield (
                    scope,
                    key,
                    kpis_json(s.get(key, SurveyFigures()) if s is not None else None, r.get(key)),
                )

    def to_json(self) -> dict[str, Any]:
        groups: dict[str, dict[str, Any]] = {
            "days": {},
            "queues": {},
            "tiers": {},
            "agents": {},
            "topics": {},
        }
        total: dict[str, Any] = {}
        for scope, key, figs in self.rows():
            if scope == "total":
                total = figs
            else:
                groups[scope + "s"][key] = figs
        return {
            "since": self.since.isoformat(),
            "until": self.until.isoformat(),
            "window_days": self.window_days,
            "topic": self.topic,
            "definitions": DEFINITIONS,
            "total": total,
            **groups,
        }


async def survey_figures(
    sessions: async_sessionmaker[AsyncSession], start: datetime, end: datetime, bounds: list[datetime]
) -> list[tuple[int, str, str, SurveyFigures]]:
    """Per (day index, queue, agent): the survey figures of the surveys asked in [start, end)."""
    a = SurveyAnswerRecord
    per_call = (
        select(
            a.call_id,
            func.min(a.asked_at).label("asked_at"),
            func.max(a.queue).label("queue"),
            func.max(a.agent_id).label("agent_id"),
            func.max(case((a.status == "answered", 1), else_=0)).label("responded"),
            func.sum(case((and_(a.csat, a.status == "answered"), 1), else_=0)).label("csat_n"),
            func.sum(case((and_(a.csat, a.status == "answered"), a.value), else_=0)).label("csat_sum"),
            func.sum(
                case((and_(a.csat, a.status == "answered", a.value >= a.scale_max - 1), 1), else_=0)
            ).label("top2"),
            func.sum(case((and_(a.kind == "yes_no", a.status == "answered"), 1), else_=0)).label("solved_n"),
            func.sum(
                case((and_(a.kind == "yes_no", a.status == "answered", a.value == 1), 1), else_=0)
            ).label("solved_yes"),
        )
        .where(a.asked_at >= start, a.asked_at < end)
        .group_by(a.call_id)
        .subquery("surveys")
    )
    p = per_call.c
    day_idx = case(
        *[(p.asked_at < b, literal(i)) for i, b in enumerate(bounds[1:])], else_=literal(len(bounds) - 1)
    )
    q = select(
        cast(day_idx, Integer),
        p.queue,
        p.agent_id,
        func.count(),
        func.sum(p.responded),
        func.sum(p.csat_n),
        func.sum(p.csat_sum),
        func.sum(p.top2),
        func.sum(p.solved_n),
        func.sum(p.solved_yes),
    ).group_by(day_idx, p.queue, p.agent_id)
    async with sessions() as s:
        rows = (await s.execute(q)).all()
    return [
        (int(i), queue or "", agent or "", SurveyFigures(*(int(n or 0) for n in nums)))
        for i, queue, agent, *nums in rows
    ]


async def kpi_report(
    sessions: async_sessionmaker[AsyncSession],
    since: date,
    until: date,
    *,
    window: timedelta = timedelta(days=7),
    topic: Topic = "none",
    now: datetime | None = None,
) -> KpiReport:
    """CSAT, response rate, FCR and repeat rate for the Vietnam days ``[since, until)``."""
    if until <= since:
        raise BadPeriod(f"until ({until}) must be after since ({since}); until is exclusive")
    days = [since + timedelta(days=i) for i in range((until - since).days)]
    bounds = [day_start_utc(d) for d in [*days, until]]
    report = KpiReport(since, until, window.total_seconds() / 86400, topic)
    for scope in ("day", "queue", "agent"):
        report.survey[scope], report.repeat[scope] = {}, {}
    for idx, queue, agent, f in await survey_figures(sessions, bounds[0], bounds[-1], bounds):
        report.survey_total.add(f)
        for scope, key in (("day", days[idx].isoformat()), ("queue", queue), ("agent", agent)):
            if key:
                report.survey[scope].setdefault(key, SurveyFigures()).add(f)
    rep = await repeat_contacts(
        sessions, since, until, window=window, topic=topic, now=now or datetime.now(UTC)
    )
    report.repeat_total = rep.total
    report.repeat["day"] = {d.isoformat(): f for d, f in rep.days.items()}
    report.repeat["queue"] = {k: f for k, f in rep.queues.items() if k}
    report.repeat["agent"] = dict(rep.agents)
    report.repeat["tier"] = dict(rep.tiers)  # FCR by ACD tier and by topic: the surveys are not split so
    report.repeat["topic"] = {k: f for k, f in rep.topics.items() if k}
    return report


def _num(v: Any) -> Any:
    return round(v, 4) if isinstance(v, float) else ("" if v is None else v)


def kpi_csv(report: KpiReport) -> bytes:
    """The report as CSV (UTF-8 with BOM for spreadsheets); names neutralised, numbers bare."""
    buf = io.StringIO()
    w = csv.writer(buf)
    w.writerow(["scope", "key", *COLUMNS])
    for scope, key, figs in report.rows():
        w.writerow([scope, neutralise(key), *(_num(figs[c]) for c in COLUMNS)])
    w.writerow([])
    w.writerow(["term", "definition"])
    w.writerow(["period", f"{report.since} to {report.until} (exclusive), Asia/Ho_Chi_Minh days"])
    w.writerow(["window_days", report.window_days])
    w.writerow(["topic", report.topic])
    for term, text in DEFINITIONS.items():
        w.writerow([term, text])
    return ("\ufeff" + buf.getvalue()).encode("utf-8")


def kpi_xlsx(report: KpiReport) -> bytes:
    """The same rows as :func:`kpi_csv` in a workbook: the KPIs sheet and the definitions."""
    from reports.xlsx import table_workbook

    rows = [[scope, neutralise(key), *(figs[c] for c in COLUMNS)] for scope, key, figs in report.rows()]
    about: list[list[Any]] = [
        ["period", f"{report.since} to {report.until} (exclusive), Asia/Ho_Chi_Minh days"],
        ["window_days", report.window_days],
        ["topic", report.topic],
        *([k, v] for k, v in DEFINITIONS.items()),
    ]
    return table_workbook(
        [("kpis", ["scope", "key", *COLUMNS], rows), ("definitions", ["term", "definition"], about)]
    )


def _count(v: int | None) -> str:
    return "-" if v is None else str(v)


def format_table(report: KpiReport) -> str:
    def pct(v: Any) -> str:
        return "-" if v is None else f"{v:.1%}"

    def avg(v: Any) -> str:
        return "-" if v is None else f"{v:.2f}"

    lines = [
        f"Satisfaction and FCR, {report.since} to {report.until} (exclusive), repeat window "
        f"{report.window_days:g} days, topic {report.topic}",
        f"{'scope':<6} {'key':<12} {'surveyed':>8} {'resp.':>7} {'CSAT':>5} {'4-5':>7} "
        f"{'contacts':>8} {'FCR':>7} {'repeat':>7}",
    ]
    for scope, key, f in report.rows():
        lines.append(
            f"{scope:<6} {key[:12]:<12} {_count(f['surveyed']):>8} {pct(f['response_rate']):>7} "
            f"{avg(f['csat']):>5} {pct(f['csat_top2']):>7} {f['contacts']:>8} {pct(f['fcr']):>7} "
            f"{pct(f['repeat_rate']):>7}"
        )
    lines += ["", *(f"{k}: {v}" for k, v in DEFINITIONS.items())]
    return "\n".join(lines)
