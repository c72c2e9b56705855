"""The automatic callback dialler: works the callback worklist (ivr/callbacks.py) without an agent's click.

Business rules only; how a call is placed is a :class:`Dialer` (AMI: ivr/callback_ami.py). Each tick,
within business hours (``callbacks.dialler.hours``, holidays included):

1. the ready requests, in worklist order (tier priority, then oldest; retry pauses respected by the
   store), are matched to the ready agents of each request's queue by :func:`plan_dials`: a request is
   dialled only when an agent of its queue is free and not already counted for another dial, and
   never more than ``max_dials_per_queue`` at once per queue;
2. each chosen request is **claimed** first (the store's compare-and-set: an agent who claimed it a
   moment earlier wins, and the dialler skips it), then dialled into its queue with its priority;
3. the outcome is recorded with the store's rules: ``reached`` closes the request, ``no_answer`` /
   ``busy`` put it back after the retry pause until ``max_attempts``; every dial is audited.

A dial keeps its agent slot until the customer reaches an agent or hangs up, so one free agent is
never promised to two customers.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Protocol

from core.audit import Audit
from core.dial_loop import DialLoop
from core.errors import Conflict, TongdaiError
from core.reservations import AgentReservations
from ivr.callback_config import CallbackDiallerConfig
from ivr.callbacks import CallbackStore, CallbackView
from ivr.hours import is_open

log = logging.getLogger(__name__)

# How long a dial may hold its agent slot after the customer answered, waiting to reach an agent.
SETTLE_SECONDS = 60.0


class DialNotPlaced(TongdaiError):
    """The call could not be placed at all (no AMI link, refused action): the request is released."""

    error_id = "callback.dial_not_placed"


@dataclass(frozen=True)
class DialJob:
    request_id: int
    number: str
    queue: str
    priority: int
    acd_tier: str
    customer_id: str | None
    # Where the answered customer's leg goes (None: the callback context) and extra channel
    # variables for that dialplan (the campaign dialler's mode, AMD parameters…).
    context: str | None = None
    variables: tuple[tuple[str, str], ...] = ()


@dataclass(frozen=True)
class DialResult:
    outcome: str  # one of ivr.callbacks.OUTCOMES
    # Resolves when the answered customer reached an agent or the call ended: the slot is free again.
    settled: Awaitable[None] | None = None


class Dialer(Protocol):
    async def dial(self, job: DialJob) -> DialResult: ...


@dataclass(frozen=True)
class ReadyAgent:
    agent_id: str
    queues: frozenset[str]


@dataclass(frozen=True)
class PlannedDial:
    request: CallbackView
    queue: str
    agent_id: str  # the free agent counted for this dial (app_queue still picks who answers)


def plan_dials(
    pending: Sequence[CallbackView],
    ready: Iterable[ReadyAgent],
    in_flight: Mapping[str, int],
    *,
    max_per_queue: int,
    queue_of: Callable[[CallbackView], str],
) -> list[PlannedDial]:
    """Which requests to dial now, in worklist order. Pure.

    ``pending``: the ready requests, already in worklist order; ``ready``: agents free to take a call;
    ``in_flight``: dials in progress per queue (each holds one free agent of its queue). Each agent is
    counted once across all its queues; the agent with the fewest queues is used first, so a multi-skilled
    agent stays available for the queues only they serve.
    """
    free = sorted(ready, key=lambda a: (len(a.queues), a.agent_id))
    used: set[str] = set()

    def take(queue: str) -> str | None:
        for a in free:
            if a.agent_id not in used and queue in a.queues:
                used.add(a.agent_id)
                return a.agent_id
        return None

    dialling = dict(in_flight)
    for queue, n in in_flight.items():
        for _ in range(n):
            take(queue)
    out: list[PlannedDial] = []
    for req in pending:
        queue = queue_of(req)
        if dialling.get(queue, 0) >= max_per_queue:
            continue
        agent = take(queue)
        if agent is None:
            continue
        dialling[queue] = dialling.get(queue, 0) + 1
        out.append(PlannedDial(req, queue, agent))
    return out


def _utcnow() -> datetime:
    return datetime.now(UTC)


class CallbackDialler(DialLoop):
    """Runs :func:`plan_dials` every ``poll_seconds`` (or sooner, on :meth:`wake`) and dials."""

    def __init__(
        self,
        store: CallbackStore,
        config: CallbackDiallerConfig,
        dialer: Dialer,
        ready_agents: Callable[[], Awaitable[Iterable[ReadyAgent]]],
        *,
        queues: Iterable[str],
        default_queue: str,
        audit: Audit,
        actor: str = "dialler",
        clock: Callable[[], datetime] = _utcnow,
        reservations: AgentReservations | None = None,
    ) -> None:
        super().__init__("callback-dialler", reservations)
        self.store = store
        self.config = config
        self._dialer = dialer
        self._ready_agents = ready_agents
        self._queues = frozenset(queues)
        self.default_queue = default_queue
        self._audit = audit
        self.actor = actor  # claimed_by on the requests it works (32 characters at most)
        self._now = clock
        self.in_flight: dict[str, int] = {}

    def queue_of(self, req: CallbackView) -> str:
        # Rows from before queues were kept, or a queue since removed from config: the default queue.
        return req.queue if req.queue in self._queues else self.default_queue

    @property
    def poll_seconds(self) -> float:
        return self.config.poll_seconds

    async def release_stale(self) -> None:
        released = await self.store.release_claims_of(self.actor)
        if released:
            log.warning("callback dialler: %d request(s) left claimed by a previous run released", released)

    async def tick(self) -> list[int]:
        """One round: returns the ids of the requests it started dialling."""
        async with self._tick_lock:
            if not is_open(self.config.hours, self._now()):
                return []
            ready = list(await self._ready_agents())
            if not ready:
                return []
            pending = await self.store.pending(limit=200)
            plan = plan_dials(
                pending,
                self.free_agents(ready),  # less the agents other diallers keep
                self.in_flight,
                max_per_queue=self.config.max_dials_per_queue,
                queue_of=self.queue_of,
            )
            # Kept at once (no await since they were counted): no other dialler counts them now.
            tokens = {p.request.id: self.keep(p.agent_id, p.queue) for p in plan}
            started: list[int] = []
            for p in plan:
                token = tokens[p.request.id]
                try:
                    view = await self.store.claim(p.request.id, self.actor)
                except Conflict:
                    self.let_go(token)
                    continue  # an agent claimed it between the list and the claim: theirs
                self.in_flight[p.queue] = self.in_flight.get(p.queue, 0) + 1
                self.spawn(self._work(view, p.queue, token), name=f"callback-dial-{view.id}")
                started.append(view.id)
            return started

    async def _work(self, view: CallbackView, queue: str, token: int | None = None) -> None:
        job = DialJob(view.id, view.number, queue, view.priority, view.acd_tier or "", view.customer_id)
        rid = str(view.id)
        try:
            await self._audit(self.actor, "callback.dial", "callback", rid)
            try:
                result = await self._dialer.dial(job)
            except DialNotPlaced as err:
                log.warning("callback %s not dialled: %s", rid, err)
                await self.store.release(view.id, self.actor)
                await self._audit(self.actor, "callback.dial_not_placed", "callback", rid)
                return
            await self.store.complete(view.id, self.actor, result.outcome)
            await self._audit(self.actor, f"callback.complete.{result.outcome}", "callback", rid)
            if result.settled is not None:
                with contextlib.suppress(TimeoutError):
                    async with asyncio.timeout(SETTLE_SECONDS):
                        await result.settled
        except Exception:
            # Left claimed by this dialler: released at its next start, or by a supervisor.
            log.exception("callback %s: dial failed", rid)
        finally:
            self.in_flight[queue] -= 1
            self.let_go(token)
            self.wake()  # a slot is free: the next request may go
