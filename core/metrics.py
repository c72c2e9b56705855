"""Operations: Prometheus ``/metrics`` and ``/readyz`` for one node.

Each node has its own :class:`prometheus_client.CollectorRegistry` (tests run several nodes in one
process; the global registry would mix them). Live values — calls in progress, callers waiting per
queue and tier, writer queues, bus drops, the CDR spool — are read when scraped, from the objects that
hold them, so nothing on the call path updates a gauge. Events are counted or timed where they happen:
calls ended by disposition (a bus subscription), AMI event lag (the AMI drain), FastAGI decision time
(the FastAGI session), pop latency (:meth:`NodeMetrics.observe_pop`).

Readiness (``/readyz``): 200 when AMI (when the node has it), the database and Redis (when configured)
answer; else 503 naming each dependency that is down and why. A background probe refreshes the
``tongdai_dependency_up`` gauges, so ``/metrics`` shows them without anyone calling ``/readyz``.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections import Counter as Tally
from collections.abc import Awaitable, Callable, Iterable
from typing import Any

from aiohttp import web
from prometheus_client import CollectorRegistry, Counter, Histogram, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from core.bus import BusEvent, LocalBus
from core.calls import CallTracker
from core.writer import Writer

log = logging.getLogger(__name__)

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"

# A dependency probe: "" when up, else the reason it is down.
Probe = Callable[[], Awaitable[str]]
GaugeFn = Callable[[], float]

_LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)


class _Live(Collector):
    """Values read at scrape time from the objects that hold them."""

    def __init__(self, metrics: NodeMetrics) -> None:
        self._m = metrics

    def collect(self) -> Iterable[Metric]:
        m = self._m
        tracker = m.tracker
        if tracker is not None:
            yield GaugeMetricFamily(
                "tongdai_calls_in_progress", "Calls being tracked", value=len(tracker.calls)
            )
            waiting = GaugeMetricFamily(
                "tongdai_calls_waiting", "Callers in a queue not yet answered", labels=["queue", "tier"]
            )
            tally: Tally[tuple[str, str]] = Tally(
                (c.queue, c.acd_tier or "none")
                for c in tracker.calls.values()
                if c.queued_at is not None and c.answered_at is None
            )
            for (queue, tier), n in sorted(tally.items()):
                waiting.add_metric([queue, tier], n)
            yield waiting
        if m.bus is not None:
            drops = CounterMetricFamily(
                "tongdai_bus_dropped",
                "Bus events dropped because a subscriber was full",
                labels=["subscriber"],
            )
            for name, n in sorted(m.bus.dropped().items()):
                drops.add_metric([name], n)
            yield drops
        yield from self._writers()
        for name, (doc, fn) in sorted(m.gauges.items()):
            try:
                yield GaugeMetricFamily(name, doc, value=fn())
            except Exception:
                log.exception("metric %s could not be read", name)
        up = GaugeMetricFamily(
            "tongdai_dependency_up", "1 when the dependency answers", labels=["dependency"]
        )
        for dep, reason in sorted(m.last_checks.items()):
            up.add_metric([dep], 0.0 if reason else 1.0)
        yield up

    def _writers(self) -> Iterable[Metric]:
        writers = self._m.writers
        depth = GaugeMetricFamily("tongdai_writer_queue_depth", "Rows waiting in a writer", labels=["writer"])
        healthy = GaugeMetricFamily(
            "tongdai_writer_healthy", "0 while a writer's sink fails", labels=["writer"]
        )
        counters = {
            k: CounterMetricFamily(f"tongdai_writer_{k}", doc, labels=["writer"])
            for k, doc in (
                ("written", "Rows written"),
                ("retries", "Batch retries after transient errors"),
                ("shed", "Sheddable rows shed under overload"),
                ("coalesced", "Sheddable rows superseded by a newer one before written"),
                ("over_capacity", "Kept rows accepted past the bound"),
                ("failed", "Rows refused for good (dead-lettered)"),
                ("spilled", "Rows unwritten at shutdown (dead-lettered or spooled)"),
            )
        }
        for w in writers:
            depth.add_metric([w.name], w.depth)
            healthy.add_metric([w.name], 1.0 if w.healthy else 0.0)
            for k, fam in counters.items():
                fam.add_metric([w.name], getattr(w.stats, k))
        yield depth
        yield healthy
        yield from counters.values()


class NodeMetrics:
    """The node's metrics and readiness probes (one registry per node)."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        self.tracker: CallTracker | None = None
        self.bus: LocalBus | None = None
        self.writers: list[Writer[Any]] = []
        self.gauges: dict[str, tuple[str, GaugeFn]] = {}
        self.probes: dict[str, Probe] = {}
        self.last_checks: dict[str, str] = {}
        # With a standby beside this node (core/lease.py): "active" or "passive"; None on a single node.
        self.role: Callable[[], str] | None = None
        self._probe_task: asyncio.Task[None] | None = None
        r = self.registry
        self.calls_ended = Counter(
            "tongdai_calls_ended", "Calls ended, by disposition", ["disposition"], registry=r
        )
        self.pop_seconds = Histogram(
            "tongdai_pop_seconds",
            "From the ring to the pop on the agent's desktop",
            buckets=_LATENCY_BUCKETS,
            registry=r,
        )
        self.agi_decision_seconds = Histogram(
            "tongdai_fastagi_decision_seconds",
            "Time the bridge took to send each FastAGI command after Asterisk's previous reply",
            ["route"],
            buckets=_LATENCY_BUCKETS,
            registry=r,
        )
        self.ami_event_lag_seconds = Histogram(
            "tongdai_ami_event_lag_seconds",
            "From an AMI event's arrival to its handling by the drain",
            buckets=_LATENCY_BUCKETS,
            registry=r,
        )
        r.register(_Live(self))

    # --- what the node hands in ------------------------------------------------------------------

    def watch(self, tracker: CallTracker, bus: LocalBus) -> None:
        self.tracker, self.bus = tracker, bus
        bus.subscribe(
            "call.ended", self._on_ended, name="metrics-calls", local_only=True
        )  # this node's registry

    def watch_writer(self, writer: Writer[Any]) -> None:
        self.writers.append(writer)

    def gauge(self, name: str, doc: str, fn: GaugeFn) -> None:
        """A gauge read at scrape time (a component's spool depth, a queue's length)."""
        self.gauges[name] = (doc, fn)

    def probe(self, dependency: str, fn: Probe) -> None:
        """A readiness probe: ``fn`` returns "" when ``dependency`` is up, else why not."""
        self.probes[dependency] = fn

    def observe_pop(self, seconds: float) -> None:
        self.pop_seconds.observe(seconds)

    def agi_observer(self) -> Callable[[str, float], None]:
        def observe(route: str, seconds: float) -> None:
            self.agi_decision_seconds.labels(route).observe(seconds)

        return observe

    async def _on_ended(self, ev: BusEvent) -> None:
        self.calls_ended.labels(str(ev.data.get("disposition") or "ended")).inc()

    # --- readiness --------------------------------------------------------------------------------

    async def check(self, timeout: float = 2.0) -> dict[str, str]:
        """Run every probe (concurrently, each within ``timeout``): dependency → "" or why it is down."""

        async def one(fn: Probe) -> str:
            try:
                async with asyncio.timeout(timeout):
                    return await fn()
            except TimeoutError:
                return f"no answer within {timeout:.1f} s"
            except Exception as err:
                return f"{type(err).__name__}: {err}"[:200]

        names = list(self.probes)
        results = await asyncio.gather(*(one(self.probes[n]) for n in names))
        self.last_checks = dict(zip(names, results, strict=True))
        return self.last_checks

    def start_probing(self, every: float = 5.0) -> None:
        async def loop() -> None:
            while True:
                await self.check()
                await asyncio.sleep(every)

        self._probe_task = asyncio.get_running_loop().create_task(loop(), name="readiness-probe")

    async def stop(self) -> None:
        if self._probe_task is not None:
            self._probe_task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._probe_task
            self._probe_task = None

    # --- HTTP -------------------------------------------------------------------------------------

    def mount(self, app: web.Application) -> None:
        """``/metrics`` and ``/readyz`` on the node's web application (infra.mount)."""
        app.router.add_get("/metrics", self._metrics)
        app.router.add_get("/readyz", self._readyz)

    async def _metrics(self, request: web.Request) -> web.Response:
        body = generate_latest(self.registry)
        return web.Response(body=body, headers={"Content-Type": CONTENT_TYPE})

    async def _readyz(self, request: web.Request) -> web.Response:
        checks = await self.check()
        down = {dep: why for dep, why in checks.items() if why}
        body: dict[str, object] = {
            "status": "unavailable" if down else "ready",
            "down": down,
            "checked": sorted(checks),
        }
        if self.role is not None:
            # A passive standby is healthy but must not take traffic: 503, told apart by its status.
            role = self.role()
            body["role"] = role
            if role != "active":
                body["status"] = "passive"
                return web.json_response(body, status=503)
        return web.json_response(body, status=503 if down else 200)
