"""HTTP edge of the reports: the service level (``GET /api/reports/service-level``, supervisors and
integrations), the report page's figures with their half-hour and agent cuts, the calls behind a bar,
the page's CSV and XLSX exports, the audit viewer (supervisors and ``reports.audit_viewers``), and the
satisfaction KPIs (reports/satisfaction_http.py)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, timedelta
from typing import Annotated, Any, Literal

from aiohttp import web
from pydantic import ConfigDict, Field, WithJsonSchema
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from core.audit import Audit
from core.errors import Forbidden, Unavailable
from core.http import Access, Args, Call, Route, add_routes
from core.identity import Who
from reports import audit_view, breakdown, page_export
from reports.config import ReportsConfig
from reports.satisfaction_http import satisfaction_routes
from reports.service_level import parse_period, service_level_report

# parse_period checks the text (its errors name the field: report.bad_period); the schema says it.
_DATE = {"type": "string", "format": "date"}
Since = Annotated[str | None, WithJsonSchema({**_DATE, "examples": ["2026-11-01"]})]
Until = Annotated[str | None, WithJsonSchema({**_DATE, "examples": ["2026-11-02"]})]
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


class AuditViewersOnly(Forbidden):
    error_id = "access.audit_viewers_only"


def _both_required(schema: dict[str, Any]) -> None:
    schema["required"] = ["since", "until"]


class ServiceLevelArgs(Args):
    model_config = ConfigDict(json_schema_extra=_both_required)

    since: Since = Field(None, description="first day (Asia/Ho_Chi_Minh), inclusive")
    until: Until = Field(None, description="last day, exclusive; after since, within reports.max_days")
    queue: str | None = Field(None, pattern=r"^[a-z][a-z0-9_-]{0,38}$", description="one queue only")


class DrillArgs(ServiceLevelArgs):
    scope: Literal["total", "day", "halfhour", "queue", "tier", "agent"] = Field(
        "total", description="the bar's cut"
    )
    key: str = Field("", max_length=64, description="the bar's key: a day, 08:30, a queue, tier or agent")


class AuditArgs(Args):
    model_config = ConfigDict(json_schema_extra=_both_required)

    since: Since = Field(None, description="first day (Asia/Ho_Chi_Minh), inclusive")
    until: Until = Field(None, description="last day, exclusive")
    actor: str | None = Field(None, max_length=32, description="who did it")
    kind: Literal["customer", "recording", "campaign", "auth", "quality", "audit"] | None = None
    action: str | None = Field(None, max_length=32, pattern=r"^[a-z_]+\.[a-z_.]+$")
    subject_id: str | None = Field(None, max_length=64, description="a customer, call, campaign …")
    limit: int = Field(500, ge=1, le=5000)


Sessions = Callable[[], async_sessionmaker[AsyncSession] | None]


def add_report_routes(  # noqa: C901 (one closure per route, as the other edges)
    app: web.Application, sessions: Sessions, cfg: ReportsConfig, audit: Audit | None = None
) -> None:
    def db() -> async_sessionmaker[AsyncSession]:
        s = sessions()
        if s is None:
            raise Unavailable("the database is not ready")
        return s

    async def service_level(c: Call[ServiceLevelArgs]) -> Any:
        a = c.args
        since, until = parse_period(a.since, a.until, max_days=cfg.max_days)
        report = await service_level_report(db(), since, until, config=cfg, queue=a.queue)
        return report.to_json()

    async def page_figures(a: ServiceLevelArgs) -> dict[str, Any]:
        since, until = parse_period(a.since, a.until, max_days=cfg.max_days)
        return await breakdown.page_report(db(), since, until, cfg, queue=a.queue)

    async def page(c: Call[ServiceLevelArgs]) -> Any:
        return await page_figures(c.args)

    async def calls(c: Call[DrillArgs]) -> Any:
        a = c.args
        since, until = parse_period(a.since, a.until, max_days=cfg.max_days)
        if a.scope == "day":  # one day of the period (or none, for a key outside it)
            since, until = _one_day(a.key, since, until)
        narrow = (a.scope, a.key)
        rows = await breakdown.call_rows(db(), since, until, cfg, queue=a.queue, narrow=narrow)
        found = breakdown.behind(rows, a.scope, a.key)
        shown = found[-cfg.drilldown_limit :]
        return {
            "scope": a.scope,
            "key": a.key,
            "count": len(found),
            "truncated": len(shown) < len(found),
            "calls": [r.to_json() for r in shown],
        }

    def export(kind: Literal["csv", "xlsx"]) -> Any:
        async def handler(c: Call[ServiceLevelArgs]) -> Any:
            figures = await page_figures(c.args)
            body = page_export.to_csv(figures) if kind == "csv" else page_export.to_xlsx(figures)
            media = "text/csv; charset=utf-8" if kind == "csv" else XLSX
            name = f"service-level-{figures['since']}-{figures['until']}.{kind}"
            return _download(body, media, name)

        return handler

    def viewer(who: Who) -> None:
        if not audit_view.is_viewer(who.agent_id, who.supervisor, cfg.audit_viewers):
            raise AuditViewersOnly("supervisors and data-protection officers only")

    async def audit_rows(c: Call[AuditArgs], action: str) -> tuple[list[dict[str, Any]], int]:
        a = c.args
        viewer(c.who)
        since, until = parse_period(a.since, a.until, max_days=cfg.max_days)
        f = audit_view.AuditFilter(since, until, a.actor, a.kind, a.action, a.subject_id)
        entries, total = await audit_view.search(db(), f, limit=a.limit)
        if audit is not None:  # who read whose accesses is itself on the trail
            detail = f"{since}..{until} " + " ".join(
                f"{k}={v}" for k, v in (("actor", a.actor), ("kind", a.kind), ("action", a.action),
                                        ("subject", a.subject_id)) if v
            )  # fmt: skip
            await audit(c.who.agent_id, action, "audit_log", a.subject_id or "", detail.strip())
        return entries, total

    async def audit_list(c: Call[AuditArgs]) -> Any:
        entries, total = await audit_rows(c, "audit.view")
        return {"total": total, "entries": entries}

    async def audit_csv(c: Call[AuditArgs]) -> Any:
        entries, _ = await audit_rows(c, "audit.export")
        return _download(audit_view.to_csv(entries), "text/csv; charset=utf-8", "audit.csv")

    tag, sup, people = "reports", Access.SUPERVISOR, Access.PEOPLE
    routes = [
        Route(
            "GET", "/api/reports/service-level",
            "Historical service level (QCVN 36:2022) per day, queue, tier and agent for Vietnam days "
            f"[since, until); at most {cfg.max_days} days", service_level, ServiceLevelArgs,
            access=sup, errors=(503,), name="reports.service_level",
            result={"type": "object", "required": ["total", "days", "definitions"]}, tag=tag,
        ),
        Route(
            "GET", "/api/reports/page",
            "The report page's figures: the service-level report plus per half-hour and per agent",
            page, ServiceLevelArgs, access=sup, errors=(503,),
            result={"type": "object", "required": ["total", "days", "half_hours", "agent_figures"]}, tag=tag,
        ),
        Route(
            "GET", "/api/reports/calls",
            "The calls behind one bar of the report page (scope and key), oldest first", calls, DrillArgs,
            access=sup, errors=(503,), result={"type": "object", "required": ["count", "calls"]}, tag=tag,
        ),
        Route(
            "GET", "/api/reports/page.csv", "The report page's figures as CSV", export("csv"),
            ServiceLevelArgs, access=sup, errors=(503,), media="text/csv", tag=tag,
        ),
        Route(
            "GET", "/api/reports/page.xlsx", "The report page's figures as XLSX", export("xlsx"),
            ServiceLevelArgs, access=sup, errors=(503,), media=XLSX, tag=tag,
        ),
        Route(
            "GET", "/api/audit",
            "The audit trail, newest first (supervisors and data-protection officers; audited)",
            audit_list, AuditArgs, access=people, errors=(503,),
            result={"type": "object", "required": ["total", "entries"]}, tag="audit",
        ),
        Route(
            "GET", "/api/audit.csv", "The audit trail as CSV (audited)", audit_csv, AuditArgs,
            access=people, errors=(503,), media="text/csv", tag="audit",
        ),
    ]  # fmt: skip
    routes += satisfaction_routes(db, cfg)  # CSAT, FCR, repeat rate (reports/satisfaction_http.py)
    add_routes(app, routes)


def _one_day(key: str, since: date, until: date) -> tuple[date, date]:
    """The period of one day's bar; an empty one for a key that is no day of the period (the bar
    does not exist: no calls, as for any other key nothing matches)."""
    try:
        day = date.fromisoformat(key)
    except ValueError:
        return since, since
    if not since <= day < until:
        return since, since  # an empty period: no calls
    return day, day + timedelta(days=1)


def _download(body: bytes, media: str, name: str) -> web.Response:
    return web.Response(
        body=body,
        headers={
            "Content-Type": media,
            "Content-Disposition": f'attachment; filename="{name}"',
            "Cache-Control": "no-store",
        },
    )
