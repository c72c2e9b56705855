"""Wiring of reports: the ``reports`` section, ``tongdai report service-level`` and ``tongdai report
satisfaction`` (read-only: they never migrate) and the scheduled report files (``reports.schedule``).
The HTTP report routes are the desktop API's."""

from __future__ import annotations

import argparse
import asyncio
import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import TYPE_CHECKING, Any

from core.cli import CliContext, Commands, Sessions
from core.component import ComponentSpec, Infra
from core.config import Section
from reports.config import ReportsConfig

if TYPE_CHECKING:
    from tongdai.settings import Settings

__all__ = ["SPEC", "ReportsSections", "running"]


class ReportsSections(Section):
    reports: ReportsConfig = ReportsConfig()


@asynccontextmanager
async def running(settings: Settings, infra: Infra) -> AsyncIterator[None]:
    """The scheduled report files, on a node with ``reports.schedule.directory``."""
    if settings.reports.schedule.directory is None:
        yield
        return
    from reports.scheduled import ReportScheduler

    scheduler = ReportScheduler(infra.sessions, settings.reports)
    scheduler.start()
    try:
        yield
    finally:
        await scheduler.stop()


def cmd_service_level(args: argparse.Namespace, ctx: CliContext[Settings]) -> int:
    from reports.service_level import BadPeriod, format_table, parse_period, service_level_report, write_csv

    s = ctx.settings()
    try:
        since, until = parse_period(args.since, args.until, max_days=s.reports.max_days)
    except BadPeriod as err:
        print(f"tongdai: {err}", file=sys.stderr)
        return 2

    async def run(sessions: Sessions) -> Any:
        return await service_level_report(sessions, since, until, config=s.reports, queue=args.queue)

    report = asyncio.run(ctx.with_db(s, run))
    print(format_table(report))
    if args.csv:
        with open(args.csv, "w", newline="", encoding="utf-8-sig") as f:
            write_csv(report, f)
        print(f"CSV written to {args.csv}")
    return 0


def cmd_satisfaction(args: argparse.Namespace, ctx: CliContext[Settings]) -> int:
    from datetime import timedelta

    from reports.satisfaction import format_table, kpi_csv, kpi_report, kpi_xlsx
    from reports.service_level import BadPeriod, parse_period

    s = ctx.settings()
    try:
        since, until = parse_period(args.since, args.until, max_days=s.reports.max_days)
    except BadPeriod as err:
        print(f"tongdai: {err}", file=sys.stderr)
        return 2
    window = timedelta(days=args.window_days or s.reports.repeat_window_days)
    topic = args.topic or s.reports.repeat_topic

    async def run(sessions: Sessions) -> Any:
        return await kpi_report(sessions, since, until, window=window, topic=topic)

    report = asyncio.run(ctx.with_db(s, run))
    print(format_table(report))
    for path, write in ((args.csv, kpi_csv), (args.xlsx, kpi_xlsx)):
        if path:
            with open(path, "wb") as f:
                f.write(write(report))
            print(f"written to {path}")
    return 0


def commands(cli: Commands) -> None:
    rep = cli.group("report", "historical reports")
    sl = rep.add("service-level", cmd_service_level, "QCVN 36 service level per day, queue, tier and agent")
    sl.add_argument("--since", required=True, help="first Vietnam day, e.g. 2026-11-01")
    sl.add_argument("--until", required=True, help="day after the last, e.g. 2026-12-01 (exclusive)")
    sl.add_argument("--queue", help="one queue only")
    sl.add_argument("--csv", help="also write a CSV (safe to open in a spreadsheet)")
    sa = rep.add("satisfaction", cmd_satisfaction, "CSAT, survey response rate, FCR and repeat rate")
    sa.add_argument("--since", required=True, help="first Vietnam day, e.g. 2026-11-01")
    sa.add_argument("--until", required=True, help="day after the last, e.g. 2026-12-01 (exclusive)")
    sa.add_argument("--window-days", type=float, help="repeat window (default reports.repeat_window_days)")
    sa.add_argument("--topic", choices=["none", "queue", "ivr_path", "disposition"])
    sa.add_argument("--csv", help="also write a CSV (safe to open in a spreadsheet)")
    sa.add_argument("--xlsx", help="also write an XLSX workbook (the same numbers)")


SPEC = ComponentSpec("reports", sections=ReportsSections, commands=commands)
