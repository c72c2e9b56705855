"""A bounded background writer: event handlers hand it rows and return at once; one task writes them.

Why: an AMI event or bus handler that awaits the database or Redis stalls every event behind it, and
a "database is locked" or a dropped PostgreSQL connection then costs the row. Here the handler only
enqueues; one drain task writes batches, retries transient errors with exponential backoff (forever,
while the node runs: a call record waits out any outage), and isolates a row the database refuses for
good (batch split in single rows, the bad one handed to ``on_failed`` — a dead-letter file or a spool —
and counted). On :meth:`stop` everything queued is written within a deadline; what the database
still cannot take then goes to ``on_failed``, never silently away.

Two kinds of work share the bound (``capacity``):

* **kept** work (call records, CDRs, audit rows) is never shed: past the bound it is still accepted
  (memory is the cost, counted in ``over_capacity``), because losing it is worse than growing;
* **sheddable** work (presence refreshes: an agent's latest state in Redis) is coalesced by ``key``
  (a newer value replaces the queued one in place) and, under overload, shed first, oldest first,
  counted in ``shed`` and logged.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections import deque
from collections.abc import Awaitable, Callable, Hashable, Sequence
from dataclasses import dataclass
from typing import Generic, TypeVar

from core.db import is_transient

log = logging.getLogger(__name__)

T = TypeVar("T")

WriteBatch = Callable[[Sequence[T]], Awaitable[None]]


@dataclass(slots=True)
class _Item(Generic[T]):
    value: T
    keep: bool
    key: Hashable | None = None
    done: asyncio.Future[None] | None = None


@dataclass
class WriterStats:
    """Counters for /metrics and the tests (monotonic, except ``depth``)."""

    written: int = 0
    retries: int = 0
    shed: int = 0
    coalesced: int = 0
    over_capacity: int = 0
    failed: int = 0  # refused for good by the sink: handed to on_failed
    spilled: int = 0  # still queued when the stop deadline passed: handed to on_failed
    last_error: str = ""
    failing_since: float | None = None  # monotonic time of the first failure of the current outage


class Writer(Generic[T]):
    """One bounded queue and one drain task writing to one sink (see the module docstring).

    ``write`` stores a batch (all or nothing: it is retried whole); ``transient`` says which errors
    are worth retrying (default: :func:`core.db.is_transient`); ``on_failed`` receives an item the
    sink refused for good, or one still unwritten at the stop deadline.
    """

    def __init__(
        self,
        name: str,
        write: WriteBatch[T],
        *,
        capacity: int = 10_000,
        batch: int = 200,
        retry_min: float = 0.05,
        retry_max: float = 5.0,
        transient: Callable[[BaseException], bool] = is_transient,
        on_failed: Callable[[T, BaseException | None], None] | None = None,
    ) -> None:
        self.name = name
        self._write = write
        self.capacity, self._batch = capacity, batch
        self._retry_min, self._retry_max = retry_min, retry_max
        self._transient = transient
        self._on_failed = on_failed
        self._kept: deque[_Item[T]] = deque()
        self._sheddable: deque[_Item[T]] = deque()
        self._by_key: dict[Hashable, _Item[T]] = {}
        self._wake = asyncio.Event()
        self._idle = asyncio.Event()
        self._idle.set()
        self._task: asyncio.Task[None] | None = None
        self._in_flight: list[_Item[T]] = []
        self._stopped = False
        self._last_warning = 0.0
        self.stats = WriterStats()

    # --- producers (never wait) ------------------------------------------------------------------

    @property
    def depth(self) -> int:
        return len(self._kept) + len(self._sheddable) + len(self._in_flight)

    @property
    def healthy(self) -> bool:
        """False while the sink keeps failing (readiness and /metrics report it)."""
        return self.stats.failing_since is None

    def submit(self, value: T, *, keep: bool = True, key: Hashable | None = None) -> None:
        """Queue ``value``; returns at once. ``keep=False`` marks it sheddable; ``key`` coalesces."""
        self._enqueue(_Item(value, keep, key))

    async def write(self, value: T, *, timeout: float | None = None) -> bool:
        """Queue a kept ``value`` and wait until it is written (True), or ``timeout`` passes (False:
        it stays queued and will still be written)."""
        done: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._enqueue(_Item(value, True, None, done))
        try:
            async with asyncio.timeout(timeout):
                await asyncio.shield(done)
        except TimeoutError:
            return False
        return True

    def _enqueue(self, item: _Item[T]) -> None:
        if self._stopped:  # after shutdown: the spill path, so even a straggler is kept
            self._give_up(item, None, spilled=True)
            return
        if item.key is not None and not item.keep:
            queued = self._by_key.get(item.key)
            if queued is not None:  # only the newest presence matters: keep its place in line
                queued.value = item.value
                self.stats.coalesced += 1
                return
        if self.depth >= self.capacity:
            if self._sheddable:
                self._shed(self._sheddable.popleft())
            elif not item.keep:
                self._shed(item)
                return
            else:
                self.stats.over_capacity += 1
                self._warn(
                    f"writer {self.name}: {self.depth} queued, past its bound; kept work is never shed"
                )
        if item.keep:
            self._kept.append(item)
        else:
            self._sheddable.append(item)
            if item.key is not None:
                self._by_key[item.key] = item
        self._idle.clear()
        self._wake.set()

    def _shed(self, item: _Item[T]) -> None:
        if item.key is not None and self._by_key.get(item.key) is item:
            del self._by_key[item.key]
        self.stats.shed += 1
        self._warn(f"writer {self.name}: overloaded, shedding sheddable work ({self.stats.shed} so far)")

    def _warn(self, message: str) -> None:
        now = time.monotonic()
        if now - self._last_warning >= 5:  # a burst logs once per 5 s, not once per row
            self._last_warning = now
            log.warning("%s", message)

    # --- lifetime ---------------------------------------------------------------------------------

    def start(self) -> None:
        self._stopped = False
        if self._task is None:
            self._task = asyncio.get_running_loop().create_task(self._run(), name=f"writer:{self.name}")

    async def flush(self, timeout: float | None = None) -> bool:
        """Wait until everything queued so far is written (True) or ``timeout`` passes (False)."""
        if self._task is None:  # not running: nothing would ever drain it
            return self.depth == 0
        try:
            async with asyncio.timeout(timeout):
                await self._idle.wait()
        except TimeoutError:
            return False
        return True

    async def stop(self, timeout: float = 10.0) -> None:
        """Write what is queued (retrying within ``timeout``), then stop; spill what is left."""
        if self._task is not None:
            if not await self.flush(timeout):
                log.error("writer %s: %d items unwritten after %.0f s", self.name, self.depth, timeout)
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
        self._stopped = True
        left = [*self._in_flight, *self._kept, *self._sheddable]
        self._in_flight.clear()
        self._kept.clear()
        self._sheddable.clear()
        self._by_key.clear()
        for item in left:
            self._give_up(item, None, spilled=True)
        self._idle.set()

    # --- the drain task ---------------------------------------------------------------------------

    def _take(self) -> list[_Item[T]]:
        out: list[_Item[T]] = []
        for q in (self._kept, self._sheddable):
            while q and len(out) < self._batch:
                item = q.popleft()
                if item.key is not None and self._by_key.get(item.key) is item:
                    del self._by_key[item.key]
                out.append(item)
        return out

    async def _run(self) -> None:
        while True:
            if not self._kept and not self._sheddable:
                self._idle.set()
                self._wake.clear()
                await self._wake.wait()
                continue
            self._in_flight = self._take()
            await self._write_items(self._in_flight)
            self._in_flight = []

    async def _write_items(self, items: list[_Item[T]]) -> None:
        delay = self._retry_min
        while True:
            try:
                await self._write([i.value for i in items])
            except asyncio.CancelledError:
                raise
            except Exception as err:
                if self._transient(err):
                    self._failing(err)
                    self.stats.retries += 1
                    await asyncio.sleep(delay)
                    delay = min(self._retry_max, delay * 2)
                    continue
                if len(items) > 1:  # one bad row must not cost the others: find it alone
                    for one in items:
                        await self._write_items([one])
                    return
                log.error("writer %s: item refused for good (%s: %s)", self.name, type(err).__name__, err)
                self.stats.failed += 1
                self._give_up(items[0], err, spilled=False)
                return
            self._recovered()
            self.stats.written += len(items)
            for i in items:
                if i.done is not None and not i.done.done():
                    i.done.set_result(None)
            return

    def _failing(self, err: BaseException) -> None:
        self.stats.last_error = f"{type(err).__name__}: {err}"[:300]
        if self.stats.failing_since is None:
            self.stats.failing_since = time.monotonic()
            log.warning(
                "writer %s: sink failing (%s); retrying with backoff", self.name, self.stats.last_error
            )

    def _recovered(self) -> None:
        if self.stats.failing_since is not None:
            log.warning(
                "writer %s: sink back after %.1f s", self.name, time.monotonic() - self.stats.failing_since
            )
            self.stats.failing_since = None

    def _give_up(self, item: _Item[T], err: BaseException | None, *, spilled: bool) -> None:
        if spilled:
            self.stats.spilled += 1
        if self._on_failed is not None:
            try:
                self._on_failed(item.value, err)
            except Exception:
                log.exception("writer %s: on_failed raised; an item is lost", self.name)
        elif item.keep:
            log.error("writer %s: an item could not be written and has no spill: lost", self.name)
        if item.done is not None and not item.done.done():
            item.done.set_result(None)  # the caller waited for it to be handled, not for success
