"""The internal event bus: typed in-process pub/sub, bridged across processes by Redis when configured.

Each subscriber gets its own queue and task, so one slow subscriber never delays another and each
sees events in publish order. Packages depend only on the :class:`EventBus` protocol.

Every event carries its ``origin``: the node that published it (``node.name``). With several nodes on
one Redis, a subscriber that *writes this node's data* (call records, CDRs, recordings, this node's
metrics) subscribes with ``local_only=True`` and sees only its own node's events: each row is written
once, by the node whose Asterisk saw the call. Subscribers that *show* the cluster (the wallboard, the
pop hub) take every node's events.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import time
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any, Protocol

from core.logs import call_context

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class BusEvent:
    """``type`` is dotted (``call.ringing``); ``data`` is JSON-safe."""

    type: str
    call_id: str
    data: dict[str, Any]
    ts: float = field(default_factory=time.time)
    origin: str = ""

    def to_json(self) -> str:
        # Origin first, so a node can recognise its own echoes by prefix without parsing them; no
        # dataclasses.asdict: it deep-copies ``data`` for nothing (every call event crosses here).
        d = {"origin": self.origin, "type": self.type, "call_id": self.call_id, "data": self.data}
        return json.dumps({**d, "ts": self.ts}, ensure_ascii=False, separators=(",", ":"))

    @classmethod
    def from_json(cls, raw: str | bytes) -> BusEvent:
        d = json.loads(raw)
        return cls(d["type"], d["call_id"], d["data"], d["ts"], d.get("origin", ""))


Handler = Callable[[BusEvent], Awaitable[None]]


class EventBus(Protocol):
    def publish(self, event: BusEvent) -> None: ...

    def subscribe(
        self, prefix: str, handler: Handler, *, name: str = "", local_only: bool = False
    ) -> Callable[[], None]: ...

    def on_drain(self, flush: Callable[[], Awaitable[object]]) -> None: ...


class _Subscriber:
    def __init__(self, prefix: str, handler: Handler, name: str, maxsize: int, local_only: bool) -> None:
        self.prefix, self.handler, self.name = prefix, handler, name
        self.local_only = local_only
        self.queue: asyncio.Queue[BusEvent] = asyncio.Queue(maxsize)
        self.task: asyncio.Task[None] | None = None
        self.dropped = 0

    async def run(self) -> None:
        while True:
            ev = await self.queue.get()
            try:
                # The call's linkedid on every log line of its handling, in this task and those it starts.
                with call_context(linkedid=ev.call_id):
                    await self.handler(ev)
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("bus subscriber %s failed on %s (%s)", self.name, ev.type, ev.call_id)
            finally:
                self.queue.task_done()


class LocalBus:
    """In-process bus. ``origin`` identifies this process for the Redis bridge."""

    def __init__(self, origin: str | None = None, maxsize: int = 10_000) -> None:
        self.origin = origin or uuid.uuid4().hex[:12]
        self._subs: list[_Subscriber] = []
        self._maxsize = maxsize
        self._taps: list[Callable[[BusEvent], None]] = []
        self.extra_drops: dict[str, int] = {}  # drops outside the subscribers (the Redis outbox)
        self._flushers: list[Callable[[], Awaitable[object]]] = []

    def publish(self, event: BusEvent) -> None:
        if not event.origin:
            event = BusEvent(event.type, event.call_id, event.data, event.ts, self.origin)
        for tap in self._taps:
            tap(event)
        self._deliver(event)

    def _deliver(self, event: BusEvent) -> None:
        foreign = event.origin != self.origin
        for s in self._subs:
            if event.type.startswith(s.prefix) and not (foreign and s.local_only):
                try:
                    s.queue.put_nowait(event)
                except asyncio.QueueFull:
                    s.dropped += 1
                    log.error("bus subscriber %s is full; dropped %s", s.name, event.type)

    def subscribe(
        self, prefix: str, handler: Handler, *, name: str = "", local_only: bool = False
    ) -> Callable[[], None]:
        """``handler`` gets every event whose type starts with ``prefix``; with ``local_only``, only
        those this node published (another node's are never even queued for it)."""
        sub = _Subscriber(
            prefix, handler, name or getattr(handler, "__qualname__", "handler"), self._maxsize, local_only
        )
        sub.task = asyncio.get_running_loop().create_task(sub.run(), name=f"bus:{sub.name}")
        self._subs.append(sub)

        def unsubscribe() -> None:
            if sub in self._subs:
                self._subs.remove(sub)
            if sub.task:
                sub.task.cancel()

        return unsubscribe

    def dropped(self) -> dict[str, int]:
        """Events dropped so far per subscriber (a full queue), for /metrics."""
        out: dict[str, int] = {}
        for s in self._subs:
            out[s.name] = out.get(s.name, 0) + s.dropped
        for name, n in self.extra_drops.items():
            out[name] = out.get(name, 0) + n
        return out

    def tap(self, fn: Callable[[BusEvent], None]) -> None:
        """Synchronous hook on every locally published event (the Redis bridge uses it)."""
        self._taps.append(fn)

    def on_drain(self, flush: Callable[[], Awaitable[object]]) -> None:
        """Also wait for ``flush`` in :meth:`drain`: a subscriber that hands its work to a background
        writer registers the writer's flush, so "handled" still means "written"."""
        self._flushers.append(flush)

    async def drain(self) -> None:
        """Wait until every subscriber has handled what was published so far (tests, shutdown)."""
        for s in list(self._subs):
            await s.queue.join()
        for flush in list(self._flushers):
            await flush()

    async def close(self) -> None:
        for s in self._subs:
            if s.task:
                s.task.cancel()
        for s in self._subs:
            if s.task:
                with contextlib.suppress(asyncio.CancelledError):
                    await s.task
        self._subs.clear()


class RedisBridge:
    """Carries a LocalBus's events to other processes over Redis pub/sub, and theirs to it.

    Events from this process are published on the channel; events arriving from other origins are
    delivered locally. Our own events echoed back by Redis are ignored by origin.
    """

    def __init__(self, bus: LocalBus, url: str, channel: str, **options: Any) -> None:
        """``options`` go to ``redis.asyncio.from_url`` (socket timeouts: a hung Redis fails fast;
        the subscription itself blocks without one, as redis-py does for pub/sub reads)."""
        import redis.asyncio as aioredis

        self._bus, self._channel = bus, channel
        self._redis = aioredis.from_url(url, **options)
        self._outbox: asyncio.Queue[str] = asyncio.Queue(maxsize=100_000)
        self._tasks: list[asyncio.Task[None]] = []
        self._ready = asyncio.Event()

    async def start(self) -> None:
        await self._redis.ping()
        self._bus.tap(self._on_local)
        self._tasks = [
            asyncio.create_task(self._send(), name="redis-bridge-send"),
            asyncio.create_task(self._receive(), name="redis-bridge-recv"),
        ]
        async with asyncio.timeout(5):
            await self._ready.wait()

    def _on_local(self, ev: BusEvent) -> None:
        if ev.origin == self._bus.origin:
            try:
                self._outbox.put_nowait(ev.to_json())
            except asyncio.QueueFull:
                self._bus.extra_drops["redis-outbox"] = self._bus.extra_drops.get("redis-outbox", 0) + 1
                log.error("redis bridge outbox full; %s not sent to other nodes", ev.type)

    async def _send(self) -> None:
        while True:
            batch = [await self._outbox.get()]
            # A burst goes out in one pipelined round trip instead of one PUBLISH round trip each.
            while len(batch) < 500 and not self._outbox.empty():
                batch.append(self._outbox.get_nowait())
            while True:
                try:
                    if len(batch) == 1:
                        await self._redis.publish(self._channel, batch[0])
                    else:
                        async with self._redis.pipeline(transaction=False) as pipe:
                            for msg in batch:
                                pipe.publish(self._channel, msg)
                            await pipe.execute()
                    break
                except asyncio.CancelledError:
                    raise
                except Exception as err:
                    log.warning("redis publish failed (%s); retrying", err)
                    await asyncio.sleep(0.5)

    async def _receive(self) -> None:
        own = json.dumps({"origin": self._bus.origin}, separators=(",", ":"))[:-1].encode() + b","
        while True:
            try:
                pubsub = self._redis.pubsub()
                await pubsub.subscribe(self._channel)
                self._ready.set()
                async for msg in pubsub.listen():
                    if msg.get("type") != "message" or msg["data"].startswith(own):
                        continue  # not an event, or our own echo (origin is serialised first)
                    ev = BusEvent.from_json(msg["data"])
                    if ev.origin != self._bus.origin:
                        self._bus._deliver(ev)
            except asyncio.CancelledError:
                raise
            except Exception as err:
                log.warning("redis subscription lost (%s); resubscribing", err)
                await asyncio.sleep(0.5)

    async def stop(self) -> None:
        for t in self._tasks:
            t.cancel()
        for t in self._tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await t
        await self._redis.aclose()
