"""A campaign's report for a window of time, live (until now) or historical, and the export of its
outcomes per contact and attempt (CSV, XLSX).

Counted from ``campaign_attempts`` in ``[since, until)``:

- ``dialled``: attempts placed (every outcome but ``refused`` and ``failed``: a failed one never left);
- ``answered``: the customer answered (``reached``); ``connected``: an agent took the answered call;
- ``abandoned`` = answered − connected, and ``abandon_rate`` = abandoned / answered, against the
  configured ``abandon_cap`` (``campaigns.abandon_cap``; ``over_cap`` when above it);
- ``machines``: answered by a machine; ``refusals``: dials the rules refused, by reason; ``outcomes``;
- ``occupancy``: for the agents who took the campaign's calls in the window, (talk + wrap-up of those
  calls) / their logged-in time. Talk is the call record's ``talk_seconds``; wrap-up is the agent's
  ``wrap_up`` period of ``agent_state_log`` that began as the call ended (within
  :data:`WRAP_SLACK_SECONDS`); logged-in time is every ``agent_state_log`` period but ``logged_out``,
  clipped to the window, and for a window reaching now the agents' current periods up to now (the
  ACD's live states).

``contacts`` (by state) is the list as it stands now, whatever the window.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
from collections.abc import Awaitable, Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from acd.models import AgentStateLog
from billing.export import neutralise
from campaigns.models import CampaignAttempt, CampaignContact
from campaigns.store import CampaignView, _aware, _utc
from core.models import CallRecord
from core.vietnam import VN_TZ
from reports.xlsx import table_workbook

WRAP_SLACK_SECONDS = 5.0  # a wrap-up period this close to a call's end is that call's
DEFINITIONS = {
    "dialled": "attempts placed in the window (all outcomes but refused and failed)",
    "answered": "attempts the customer answered (reached)",
    "connected": "answered attempts an agent took",
    "abandoned": "answered attempts no agent took (answered - connected)",
    "abandon_rate": "abandoned / answered, against abandon_cap",
    "machines": "attempts answered by a machine",
    "refusals": "dials the calling rules refused, by reason",
    "occupancy": "talk + wrap-up of the campaign's calls / logged-in time of the agents who took them",
}
EXPORT_COLUMNS = [
    "contact_id", "number", "customer_id", "name", "priority", "contact_state", "contact_disposition",
    "attempt_id", "at", "outcome", "reason", "connected", "agent_id", "disposition", "note", "call_id",
    "talk_seconds",
]  # fmt: skip


@dataclass(frozen=True)
class Window:
    since: dt.datetime
    until: dt.datetime


def _clip(start: dt.datetime, end: dt.datetime, w: Window) -> float:
    return max(0.0, (min(end, w.until) - max(start, w.since)).total_seconds())


# The agents' current periods, not yet in agent_state_log: (agent, status, since). The ACD's live
# states, wired by the component; a live report (a window reaching now) counts them up to now.
CurrentPeriods = Callable[[], Awaitable[list[tuple[str, str, dt.datetime]]]]


class CampaignReports:
    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        current: CurrentPeriods | None = None,
        *,
        clock: Callable[[], dt.datetime] = lambda: dt.datetime.now(dt.UTC),
    ) -> None:
        self.sessions = sessions
        self._current = current
        self.clock = clock

    async def report(self, campaign: CampaignView, w: Window, *, abandon_cap: float) -> dict[str, Any]:
        a = CampaignAttempt
        in_window = (a.campaign_id == campaign.id, a.at >= _utc(w.since), a.at < _utc(w.until))
        async with self.sessions() as s:
            outcomes = {
                str(o): int(n)
                for o, n in (
                    await s.execute(select(a.outcome, func.count()).where(*in_window).group_by(a.outcome))
                )
            }
            connected = int(
                await s.scalar(select(func.count()).where(*in_window, a.connected.is_(True))) or 0
            )
            refusals = {
                str(r): int(n)
                for r, n in await s.execute(
                    select(a.reason, func.count())
                    .where(*in_window, a.outcome == "refused")
                    .group_by(a.reason)
                )
            }
            contacts = {
                str(k): int(n)
                for k, n in await s.execute(
                    select(CampaignContact.state, func.count())
                    .where(CampaignContact.campaign_id == campaign.id)
                    .group_by(CampaignContact.state)
                )
            }
            occupancy = await self._occupancy(s, campaign.id, w)
        answered = outcomes.get("reached", 0)
        dialled = sum(n for o, n in outcomes.items() if o not in ("refused", "failed"))
        abandoned = answered - connected
        rate = round(abandoned / answered, 4) if answered else 0.0
        return {
            "campaign_id": campaign.id,
            "name": campaign.name,
            "since": w.since.isoformat(),
            "until": w.until.isoformat(),
            "dialled": dialled,
            "answered": answered,
            "connected": connected,
            "abandoned": abandoned,
            "abandon_rate": rate,
            "abandon_cap": abandon_cap,
            "over_cap": rate > abandon_cap,
            "machines": outcomes.get("machine", 0),
            "outcomes": {o: n for o, n in outcomes.items() if o != "refused"},
            "refusals": refusals,
            "contacts": contacts,
            "occupancy": occupancy,
            "definitions": DEFINITIONS,
        }

    async def _occupancy(self, s: AsyncSession, campaign_id: int, w: Window) -> dict[str, Any]:
        a, r, log = CampaignAttempt, CallRecord, AgentStateLog
        calls = (
            await s.execute(
                select(a.agent_id, r.talk_seconds, r.ended_at)
                .join(r, r.call_id == a.call_id)
                .where(
                    a.campaign_id == campaign_id, a.connected.is_(True), a.agent_id != "",
                    a.at >= _utc(w.since), a.at < _utc(w.until),
                )
            )
        ).all()  # fmt: skip
        agents = sorted({str(c[0]) for c in calls})
        per: dict[str, dict[str, float]] = {x: {"talk": 0.0, "wrap": 0.0, "logged_in": 0.0} for x in agents}
        if not agents:
            return {
                "agents": {},
                "talk_seconds": 0.0,
                "wrap_seconds": 0.0,
                "logged_in_seconds": 0.0,
                "rate": 0.0,
            }
        periods = (
            await s.execute(
                select(log.agent, log.status, log.started, log.ended).where(
                    log.agent.in_(agents),
                    log.status != "logged_out",
                    log.ended > _utc(w.since),
                    log.started < _utc(w.until),
                )
            )
        ).all()
        rows: list[tuple[str, str, dt.datetime | None, dt.datetime | None]] = [
            (str(a), str(st), _aware(b), _aware(e)) for a, st, b, e in periods
        ]
        now = self.clock()
        if self._current is not None and w.since < now:
            # A live window: the periods still running count up to now.
            rows += [
                (a, st, since, min(now, w.until))
                for a, st, since in await self._current()
                if a in per and st != "logged_out" and since < w.until
            ]
        wraps: dict[str, list[tuple[dt.datetime, dt.datetime]]] = {}
        for agent, status, start, end in rows:
            assert start is not None and end is not None
            per[agent]["logged_in"] += _clip(start, end, w)
            if status == "wrap_up":
                wraps.setdefault(agent, []).append((start, end))
        slack = dt.timedelta(seconds=WRAP_SLACK_SECONDS)
        for agent, talk, ended_at in calls:
            per[agent]["talk"] += float(talk or 0.0)
            end = _aware(ended_at)
            if end is None:
                continue
            for start, stop in wraps.get(agent, []):
                if abs(start - end) <= slack:
                    per[agent]["wrap"] += _clip(start, stop, w)
                    break
        total = {k: sum(p[k] for p in per.values()) for k in ("talk", "wrap", "logged_in")}

        def rate(p: dict[str, float]) -> float:
            return round((p["talk"] + p["wrap"]) / p["logged_in"], 4) if p["logged_in"] else 0.0

        return {
            "agents": {
                x: {
                    "talk_seconds": round(p["talk"], 2), "wrap_seconds": round(p["wrap"], 2),
                    "logged_in_seconds": round(p["logged_in"], 2), "rate": rate(p),
                }
                for x, p in per.items()
            },
            "talk_seconds": round(total["talk"], 2),
            "wrap_seconds": round(total["wrap"], 2),
            "logged_in_seconds": round(total["logged_in"], 2),
            "rate": rate(total),
        }  # fmt: skip

    async def outcome_rows(self, campaign_id: int, w: Window) -> list[list[Any]]:
        """One row per attempt in the window, and one per contact never attempted (attempt fields
        empty), in list order (priority, then the list's order), attempts in time order."""
        c, a, r = CampaignContact, CampaignAttempt, CallRecord
        async with self.sessions() as s:
            contacts = list(
                await s.scalars(
                    select(c).where(c.campaign_id == campaign_id).order_by(c.priority.desc(), c.id)
                )
            )
            attempts = (
                await s.execute(
                    select(a, r.talk_seconds)
                    .outerjoin(r, (r.call_id == a.call_id) & (a.call_id != ""))
                    .where(a.campaign_id == campaign_id, a.at >= _utc(w.since), a.at < _utc(w.until))
                    .order_by(a.at, a.id)
                )
            ).all()
        by_contact: dict[int, list[tuple[CampaignAttempt, float | None]]] = {}
        for att, talk in attempts:
            by_contact.setdefault(att.contact_id, []).append((att, talk))
        rows: list[list[Any]] = []
        for k in contacts:
            head = [k.id, k.number, k.customer_id or "", k.name, k.priority, k.state, k.disposition or ""]
            tried = by_contact.get(k.id, [])
            if not tried:
                rows.append([*head, *([""] * 10)])
            for att, talk in tried:
                at = _aware(att.at)
                assert at is not None
                rows.append([
                    *head, att.id, at.astimezone(VN_TZ).isoformat(timespec="seconds"), att.outcome,
                    att.reason or "", att.connected, att.agent_id, att.disposition or "", att.note,
                    att.call_id, round(float(talk), 2) if talk is not None else "",
                ])  # fmt: skip
        return rows


def _cell(v: Any) -> Any:
    if isinstance(v, bool):
        return "yes" if v else "no"
    if isinstance(v, int | float):
        return v
    return neutralise(str(v))


def outcomes_csv(rows: Iterable[Sequence[Any]]) -> bytes:
    """UTF-8 with a byte order mark (Excel shows the diacritics), every text cell neutralised."""
    buf = io.StringIO()
    w = csv.writer(buf)
    w.writerow(EXPORT_COLUMNS)
    for row in rows:
        w.writerow([_cell(v) for v in row])
    return ("\ufeff" + buf.getvalue()).encode("utf-8")


def _xcell(v: Any) -> Any:
    # openpyxl stores only a string starting with "=" as a formula: the rest stay text as they are
    # (an E.164 number keeps its "+" without an apostrophe).
    if isinstance(v, bool):
        return "yes" if v else "no"
    return neutralise(v) if isinstance(v, str) and v.lstrip().startswith(("=", "＝")) else v


def outcomes_xlsx(report: dict[str, Any], rows: Iterable[Sequence[Any]]) -> bytes:
    """Two sheets: the outcomes per contact and attempt, and the report's figures."""
    figures: list[list[Any]] = [
        [k, report[k]]
        for k in ("dialled", "answered", "connected", "abandoned", "abandon_rate", "abandon_cap", "machines")
    ]
    figures += [[f"refused:{k}", n] for k, n in sorted(report["refusals"].items())]
    figures += [[f"outcome:{k}", n] for k, n in sorted(report["outcomes"].items())]
    figures += [
        ["occupancy", report["occupancy"]["rate"]],
        ["since", report["since"]],
        ["until", report["until"]],
    ]
    figures += [[f"definition:{k}", v] for k, v in DEFINITIONS.items()]
    return table_workbook([
        ("outcomes", EXPORT_COLUMNS, [[_xcell(v) for v in row] for row in rows]),
        ("figures", ["figure", "value"], [[_xcell(a), _xcell(b)] for a, b in figures]),
    ])  # fmt: skip
