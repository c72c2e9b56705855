"""Scheduled reports: each Vietnam day, once ``reports.schedule.at`` has passed, the previous day's
report page figures (reports/page_export.py: the same table as the page's exports) written as files in
``reports.schedule.directory``. A file already there is never rewritten, so a restart or a second node
writing to the same directory adds nothing twice; a day missed while the node was down is written at
its next run, up to ``catch_up_days`` back. Files appear whole (written aside, then renamed)."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable
from datetime import date, datetime, timedelta
from pathlib import Path

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from core.vietnam import VN_TZ
from reports import breakdown, page_export
from reports.config import ReportsConfig, ScheduleConfig

log = logging.getLogger(__name__)


def file_name(day: date, fmt: str) -> str:
    return f"service-level-{day.isoformat()}.{fmt}"


def due(now: datetime, cfg: ScheduleConfig, exists: Callable[[str], bool]) -> list[tuple[date, str]]:
    """The (day, format) files to write at ``now``: every day of the catch-up window up to yesterday
    (today's only counts once ``at`` has passed: yesterday's is then complete) not yet written."""
    local = now.astimezone(VN_TZ)
    last = local.date() - timedelta(days=1 if local.time() >= cfg.at else 2)
    days = [last - timedelta(days=i) for i in range(cfg.catch_up_days)]
    return [(d, f) for d in sorted(days) for f in cfg.formats if not exists(file_name(d, f))]


async def write_day(
    sessions: async_sessionmaker[AsyncSession], day: date, fmt: str, directory: Path, cfg: ReportsConfig
) -> Path:
    until = day + timedelta(days=1)
    page = await breakdown.page_report(sessions, day, until, cfg)
    body = page_export.to_csv(page) if fmt == "csv" else page_export.to_xlsx(page)
    path = directory / file_name(day, fmt)
    await asyncio.to_thread(_write_whole, path, body)
    return path


def _write_whole(path: Path, body: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".partial")
    tmp.write_bytes(body)
    tmp.replace(path)


async def run_due(
    sessions: async_sessionmaker[AsyncSession], cfg: ReportsConfig, now: datetime
) -> list[Path]:
    """Write every file due at ``now``; returns what was written."""
    sched = cfg.schedule
    if sched.directory is None:
        return []
    directory = Path(sched.directory)
    written = []
    for day, fmt in due(now, sched, lambda name: (directory / name).exists()):
        written.append(await write_day(sessions, day, fmt, directory, cfg))
        log.info("scheduled report %s written", written[-1])
    return written


class ReportScheduler:
    """Checks every ``interval`` seconds (and at start) which files are due, and writes them."""

    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        cfg: ReportsConfig,
        *,
        clock: Callable[[], datetime] = lambda: datetime.now(VN_TZ),
        interval: float = 300.0,
    ) -> None:
        self._sessions, self._cfg, self._clock, self._interval = sessions, cfg, clock, interval
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        self._task = asyncio.create_task(self._loop(), name="reports.scheduler")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None

    async def _loop(self) -> None:
        while True:
            try:
                await run_due(self._sessions, self._cfg, self._clock())
            except Exception:  # a full disk or a locked database: logged, tried again next round
                log.exception("scheduled reports not written; trying again in %.0f s", self._interval)
            await asyncio.sleep(self._interval)
