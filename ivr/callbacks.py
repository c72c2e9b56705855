"""Callback requests: written to ``callback_requests`` while the caller is still on the line, then worked.

The row is the record (the bus event ``callback.requested`` only tells live listeners), so a request
survives a restart or a missed event. Agents work the ``pending`` rows as a worklist:

* **Order keeps the caller's place**: the ACD tier priority the call had when the caller asked (a VIP's
  callback before a standard one, as in the queue), then the oldest request. A release or a retry
  keeps ``requested_at``, so a request never goes to the back of the line.
* **claim** is one ``UPDATE … WHERE status='pending'``: of two agents claiming at once, the database
  lets exactly one win; the other gets :class:`~core.errors.Conflict`.
* **complete** records an outcome (:data:`OUTCOMES`) and counts an attempt. A retryable outcome
  (no answer, busy, voicemail) puts the request back in the list after ``retry_delay`` until
  ``max_attempts``; any other outcome closes it.
* **release** gives a claimed request back untouched (the claimer, or a supervisor for an agent who left).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict, dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from core.db import unit_of_work
from core.errors import Conflict, NotFound, TongdaiError
from ivr.models import CallbackRequest

# outcome → whether the request should be tried again (until max_attempts).
OUTCOMES: dict[str, bool] = {
    "reached": False,
    "no_answer": True,
    "busy": True,
    "voicemail": True,
    "wrong_number": False,
    "declined": False,  # the customer no longer needs the call
}

PENDING, CLAIMED, DONE = "pending", "claimed", "done"


class InvalidOutcome(TongdaiError, ValueError):
    error_id = "callback.bad_outcome"


@dataclass(frozen=True)
class CallbackView:
    id: int
    number: str
    customer_id: str | None
    call_id: str
    requested_at: datetime
    status: str
    acd_tier: str | None = None
    priority: int = 0
    attempts: int = 0
    claimed_by: str | None = None
    claimed_at: datetime | None = None
    not_before: datetime | None = None
    outcome: str | None = None
    completed_at: datetime | None = None
    queue: str | None = None

    def to_json(self) -> dict[str, Any]:
        return {k: v.isoformat() if isinstance(v, datetime) else v for k, v in asdict(self).items()}


def _utc(at: datetime | None) -> datetime | None:
    if at is None:
        return None
    return at if at.tzinfo else at.replace(tzinfo=UTC)  # SQLite hands back naive UTC


def _view(r: CallbackRequest) -> CallbackView:
    requested = _utc(r.requested_at)
    assert requested is not None
    return CallbackView(
        r.id,
        r.number,
        r.customer_id,
        r.call_id,
        requested,
        r.status,
        r.acd_tier,
        r.priority,
        r.attempts,
        r.claimed_by,
        _utc(r.claimed_at),
        _utc(r.not_before),
        r.outcome,
        _utc(r.completed_at),
        r.queue,
    )


def _utcnow() -> datetime:
    return datetime.now(UTC)


class CallbackStore:
    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        *,
        max_attempts: int = 3,
        retry_delay: timedelta = timedelta(minutes=10),
        clock: Callable[[], datetime] = _utcnow,
    ) -> None:
        if max_attempts < 1:
            raise ValueError("max_attempts must be at least 1")
        self._sessions = sessions
        self.max_attempts = max_attempts
        self.retry_delay = retry_delay
        self._now = clock

    async def record(
        self,
        number: str,
        customer_id: str | None,
        call_id: str,
        *,
        acd_tier: str | None = None,
        priority: int = 0,
        queue: str | None = None,
        not_before: datetime | None = None,
    ) -> int:
        """Store one request; returns its id. ``priority``: the ACD entry priority of the caller's tier;
        ``queue``: the queue the caller wanted (the dialler calls them back into it); ``not_before``:
        the start of the window the customer chose (the web form), else at once."""
        row = CallbackRequest(
            number=number,
            customer_id=customer_id,
            call_id=call_id,
            requested_at=self._now(),
            status=PENDING,
            acd_tier=acd_tier,
            priority=priority,
            attempts=0,
            queue=queue,
            not_before=not_before,
        )
        async with unit_of_work(self._sessions) as s:
            s.add(row)
            await s.flush()
            return row.id

    def _ready(self, now: datetime) -> Any:
        return (CallbackRequest.status == PENDING) & or_(
            CallbackRequest.not_before.is_(None), CallbackRequest.not_before <= now
        )

    async def pending(self, limit: int = 100) -> list[CallbackView]:
        """Requests an agent may claim now, in working order (tier priority, then oldest)."""
        return await self._list(self._ready(self._now()), limit)

    async def worklist(
        self, agent_id: str, *, every_claim: bool = False, limit: int = 100
    ) -> list[CallbackView]:
        """What an agent's desktop shows: the requests claimed by ``agent_id`` (every claimed request
        with ``every_claim``, for supervisors), then the pending ones in working order."""
        claimed = CallbackRequest.status == CLAIMED
        if not every_claim:
            claimed = claimed & (CallbackRequest.claimed_by == agent_id)
        return await self._list(claimed, limit) + await self._list(self._ready(self._now()), limit)

    async def _list(self, where: Any, limit: int) -> list[CallbackView]:
        async with self._sessions() as s:
            rows = await s.scalars(
                select(CallbackRequest)
                .where(where)
                .order_by(CallbackRequest.priority.desc(), CallbackRequest.requested_at, CallbackRequest.id)
                .limit(limit)
            )
            return [_view(r) for r in rows]

    async def get(self, request_id: int) -> CallbackView:
        async with self._sessions() as s:
            row = await s.get(CallbackRequest, request_id)
            if row is None:
                raise NotFound(f"no callback request {request_id}")
            return _view(row)

    async def claim(self, request_id: int, agent_id: str) -> CallbackView:
        """Take a pending request. Claiming one's own claim again is a no-op (a double click)."""
        now = self._now()
        won = await self._update(
            request_id,
            self._ready(now),
            status=CLAIMED,
            claimed_by=agent_id,
            claimed_at=now,
        )
        view = await self.get(request_id)
        if won or (view.status == CLAIMED and view.claimed_by == agent_id):
            return view
        raise self._refusal(view, "claim")

    async def complete(self, request_id: int, agent_id: str, outcome: str) -> CallbackView:
        """Record one attempt's outcome on a request ``agent_id`` has claimed."""
        if outcome not in OUTCOMES:
            raise InvalidOutcome(f"unknown outcome {outcome!r}; one of: {', '.join(OUTCOMES)}")
        view = await self.get(request_id)
        if view.status != CLAIMED or view.claimed_by != agent_id:
            raise self._refusal(view, "complete")
        now = self._now()
        attempts = view.attempts + 1
        values: dict[str, Any] = {"attempts": attempts, "outcome": outcome}
        if OUTCOMES[outcome] and attempts < self.max_attempts:
            # Back in the list with its original requested_at (its place), after a pause.
            values |= {"status": PENDING, "claimed_by": None, "claimed_at": None}
            values["not_before"] = now + self.retry_delay
        else:
            values |= {"status": DONE, "completed_at": now}
        # The guard on attempts makes this compare-and-set: a concurrent release or complete wins once.
        mine = (
            (CallbackRequest.status == CLAIMED)
            & (CallbackRequest.claimed_by == agent_id)
            & (CallbackRequest.attempts == view.attempts)
        )
        if not await self._update(request_id, mine, **values):
            raise self._refusal(await self.get(request_id), "complete")
        return await self.get(request_id)

    async def release(self, request_id: int, agent_id: str, *, any_claim: bool = False) -> CallbackView:
        """Give a claimed request back to the list, its place kept. ``any_claim``: a supervisor
        releasing another agent's claim."""
        mine = CallbackRequest.status == CLAIMED
        if not any_claim:
            mine = mine & (CallbackRequest.claimed_by == agent_id)
        if not await self._update(request_id, mine, status=PENDING, claimed_by=None, claimed_at=None):
            raise self._refusal(await self.get(request_id), "release")
        return await self.get(request_id)

    async def release_claims_of(self, agent_id: str) -> int:
        """Give back every request ``agent_id`` holds, places kept; returns how many. The automatic
        dialler calls this at start: a claim left by a crash mid-dial must not hide a request forever."""
        async with unit_of_work(self._sessions) as s:
            result = await s.execute(
                update(CallbackRequest)
                .where(CallbackRequest.status == CLAIMED, CallbackRequest.claimed_by == agent_id)
                .values(status=PENDING, claimed_by=None, claimed_at=None)
                .execution_options(synchronize_session=False)
            )
            return int(result.rowcount)  # type: ignore[attr-defined]

    async def _update(self, request_id: int, where: Any, **values: Any) -> bool:
        async with unit_of_work(self._sessions) as s:
            result = await s.execute(
                update(CallbackRequest)
                .where(CallbackRequest.id == request_id, where)
                .values(**values)
                .execution_options(synchronize_session=False)
            )
            return bool(result.rowcount)  # type: ignore[attr-defined]

    def _refusal(self, view: CallbackView, verb: str) -> Conflict:
        if view.status == CLAIMED:
            return Conflict(f"callback request {view.id} is claimed by agent {view.claimed_by}")
        if view.status == PENDING and view.not_before is not None and view.not_before > self._now():
            return Conflict(f"callback request {view.id} waits until {view.not_before.isoformat()} to retry")
        if view.status == PENDING:
            return Conflict(f"callback request {view.id} is not claimed: claim it before you {verb} it")
        return Conflict(f"callback request {view.id} is already {view.status}")
