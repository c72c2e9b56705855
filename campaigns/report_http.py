"""HTTP edge of a campaign's report and the export of its outcomes, for supervisors (campaigns/report.py):
``GET /api/campaigns/{id}/report``, ``/outcomes.csv`` and ``/outcomes.xlsx``, each over an optional
``[since, until)`` (default: from the campaign's creation until now). Every export is audited."""

from __future__ import annotations

import datetime as dt
from typing import Any, Literal

from aiohttp import web
from pydantic import Field, field_validator

from campaigns.config import CampaignsConfig
from campaigns.http import _STATS, CampaignRef, _when
from campaigns.report import CampaignReports, CurrentPeriods, Window, outcomes_csv, outcomes_xlsx
from campaigns.store import CampaignStore, CampaignView
from core.audit import Audit
from core.errors import BadRequest
from core.http import Access, Call, Route


class ReportArgs(CampaignRef):
    since: dt.datetime | None = Field(
        None, description="ISO 8601 (no zone: Việt Nam); default: the campaign's creation"
    )
    until: dt.datetime | None = Field(None, description="ISO 8601, exclusive; default: now")

    @field_validator("since", "until")
    @classmethod
    def _sane(cls, v: dt.datetime | None) -> dt.datetime | None:
        return _when(v)


XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
_REPORT: dict[str, Any] = {
    "type": "object",
    "required": ["dialled", "answered", "connected", "abandoned", "abandon_rate", "abandon_cap", "occupancy"],
    "properties": {
        **_STATS["properties"],
        "name": {"type": "string"},
        "since": {"type": "string"},
        "until": {"type": "string"},
        "abandon_cap": {"type": "number"},
        "over_cap": {"type": "boolean"},
        "occupancy": {"type": "object"},
        "definitions": {"type": "object"},
    },
}


def report_routes(
    store: CampaignStore, audit: Audit, config: CampaignsConfig, current: CurrentPeriods | None = None
) -> list[Route]:
    reports = CampaignReports(store.sessions, current, clock=lambda: store.clock())  # noqa: PLW0108 (store.clock may be replaced)

    async def window(a: ReportArgs) -> tuple[CampaignView, Window]:
        campaign = await store.get(a.id)
        w = Window(a.since or campaign.created_at, a.until or store.clock())
        if w.until <= w.since:
            raise BadRequest("until must be after since")
        return campaign, w

    async def report(c: Call[ReportArgs]) -> Any:
        campaign, w = await window(c.args)
        return await reports.report(campaign, w, abandon_cap=config.abandon_cap)

    def export(kind: Literal["csv", "xlsx"]) -> Any:
        async def handler(c: Call[ReportArgs]) -> Any:
            campaign, w = await window(c.args)
            rows = await reports.outcome_rows(campaign.id, w)
            if kind == "csv":
                body, media = outcomes_csv(rows), "text/csv; charset=utf-8"
            else:
                figures = await reports.report(campaign, w, abandon_cap=config.abandon_cap)
                body, media = outcomes_xlsx(figures, rows), XLSX
            await audit(
                c.who.agent_id, "campaign.export", "campaign", str(campaign.id),
                detail=f"{kind}, {len(rows)} rows, {w.since.isoformat()} to {w.until.isoformat()}",
            )  # fmt: skip
            name = f"campaign-{campaign.id}-outcomes.{kind}"
            return web.Response(
                body=body,
                headers={
                    "Content-Type": media,
                    "Content-Disposition": f'attachment; filename="{name}"',
                    "Cache-Control": "no-store",
                },
            )

        return handler

    tag, sup = "campaigns", Access.SUPERVISOR
    return [
        Route(
            "GET", "/api/campaigns/{id}/report",
            "A campaign's report over [since, until): dialled, answered, connected, abandoned (rate vs "
            "the cap), machines, refusals by rule, agent occupancy", report, ReportArgs,
            access=sup, result=_REPORT, tag=tag, errors=(404,),
        ),
        Route(
            "GET", "/api/campaigns/{id}/outcomes.csv",
            "The outcomes per contact and attempt over [since, until), as CSV (audited)",
            export("csv"), ReportArgs, access=sup, media="text/csv", tag=tag, errors=(404,),
        ),
        Route(
            "GET", "/api/campaigns/{id}/outcomes.xlsx",
            "The outcomes per contact and attempt, and the report's figures, as XLSX (audited)",
            export("xlsx"), ReportArgs, access=sup, media=XLSX, tag=tag, errors=(404,),
        ),
    ]  # fmt: skip
