"""HTTP edge of the satisfaction KPIs (reports/satisfaction.py), for supervisors and integrations:
``GET /api/reports/satisfaction`` (CSAT, survey response rate, FCR, repeat rate, with their
definitions) and its ``.csv`` and ``.xlsx`` exports, which carry the same numbers."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from typing import Annotated, Any, Literal

from aiohttp import web
from pydantic import ConfigDict, Field, WithJsonSchema
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from core.http import Access, Args, Call, Route
from reports.config import ReportsConfig
from reports.satisfaction import KpiReport, kpi_csv, kpi_report, kpi_xlsx
from reports.service_level import parse_period

_DATE = {"type": "string", "format": "date"}
Since = Annotated[str | None, WithJsonSchema({**_DATE, "examples": ["2026-11-01"]})]
Until = Annotated[str | None, WithJsonSchema({**_DATE, "examples": ["2026-11-02"]})]
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


def _both_required(schema: dict[str, Any]) -> None:
    schema["required"] = ["since", "until"]


class SatisfactionArgs(Args):
    model_config = ConfigDict(json_schema_extra=_both_required)

    since: Since = Field(None, description="first day (Asia/Ho_Chi_Minh), inclusive")
    until: Until = Field(None, description="last day, exclusive; after since, within reports.max_days")
    window_days: float | None = Field(
        None, gt=0, le=90, description="repeat window in days; default reports.repeat_window_days"
    )
    topic: Literal["none", "queue", "ivr_path", "disposition"] | None = Field(
        None, description="a repeat only about the same topic; default reports.repeat_topic"
    )


def satisfaction_routes(
    db: Callable[[], async_sessionmaker[AsyncSession]], cfg: ReportsConfig
) -> list[Route]:
    """``db`` gives the node's sessions (raising Unavailable while there are none)."""

    async def kpis(a: SatisfactionArgs) -> KpiReport:
        since, until = parse_period(a.since, a.until, max_days=cfg.max_days)
        window = timedelta(days=a.window_days or cfg.repeat_window_days)
        return await kpi_report(db(), since, until, window=window, topic=a.topic or cfg.repeat_topic)

    async def satisfaction(c: Call[SatisfactionArgs]) -> Any:
        return (await kpis(c.args)).to_json()

    def export(kind: Literal["csv", "xlsx"]) -> Any:
        async def handler(c: Call[SatisfactionArgs]) -> Any:
            report = await kpis(c.args)
            body = kpi_csv(report) if kind == "csv" else kpi_xlsx(report)
            name = f"satisfaction-{report.since}-{report.until}.{kind}"
            return web.Response(
                body=body,
                headers={
                    "Content-Type": "text/csv; charset=utf-8" if kind == "csv" else XLSX,
                    "Content-Disposition": f'attachment; filename="{name}"',
                    "Cache-Control": "no-store",
                },
            )

        return handler

    tag, sup = "reports", Access.SUPERVISOR
    return [
        Route(
            "GET", "/api/reports/satisfaction",
            "CSAT (mean, share of 4-5), survey response rate, FCR and repeat rate per day, queue and agent "
            f"for Vietnam days [since, until); at most {cfg.max_days} days; definitions included",
            satisfaction, SatisfactionArgs, access=sup, errors=(503,), name="reports.satisfaction",
            result={"type": "object", "required": ["total", "days", "definitions"]}, tag=tag,
        ),
        Route(
            "GET", "/api/reports/satisfaction.csv", "The satisfaction KPIs as CSV (the same numbers)",
            export("csv"), SatisfactionArgs, access=sup, errors=(503,), media="text/csv", tag=tag,
        ),
        Route(
            "GET", "/api/reports/satisfaction.xlsx", "The satisfaction KPIs as XLSX (the same numbers)",
            export("xlsx"), SatisfactionArgs, access=sup, errors=(503,), media=XLSX, tag=tag,
        ),
    ]  # fmt: skip
