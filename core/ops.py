"""Core's operational parts of a node, built in one place for the composition root: the background
writers (call records, the audit trail), the metrics and readiness probes, and the retention scheduler.

:func:`start_operations` enters them on the node's exit stack *before* the bus's close is pushed, so
at stop the bus is drained first (every ``call.ended`` handed to the call writer) and the writers
flush after it, before the engine is disposed.
"""

from __future__ import annotations

import functools
from contextlib import AsyncExitStack
from dataclasses import dataclass
from typing import TYPE_CHECKING

from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from core.agi import AgiServer
from core.ami import AmiClient
from core.audit import BufferedAudit, purge_audit
from core.bus import LocalBus
from core.call_store import CallStore
from core.calls import CallTracker
from core.config import CoreSettings
from core.db import ping
from core.metrics import NodeMetrics
from core.retention import RetentionScheduler

if TYPE_CHECKING:
    from redis.asyncio import Redis


@dataclass
class Operations:
    metrics: NodeMetrics
    call_store: CallStore
    audit: BufferedAudit
    retention: RetentionScheduler

    def watch_ami(self, ami: AmiClient) -> None:
        """AMI event lag into /metrics, and AMI among the readiness probes."""
        ami.on_lag = self.metrics.ami_event_lag_seconds.observe

        async def probe() -> str:
            return "" if ami.connected else f"not connected ({ami.last_error or 'connecting'})"

        self.metrics.probe("ami", probe)
        self.metrics.gauge(
            "tongdai_ami_queue_depth", "AMI events waiting for the drain", lambda: ami.queue_depth
        )
        self.metrics.gauge(
            "tongdai_ami_dropped_events", "AMI events dropped (queue full)", lambda: ami.dropped_events
        )

    def watch_agi(self, agi: AgiServer) -> None:
        agi.on_decision = self.metrics.agi_observer()


async def start_operations(
    stack: AsyncExitStack,
    settings: CoreSettings,
    *,
    engine: AsyncEngine,
    sessions: async_sessionmaker[AsyncSession],
    bus: LocalBus,
    tracker: CallTracker,
    redis: Redis | None,
) -> Operations:
    spool = settings.node.data_dir / "spool"
    metrics = NodeMetrics()
    call_store = CallStore(sessions, dead_letter=spool / "calls-deadletter.jsonl")
    audit = BufferedAudit(sessions, dead_letter=spool / "audit-deadletter.jsonl")
    await call_store.start()
    stack.push_async_callback(call_store.stop)
    audit.start()
    stack.push_async_callback(audit.stop)
    call_store.attach(bus)
    metrics.watch(tracker, bus)
    metrics.watch_writer(call_store.writer)
    metrics.watch_writer(audit.writer)

    async def database() -> str:
        return await ping(engine)

    metrics.probe("database", database)
    if redis is not None:
        r = redis

        async def redis_up() -> str:
            await r.ping()
            return ""

        metrics.probe("redis", redis_up)
    metrics.start_probing()
    stack.push_async_callback(metrics.stop)
    retention = RetentionScheduler(settings.retention, registry=metrics.registry)
    retention.register("audit", settings.retention.audit, functools.partial(purge_audit, sessions))
    return Operations(metrics, call_store, audit, retention)
