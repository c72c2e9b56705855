"""Scheduled retention: the node purges old data itself, kind by kind, on the periods of config.yaml
``retention`` (docs/operations.md), instead of relying on someone running the purge commands.

Each package registers the purge of its own data (recordings, CDRs, the audit log: their
``component.py``); this module only schedules them and keeps the legal hold in one place. The clock
and the sleep are injectable, so a test runs a year of schedule in no time against real rows and files.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from prometheus_client import CollectorRegistry, Counter

from core.config import LegalHold, RetentionConfig, RetentionKind

log = logging.getLogger(__name__)

# A purge: delete what is older than ``cutoff`` except what the hold covers; returns how many went.
Purge = Callable[[datetime, LegalHold], Awaitable[int]]
Clock = Callable[[], datetime]
Sleep = Callable[[float], Awaitable[None]]


def _now() -> datetime:
    return datetime.now(UTC)


@dataclass
class _Job:
    kind: str
    every: timedelta
    keep: timedelta
    purge: Purge
    next_run: datetime
    purged: int = 0
    failures: int = 0


class RetentionScheduler:
    """Runs each registered purge every ``every_hours`` (the first run right after start)."""

    def __init__(
        self,
        config: RetentionConfig,
        *,
        clock: Clock = _now,
        sleep: Sleep = asyncio.sleep,
        registry: CollectorRegistry | None = None,
    ) -> None:
        self.config = config
        self._clock, self._sleep = clock, sleep
        self.jobs: dict[str, _Job] = {}
        self._task: asyncio.Task[None] | None = None
        self._purged = Counter(
            "tongdai_retention_purged",
            "Rows (and their files) purged by scheduled retention",
            ["kind"],
            registry=registry,
        )

    def register(
        self, kind: str, settings: RetentionKind, purge: Purge, *, default_days: int | None = None
    ) -> bool:
        """Schedule ``purge`` for ``kind`` if retention is on and it has a retention period (its
        ``keep_days``, else ``default_days``). Returns whether it was scheduled."""
        days = settings.keep_days or default_days
        if not (self.config.enabled and settings.enabled and days):
            log.info("retention of %s: not scheduled (kept until purged by hand)", kind)
            return False
        self.jobs[kind] = _Job(
            kind, timedelta(hours=settings.every_hours), timedelta(days=days), purge, self._clock()
        )
        return True

    async def run_due(self) -> dict[str, int]:
        """Run every job that is due now; kind → rows purged. A failing purge is retried next period."""
        now = self._clock()
        done: dict[str, int] = {}
        for job in self.jobs.values():
            if job.next_run > now:
                continue
            job.next_run = now + job.every
            try:
                n = await job.purge(now - job.keep, self.config.legal_hold)
            except Exception:
                job.failures += 1
                log.exception("retention of %s failed; retried in %s", job.kind, job.every)
                continue
            job.purged += n
            self._purged.labels(job.kind).inc(n)
            done[job.kind] = n
            if n:
                log.info("retention: %d %s older than %s purged", n, job.kind, job.keep)
        return done

    def seconds_to_next(self) -> float:
        if not self.jobs:
            return 3600.0
        nxt = min(j.next_run for j in self.jobs.values())
        return max(1.0, (nxt - self._clock()).total_seconds())

    def start(self) -> None:
        if not self.jobs:
            return

        async def loop() -> None:
            await self._sleep(30)  # let start-up (migrations, spool drain, CSV reconcile) finish first
            while True:
                await self.run_due()
                await self._sleep(self.seconds_to_next())

        self._task = asyncio.get_running_loop().create_task(loop(), name="retention")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
