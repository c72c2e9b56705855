"""HTTP edge of the reports: ``GET /api/reports/service-level`` for supervisors and integrations."""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated, Any

from aiohttp import web
from pydantic import ConfigDict, Field, WithJsonSchema
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from core.errors import Unavailable
from core.http import Access, Args, Call, Route, add_routes
from reports.config import ReportsConfig
from reports.service_level import parse_period, service_level_report

# parse_period checks the text (its errors name the field: report.bad_period); the schema says it.
_DATE = {"type": "string", "format": "date"}
Since = Annotated[str | None, WithJsonSchema({**_DATE, "examples": ["2026-11-01"]})]
Until = Annotated[str | None, WithJsonSchema({**_DATE, "examples": ["2026-11-02"]})]


def _both_required(schema: dict[str, Any]) -> None:
    schema["required"] = ["since", "until"]


class ServiceLevelArgs(Args):
    model_config = ConfigDict(json_schema_extra=_both_required)

    since: Since = Field(None, description="first day (Asia/Ho_Chi_Minh), inclusive")
    until: Until = Field(None, description="last day, exclusive; after since, within reports.max_days")
    queue: str | None = Field(None, pattern=r"^[a-z][a-z0-9_-]{0,38}$", description="one queue only")


Sessions = Callable[[], async_sessionmaker[AsyncSession] | None]


def add_report_routes(app: web.Application, sessions: Sessions, cfg: ReportsConfig) -> None:
    async def service_level(c: Call[ServiceLevelArgs]) -> Any:
        a = c.args
        since, until = parse_period(a.since, a.until, max_days=cfg.max_days)
        db = sessions()
        if db is None:
            raise Unavailable("the database is not ready")
        report = await service_level_report(db, since, until, config=cfg, queue=a.queue)
        return report.to_json()

    route = Route(
        "GET",
        "/api/reports/service-level",
        "Historical service level (QCVN 36:2022) per day, queue, tier and agent for Vietnam days "
        f"[since, until); at most {cfg.max_days} days",
        service_level,
        ServiceLevelArgs,
        access=Access.SUPERVISOR,
        errors=(503,),
        name="reports.service_level",
        result={"type": "object", "required": ["total", "days", "definitions"]},
        tag="reports",
    )
    add_routes(app, [route])
