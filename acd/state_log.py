"""The ``agent_state_log`` writer: each finished status period of an agent, written in the background.

The AMI event loop must never wait on the database, so periods are queued and one task writes them in
batches (one transaction per batch of up to 500). At shutdown what is queued is written first, within
a deadline.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from datetime import UTC, datetime

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from acd.agent_state import AgentState
from acd.models import AgentStateLog
from core.db import unit_of_work

log = logging.getLogger(__name__)

__all__ = ["StateLogWriter"]

_BATCH = 500


def _ts(epoch: float) -> datetime:
    return datetime.fromtimestamp(epoch, UTC)


class StateLogWriter:
    """Queues finished status periods and writes them in batches from one background task."""

    def __init__(self, sessions: async_sessionmaker[AsyncSession], max_queued: int = 100_000) -> None:
        self._sessions = sessions
        self._queue: asyncio.Queue[AgentStateLog] = asyncio.Queue(maxsize=max_queued)
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name="acd-agent-state-log")

    def period_ended(self, prev: AgentState, cur: AgentState) -> None:
        """``prev``'s status lasted until ``cur`` began: queue its row (never waits)."""
        row = AgentStateLog(
            agent=prev.agent_id,
            status=prev.status,
            reason=prev.reason,
            started=_ts(prev.since),
            ended=_ts(cur.since),
            seconds=max(0.0, cur.since - prev.since),
        )
        try:
            self._queue.put_nowait(row)
        except asyncio.QueueFull:
            log.error("agent state log queue full; a %s period of %s is lost", prev.status, prev.agent_id)

    async def stop(self, timeout: float = 5) -> None:
        """Write what is queued (within ``timeout``), then stop the task."""
        if self._task is None:
            return
        with contextlib.suppress(Exception):
            await asyncio.wait_for(self._queue.join(), timeout)
        self._task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await self._task
        self._task = None

    async def _run(self) -> None:
        while True:
            rows = [await self._queue.get()]
            while not self._queue.empty() and len(rows) < _BATCH:
                rows.append(self._queue.get_nowait())
            try:
                async with unit_of_work(self._sessions) as s:
                    s.add_all(rows)
            except Exception:
                log.exception("agent state log: %d rows not written", len(rows))
            finally:
                for _ in rows:
                    self._queue.task_done()
