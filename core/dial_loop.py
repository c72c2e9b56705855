"""The loop every dialler runs: a round (``tick``) every ``poll_seconds`` or sooner on :meth:`wake`, each
dial its own task, and a stop that cancels the round and every dial in progress.

Why one home: the callback dialler (ivr/) and the campaign dialler (campaigns/) differ in what a round
decides, not in how rounds and dials live and die; a fix to one (a swallowed error, a dial left
running at stop) must reach both.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Coroutine, Iterable
from typing import Any, TypeVar

from core.reservations import AgentReservations, ReadyLike

log = logging.getLogger(__name__)

A = TypeVar("A", bound=ReadyLike)


class DialLoop:
    """Subclasses give :meth:`tick` (one round) and :meth:`release_stale` (what a previous run left
    mid-dial, released at start) and start each dial with :meth:`spawn`.

    ``reservations``: the node's agents kept for dials (core/reservations.py), shared with the other
    diallers; a dialler counts the ready agents through :meth:`free_agents` and keeps the one it
    counts for a dial with :meth:`keep` until the dial's slot frees. Alone (none given) it counts
    only its own dials, as before."""

    def __init__(self, name: str, reservations: AgentReservations | None = None) -> None:
        self.name = name
        self.reservations = reservations if reservations is not None else AgentReservations()
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._dials: set[asyncio.Task[None]] = set()
        self._tick_lock = asyncio.Lock()  # a round at a time: two would count the same free agent

    @property
    def poll_seconds(self) -> float:
        raise NotImplementedError

    async def tick(self) -> list[int]:
        raise NotImplementedError

    async def release_stale(self) -> None:
        """At start: release what a previous run of this node left mid-dial."""

    async def start(self) -> None:
        await self.release_stale()
        self._task = asyncio.create_task(self._run(), name=self.name)

    async def stop(self) -> None:
        tasks = [t for t in (self._task, *self._dials) if t is not None]
        for t in tasks:
            t.cancel()
        for t in tasks:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await t
        self._task = None

    def wake(self) -> None:
        """Run a round now (an agent became free, work arrived) rather than at the next poll."""
        self._wake.set()

    async def wait_idle(self) -> None:
        """Until every dial started so far has finished (outcome recorded)."""
        while self._dials:
            await asyncio.gather(*self._dials, return_exceptions=True)

    def free_agents(self, ready: Iterable[A]) -> list[A]:
        """The ready agents no other dialler keeps, fewest queues first."""
        return self.reservations.free(ready, self.name)

    def keep(self, agent_id: str, queue: str) -> int:
        """Keep ``agent_id`` for a dial into ``queue``: call at the moment the agent is counted."""
        return self.reservations.hold(self.name, agent_id, queue)

    def let_go(self, token: int | None) -> None:
        self.reservations.release(token)

    def spawn(self, work: Coroutine[Any, Any, None], name: str) -> None:
        task = asyncio.create_task(work, name=name)
        self._dials.add(task)
        task.add_done_callback(self._dials.discard)

    async def _run(self) -> None:
        while True:
            try:
                await self.tick()
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("%s: a round failed", self.name)
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(self.poll_seconds):
                    await self._wake.wait()
            self._wake.clear()
