"""Personal data only where the call needs it (Decree 13/2023: purpose limitation, minimisation).

- A customer is *in hand* for an agent while the agent's call with them rings or lasts (the call
  tracker, or the pop the hub delivered — a transfer to an agent passes no queue) and for
  ``desktop.access.recent_call_minutes`` after it ended (that node's pops, else the ``calls`` table).
- Opening a profile in hand needs nothing more; any other customer (found by search) needs a stated
  reason, audited with the view. Supervisors and admins likewise: broader, never silent.
- The full identity number: an agent only for the customer on their current call; supervisors and
  admins for anyone; a reason every time, audited.
- Lookups (searches and profile views) and unmasks are rate-limited per person; more than
  ``bulk_customers`` distinct customers opened by one person within ``bulk_window_minutes`` writes an
  ``access.bulk_alert`` audit row and tells the supervisors' desktops.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, Protocol

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from agent_desktop.limits import SlidingWindow
from core.audit import Audit
from core.errors import Forbidden, TooManyRequests
from core.identity import Who
from core.models import CallRecord

if TYPE_CHECKING:
    from agent_desktop.config import AccessConfig

BULK_ALERT = "access.bulk_alert"
MIN_REASON = 5


class ReasonRequired(Forbidden):
    error_id = "access.reason_required"


class NotOnYourCall(Forbidden):
    error_id = "access.not_on_call"


class RateLimited(TooManyRequests):
    """Too many lookups or unmasks for one person (429, with the seconds to wait)."""

    error_id = "access.rate_limited"


class LiveCall(Protocol):
    @property
    def customer_id(self) -> str: ...
    @property
    def agent_id(self) -> str: ...
    @property
    def rung_agents(self) -> list[str]: ...


@dataclass
class _Hold:
    call_id: str
    ended_at: float | None = None


Alert = Callable[[dict[str, Any]], Awaitable[None]]


def _reason(reason: str) -> str:
    return " ".join(reason.split())[:500]


class CustomerAccess:
    """The rules above, for one node. ``config`` and ``calls`` are read on each check (the current
    config, the live calls); ``clock`` is injectable for the tests."""

    def __init__(
        self,
        config: Callable[[], AccessConfig],
        calls: Callable[[], Mapping[str, LiveCall]],
        db: Callable[[], async_sessionmaker[AsyncSession] | None],
        audit: Audit,
        *,
        alert: Alert | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._config, self._calls, self._db, self._audit = config, calls, db, audit
        self.alert = alert
        self.clock = clock
        self._holds: dict[tuple[str, str], _Hold] = {}  # (agent, customer) -> the call that popped it
        self._holds_by_call: dict[str, set[tuple[str, str]]] = {}
        self._opened: dict[str, dict[str, float]] = {}  # person -> customer -> when last opened
        self._alerted: dict[str, float] = {}
        self._windows: dict[tuple[str, int], SlidingWindow] = {}

    # --- what the hub tells us -------------------------------------------------------------

    def popped(self, agent_id: str, customer_id: str, call_id: str) -> None:
        """The hub delivered ``customer_id``'s profile to ``agent_id`` for ``call_id``."""
        if agent_id and customer_id:
            self._holds[(agent_id, customer_id)] = _Hold(call_id)
            self._holds_by_call.setdefault(call_id, set()).add((agent_id, customer_id))

    def call_ended(self, call_id: str) -> None:
        now = self.clock()
        for pair in self._holds_by_call.pop(call_id, set()):
            hold = self._holds.get(pair)
            if hold is not None and hold.call_id == call_id:
                hold.ended_at = now
        window = self._config().recent_call_minutes * 60
        for pair, hold in list(self._holds.items()):
            if hold.ended_at is not None and now - hold.ended_at > window:
                del self._holds[pair]

    # --- in hand ---------------------------------------------------------------------------

    def on_current_call(self, agent_id: str, customer_id: str) -> bool:
        live = self._calls()
        for call in live.values():
            if call.customer_id == customer_id and (
                call.agent_id == agent_id or agent_id in call.rung_agents
            ):
                return True
        hold = self._holds.get((agent_id, customer_id))
        return hold is not None and hold.ended_at is None and hold.call_id in live

    async def in_hand(self, agent_id: str, customer_id: str) -> bool:
        """On the agent's current call, or on a call of theirs that ended within the window."""
        if self.on_current_call(agent_id, customer_id):
            return True
        now, window = self.clock(), self._config().recent_call_minutes * 60
        hold = self._holds.get((agent_id, customer_id))
        if hold is not None and hold.ended_at is not None and now - hold.ended_at <= window:
            return True
        db = self._db()
        if db is None or window <= 0:
            return False
        since = datetime.fromtimestamp(now - window, UTC)
        async with db() as s:
            found = await s.scalar(
                select(CallRecord.call_id)
                .where(
                    CallRecord.agent_id == agent_id,
                    CallRecord.customer_id == customer_id,
                    CallRecord.ended_at >= since,
                )
                .limit(1)
            )
        return found is not None

    def opened_recently(self, who: Who, customer_id: str) -> bool:
        """Whether ``who`` opened this profile within the bulk window (a search during the call)."""
        at = self._opened.get(who.agent_id, {}).get(customer_id)
        return at is not None and self.clock() - at <= self._config().bulk_window_minutes * 60

    # --- the checks ------------------------------------------------------------------------

    def _limit(self, who: Who, what: str, limit: int) -> None:
        window = self._windows.get((what, limit))
        if window is None:
            window = self._windows[(what, limit)] = SlidingWindow(limit, 60)
        wait = window.allow(who.agent_id, self.clock())
        if wait > 0:
            raise RateLimited(f"more than {limit} {what} a minute: wait {wait:.0f} s", wait)

    def lookup(self, who: Who) -> None:
        """One search or profile view by a person (integration tokens are not rate-limited here)."""
        if not who.integration:
            self._limit(who, "lookups", self._config().lookups_per_minute)

    async def view(self, who: Who, customer_id: str, reason: str) -> str:
        """May ``who`` open this profile? Returns the audit detail; raises ReasonRequired."""
        if who.integration:  # a scoped integration (customers:read): audited under its name
            return "integration"
        self.lookup(who)
        if await self.in_hand(who.agent_id, customer_id):
            detail = "on call"
        else:
            given = _reason(reason)
            if len(given) < MIN_REASON:
                raise ReasonRequired(
                    f"customer {customer_id} is not on one of your calls: give a reason "
                    f"(at least {MIN_REASON} characters) to open the profile"
                )
            detail = f"reason: {given}"
        await self._opened_one(who, customer_id)
        return detail

    async def unmask(self, who: Who, customer_id: str, reason: str) -> str:
        """May ``who`` see the full identity number? Returns the stated reason."""
        given = _reason(reason)
        if len(given) < MIN_REASON:
            raise ReasonRequired(
                f"give a reason (at least {MIN_REASON} characters) to unmask the identity number"
            )
        if not who.supervisor and not self.on_current_call(who.agent_id, customer_id):
            raise NotOnYourCall(
                "the full identity number is shown only for the customer on your current call"
            )
        self._limit(who, "unmasks", self._config().unmasks_per_minute)
        await self._opened_one(who, customer_id)
        return given

    async def _opened_one(self, who: Who, customer_id: str) -> None:
        cfg, now = self._config(), self.clock()
        window = cfg.bulk_window_minutes * 60
        opened = self._opened.setdefault(who.agent_id, {})
        for cid, at in list(opened.items()):
            if now - at > window:
                del opened[cid]
        opened[customer_id] = now
        last = self._alerted.get(who.agent_id)
        if len(opened) > cfg.bulk_customers and (last is None or now - last > window):
            self._alerted[who.agent_id] = now  # once per window per person, not once per view
            detail = f"{len(opened)} distinct customers in {cfg.bulk_window_minutes:g} min"
            await self._audit(who.agent_id, BULK_ALERT, "agent", who.agent_id, detail=detail)
            if self.alert is not None:
                frame = {
                    "type": "access.alert",
                    "agent_id": who.agent_id,
                    "customers": len(opened),
                    "window_minutes": cfg.bulk_window_minutes,
                    "at": datetime.fromtimestamp(now, UTC).isoformat(),
                }
                await self.alert(frame)
