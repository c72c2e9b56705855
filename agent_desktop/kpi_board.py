"""The wallboard's satisfaction block ("kpis" in each wallboard frame): today's CSAT, survey response
rate, repeat contacts and the latest FCR, with their definitions.

Kept apart from the call figures of agent_desktop/wallboard.py (which folds bus events): these come
from the database (``survey_answers``, ``calls``), refreshed when a survey ends or a call ends (at
most every ``min_interval`` seconds) and every ``refresh_seconds`` (a day rolls over, a window closes);
the owner-wide figures (repeat today, FCR) at most every ``slow_seconds``.

* CSAT, response rate, said solved: today's surveys (reports/satisfaction.py, the same SQL as the
  report), in total and per queue;
* repeat contacts today: today's contacts that follow an earlier contact of the same owner within the
  repeat window (known at once; reports/repeat_contacts.py ``returning_contacts``);
* FCR: a contact's FCR is known only once its window closed, so the board shows the latest day whose
  contacts' windows close today (``fcr_day``, the window's length ago), as the report counts it.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import math
import time
from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from core.bus import BusEvent, EventBus
from core.vietnam import VN_TZ
from reports.repeat_contacts import repeat_contacts, returning_contacts
from reports.satisfaction import DEFINITIONS as KPI_DEFINITIONS
from reports.satisfaction import SurveyFigures, survey_figures
from reports.service_level import day_start_utc

log = logging.getLogger(__name__)

DEFINITIONS = {
    "csat": KPI_DEFINITIONS["csat"] + "; today's surveys",
    "csat_top2": KPI_DEFINITIONS["csat_top2"],
    "response_rate": KPI_DEFINITIONS["response_rate"] + "; today's surveys",
    "repeat_today": "today's contacts that follow another contact of the same owner within the repeat window",
    "fcr": "FCR of the contacts of fcr_day, whose repeat window closes today (reports: the same rule)",
}


class KpiBoard:
    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        *,
        window: timedelta,
        changed: Callable[[], None],
        now: Callable[[], float] = time.time,
        min_interval: float = 5.0,
        refresh_seconds: float = 60.0,
        slow_seconds: float = 300.0,
    ) -> None:
        self._sessions = sessions
        self.window = window
        self._changed = changed
        self._now = now
        self.min_interval = min_interval
        self.refresh_seconds = refresh_seconds
        # The owner-wide figures (repeat today, FCR) scan every contact of the window: about 3 s of
        # database time at 1M calls (docs/benchmarks.md), so at most every slow_seconds; the surveys
        # (today's rows only) at every refresh.
        self.slow_seconds = slow_seconds
        self._slow: tuple[float, str, dict[str, Any]] | None = None  # (when, day, figures)
        self._last: dict[str, Any] | None = None
        self._task: asyncio.Task[None] | None = None
        self._poked = asyncio.Event()

    def attach(self, bus: EventBus) -> None:
        bus.subscribe("survey.finished", self._on_event, name="kpi-board-surveys")
        bus.subscribe("call.ended", self._on_event, name="kpi-board-calls")

    async def _on_event(self, _: BusEvent) -> None:
        self._poked.set()

    def snapshot(self) -> dict[str, Any] | None:
        return self._last

    async def refresh(self) -> dict[str, Any]:
        now = datetime.fromtimestamp(self._now(), UTC)
        day = now.astimezone(VN_TZ).date()
        start, end = day_start_utc(day), day_start_utc(day + timedelta(days=1))
        total, queues = SurveyFigures(), dict[str, SurveyFigures]()
        for _, queue, _agent, f in await survey_figures(self._sessions, start, end, [start, end]):
            total.add(f)
            queues.setdefault(queue, SurveyFigures()).add(f)
        slow = self._slow
        if slow is None or slow[1] != day.isoformat() or self._now() - slow[0] >= self.slow_seconds:
            slow = self._slow = (self._now(), day.isoformat(), await self._owners(day, start, end, now))
        self._last = {
            "day": day.isoformat(),
            "window_days": round(self.window.total_seconds() / 86400, 2),
            "definitions": DEFINITIONS,
            "total": {**total.to_json(), **slow[2]["total"]},
            "queues": [{"name": q, **f.to_json()} for q, f in sorted(queues.items())],
            **{k: v for k, v in slow[2].items() if k != "total"},
        }
        return self._last

    async def _owners(self, day: date, start: datetime, end: datetime, now: datetime) -> dict[str, Any]:
        back = await returning_contacts(self._sessions, start, end, window=self.window)
        fcr_day = day - timedelta(days=math.ceil(self.window.total_seconds() / 86400))
        closed = await repeat_contacts(
            self._sessions, fcr_day, fcr_day + timedelta(days=1), window=self.window, now=now
        )
        return {
            "total": {
                "contacts": back.contacts,
                "repeat_today": back.returning,
                "repeat_today_rate": back.rate,
            },
            "fcr_day": fcr_day.isoformat(),
            "fcr": closed.total.fcr,
            "fcr_contacts": closed.total.answered_closed,
            "fcr_pending": closed.total.pending,
        }

    def start(self) -> None:
        self._task = asyncio.get_running_loop().create_task(self._run(), name="kpi-board")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None

    async def _run(self) -> None:
        while True:
            try:
                await self.refresh()
                self._changed()
            except Exception:  # the database may be away for a while: the board keeps its last figures
                log.exception("wallboard KPIs: refresh failed")
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(self.refresh_seconds):
                    await self._poked.wait()
            self._poked.clear()
            await asyncio.sleep(self.min_interval)  # a burst of ended calls makes one refresh
