"""The ``agent_state_log`` writer: each finished status period of an agent, written in the background.

The AMI event loop must never wait on the database, so periods are queued and one task writes them in
batches (one transaction per batch of up to 500), retrying transient errors. At shutdown what is
queued is written first, within a deadline.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from datetime import UTC, datetime

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from acd.agent_state import AgentState
from acd.models import AgentStateLog
from core.db import insert_rows, row_values, unit_of_work
from core.writer import Writer

log = logging.getLogger(__name__)

__all__ = ["StateLogWriter"]

_BATCH = 500


def _ts(epoch: float) -> datetime:
    return datetime.fromtimestamp(epoch, UTC)


class StateLogWriter:
    """Queues finished status periods and writes them in batches from one background task (a
    :class:`core.writer.Writer`: a locked SQLite file or a PostgreSQL outage is retried, not lost)."""

    def __init__(self, sessions: async_sessionmaker[AsyncSession], max_queued: int = 100_000) -> None:
        self._sessions = sessions
        self.writer: Writer[AgentStateLog] = Writer(
            "agent-state-log", self._write, capacity=max_queued, batch=_BATCH
        )

    def start(self) -> None:
        self.writer.start()

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
        self.writer.submit(row)

    async def stop(self, timeout: float = 5) -> None:
        """Write what is queued (within ``timeout``), then stop the task."""
        await self.writer.stop(timeout)

    async def _write(self, rows: Sequence[AgentStateLog]) -> None:
        async with unit_of_work(self._sessions) as s:  # values, not the objects: retries reuse nothing
            await insert_rows(s, AgentStateLog, [row_values(r) for r in rows])
