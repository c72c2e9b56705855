"""The supervisor's wallboard: live queue, tier and agent figures, driven by bus events only.

Nothing here polls Asterisk (no QueueStatus): the figures are folded from the ``call.*`` events the
tracker publishes and the ``agent.state`` events of the agent-state service, and seeded at start
from today's rows of the ``calls`` table. Every change schedules one coalesced ``wallboard`` frame
to the supervisors' websockets.

Definitions (also served in each snapshot as ``definitions``):

* a call is counted in the day (Asia/Ho_Chi_Minh) and half-hour in which it **entered the queue**;
* ``answered``: an agent connected; ``abandoned``: the caller left the queue unanswered;
* ``exited``: the caller reached the queue's maximum wait and took its exit (a callback, voicemail or
  goodbye, acd/exits.py): not an abandon, as in the QCVN 36 report (reports/service_level.py);
* ``sl`` (service level) = answered within the target / (answered + abandoned + exited); the target is
  ``desktop.queue_sl_seconds`` per queue and the tier's own ``acd.tiers[].target_seconds`` per tier;
* ``asa`` = mean wait of answered calls (queue entry → answer), seconds;
* ``aht`` = mean talk time (answer → hang-up) of answered calls that ended; wrap-up is not included;
* ``waiting``/``longest_wait``: callers in queue now, and how long the first of them has waited.

Each frame also carries a separate block, ``kpis``: today's CSAT, survey response rate, repeat
contacts and the latest FCR, read from the database by agent_desktop/kpi_board.py (docs/satisfaction.md).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections import Counter
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass, replace
from datetime import UTC, date, datetime, timedelta
from typing import Any

from acd.exits import is_exit_disposition
from core.bus import BusEvent, EventBus
from core.vietnam import VN_TZ

log = logging.getLogger(__name__)

DEFINITIONS = {
    "sl": "answered within target / (answered + abandoned + exited)",
    "exited": "took the queue's exit at its maximum wait (callback, voicemail, goodbye); not an abandon",
    "asa": "mean wait of answered calls (queue entry to answer), seconds",
    "aht": "mean talk time (answer to hang-up) of answered calls that ended, seconds; wrap-up excluded",
    "day": "calls counted by the time they entered the queue, Asia/Ho_Chi_Minh",
}


def local_day(ts: float) -> date:
    return datetime.fromtimestamp(ts, VN_TZ).date()


def day_start(day: date) -> float:
    return datetime(day.year, day.month, day.day, tzinfo=VN_TZ).timestamp()


@dataclass
class QueuedCall:
    """One call that entered a queue today."""

    call_id: str
    queue: str
    tier: str
    queued_at: float
    answered_at: float | None = None
    ended_at: float | None = None
    agent_id: str = ""
    exited: bool = False  # disposition exit_* set by the FastAGI exit route

    @property
    def waiting(self) -> bool:
        return self.answered_at is None and self.ended_at is None

    @property
    def abandoned(self) -> bool:
        return self.answered_at is None and self.ended_at is not None and not self.exited


@dataclass
class Figures:
    waiting: int = 0
    longest_wait: float = 0.0
    offered: int = 0
    answered: int = 0
    abandoned: int = 0
    exited: int = 0
    answered_in_sl: int = 0
    sl_target: float = 0.0
    wait_sum: float = 0.0  # over answered calls: ASA = wait_sum / answered
    talk_sum: float = 0.0
    talked: int = 0  # answered calls that ended: AHT = talk_sum / talked

    def add(self, c: QueuedCall, now: float) -> None:
        self.offered += 1
        if c.waiting:
            self.waiting += 1
            self.longest_wait = max(self.longest_wait, now - c.queued_at)
        elif c.answered_at is not None:
            self.answered += 1
            wait = c.answered_at - c.queued_at
            self.wait_sum += wait
            if wait <= self.sl_target:
                self.answered_in_sl += 1
            if c.ended_at is not None:
                self.talk_sum += c.ended_at - c.answered_at
                self.talked += 1
        elif c.exited:
            self.exited += 1
        else:
            self.abandoned += 1

    def to_json(self) -> dict[str, Any]:
        handled = self.answered + self.abandoned + self.exited
        return {
            "waiting": self.waiting,
            "longest_wait": round(self.longest_wait, 1),
            "offered": self.offered,
            "answered": self.answered,
            "abandoned": self.abandoned,
            "exited": self.exited,
            "answered_in_sl": self.answered_in_sl,
            "sl_target": self.sl_target,
            "sl": round(self.answered_in_sl / handled, 4) if handled else None,
            "asa": round(self.wait_sum / self.answered, 2) if self.answered else None,
            "aht": round(self.talk_sum / self.talked, 2) if self.talked else None,
        }


class Tally:
    """Figures per queue, per tier and per half-hour of a set of calls."""

    def __init__(
        self,
        queue_sl: float,
        tier_sl: dict[str, float],
        queues: Iterable[str] = (),
        tiers: Iterable[str] = (),
    ) -> None:
        self.queue_sl, self.tier_sl = queue_sl, tier_sl
        self.by_queue: dict[str, Figures] = {q: Figures(sl_target=queue_sl) for q in queues}
        self.by_tier: dict[str, Figures] = {t: Figures(sl_target=tier_sl.get(t, queue_sl)) for t in tiers}
        self.halves: dict[str, Figures] = {}

    def add(self, c: QueuedCall, now: float) -> None:
        q = self.queue_sl
        self.by_queue.setdefault(c.queue, Figures(sl_target=q)).add(c, now)
        tier = c.tier or "standard"
        self.by_tier.setdefault(tier, Figures(sl_target=self.tier_sl.get(tier, q))).add(c, now)
        t = datetime.fromtimestamp(c.queued_at, VN_TZ)
        slot = f"{t.hour:02d}:{0 if t.minute < 30 else 30:02d}"
        self.halves.setdefault(slot, Figures(sl_target=q)).add(c, now)

    def copy(self) -> Tally:
        t = Tally(self.queue_sl, self.tier_sl)
        t.by_queue = {k: replace(f) for k, f in self.by_queue.items()}
        t.by_tier = {k: replace(f) for k, f in self.by_tier.items()}
        t.halves = {k: replace(f) for k, f in self.halves.items()}
        return t

    def to_json(self) -> dict[str, Any]:
        return {
            "queues": [{"name": q, **f.to_json()} for q, f in self.by_queue.items()],
            "tiers": [{"name": t, **f.to_json()} for t, f in self.by_tier.items()],
            "halfhours": [{"slot": s, **self.halves[s].to_json()} for s in sorted(self.halves)],
        }


def compute(
    calls: Iterable[QueuedCall],
    now: float,
    queue_sl: float,
    tier_sl: dict[str, float],
    *,
    queues: Iterable[str] = (),
    tiers: Iterable[str] = (),
) -> dict[str, Any]:
    """Per-queue, per-tier and per-half-hour figures for ``calls`` (pure: the tests call it too)."""
    tally = Tally(queue_sl, tier_sl, queues, tiers)
    for c in calls:
        tally.add(c, now)
    return tally.to_json()


def _epoch(v: Any) -> float | None:
    if v is None or v == "":
        return None
    if isinstance(v, (int, float)):
        return float(v)
    if isinstance(v, datetime):
        return (v if v.tzinfo else v.replace(tzinfo=UTC)).timestamp()
    try:
        return float(v)
    except (TypeError, ValueError):
        with contextlib.suppress(ValueError):
            return _epoch(datetime.fromisoformat(str(v)))
    return None


class Wallboard:
    """Folds bus events into today's figures and pushes a snapshot to supervisors on every change."""

    def __init__(
        self,
        push: Callable[[dict[str, Any]], Awaitable[None]],
        *,
        queues: dict[str, str],
        agents: dict[str, str],
        queue_sl: float,
        tier_sl: dict[str, float],
        coalesce: float = 0.2,
        now: Callable[[], float] = time.time,
    ) -> None:
        self._push = push
        self.queue_labels = queues
        self.agent_names = agents
        self.queue_sl = queue_sl
        self.tier_sl = tier_sl
        self.coalesce = coalesce
        self._now = now
        self.day = local_day(now())
        # Calls still in progress, and today's finished calls folded into running totals: a snapshot
        # costs O(live calls), not O(today's calls), so a busy day never slows the pops down.
        self.calls: dict[str, QueuedCall] = {}
        self._done = self._tally()
        # agent id -> {"status", "reason", "since", "queues"} from agent.state; "on_call" from call events.
        self.agents: dict[str, dict[str, Any]] = {
            a: {"status": "unknown", "reason": "", "since": None, "queues": [], "on_call": ""} for a in agents
        }
        self._pending: asyncio.TimerHandle | None = None
        self._push_task: asyncio.Task[None] | None = None
        self.pushes = 0
        # A separate block of each frame, "kpis": today's satisfaction figures (agent_desktop/kpi_board.py).
        self.kpis: Callable[[], dict[str, Any] | None] | None = None

    def now(self) -> float:
        """The wallboard's clock (epoch seconds)."""
        return self._now()

    def attach(self, bus: EventBus) -> None:
        bus.subscribe("call.", self.on_call_event, name="wallboard-calls")
        bus.subscribe("agent.state", self.on_agent_state, name="wallboard-agents")

    def _tally(self) -> Tally:
        return Tally(self.queue_sl, self.tier_sl, self.queue_labels, self.tier_sl)

    def seed(self, rows: Iterable[QueuedCall]) -> None:
        """Today's finished calls from the ``calls`` table (start-up)."""
        now = self._now()
        for r in rows:
            if local_day(r.queued_at) == self.day and r.call_id not in self.calls:
                self._done.add(r, now)

    def _roll_day(self) -> None:
        today = local_day(self._now())
        if today != self.day:
            self.day = today
            self._done = self._tally()
            self.calls = {k: c for k, c in self.calls.items() if c.waiting}

    # --- events -------------------------------------------------------------------------------

    async def on_call_event(self, ev: BusEvent) -> None:
        self._roll_day()
        kind = ev.type.removeprefix("call.")
        d = ev.data
        c = self.calls.get(ev.call_id)
        if kind == "queued":
            queued = _epoch(d.get("queued_at")) or ev.ts
            tier = str(d.get("acd_tier") or "")
            if c is None or not c.waiting:  # a transfer back into a queue starts a new offer
                self.calls[ev.call_id] = QueuedCall(ev.call_id, str(d.get("queue", "")), tier, queued)
            else:
                c.queue, c.tier = str(d.get("queue", "")) or c.queue, tier or c.tier
        elif (
            kind == "ivr"
            and c is not None
            and c.waiting
            and (d.get("acd_tier") or is_exit_disposition(d.get("disposition")))
        ):
            c.tier = str(d.get("acd_tier") or c.tier)
            c.exited = c.exited or is_exit_disposition(d.get("disposition"))
        elif kind == "answered" and c is not None:
            c.answered_at = _epoch(d.get("answered_at")) or ev.ts
            c.agent_id = str(d.get("agent_id", ""))
            if c.agent_id in self.agents:
                self.agents[c.agent_id]["on_call"] = ev.call_id
        elif kind in ("abandoned", "ended") and c is not None:
            c.exited = c.exited or is_exit_disposition(d.get("disposition"))
            if c.ended_at is None:
                c.ended_at = _epoch(d.get("ended_at")) or ev.ts
            if kind == "ended":  # final: nothing can change this offer any more
                self._done.add(self.calls.pop(ev.call_id), ev.ts)
            for a in self.agents.values():
                if a["on_call"] == ev.call_id:
                    a["on_call"] = ""
        else:
            return
        self.schedule()

    async def on_agent_state(self, ev: BusEvent) -> None:
        if self.set_agent(ev.data, ev.ts):
            self.schedule()

    def set_agent(self, d: dict[str, Any], ts: float | None = None) -> bool:
        """Fold one ``AgentState.to_json()`` (event or start-up snapshot)."""
        agent = str(d.get("agent_id", ""))
        if not agent:
            return False
        a = self.agents.setdefault(
            agent, {"status": "unknown", "reason": "", "since": None, "queues": [], "on_call": ""}
        )
        if (
            d.get("first")
            and d.get("status") == "logged_out"
            and a["status"] not in ("unknown", "logged_out")
        ):
            # A node starting says "logged out" of every agent its own Asterisk has not logged in; the
            # agent logged in on another node stays as that node reported (docs/operations.md).
            return False
        a["status"] = str(d.get("status", "unknown"))
        a["reason"] = str(d.get("reason") or "")
        a["since"] = _epoch(d.get("since")) or ts or self._now()
        a["queues"] = list(d.get("queues") or [])
        return True

    # --- snapshots ----------------------------------------------------------------------------

    def snapshot(self) -> dict[str, Any]:
        now = self._now()
        tally = self._done.copy()
        for c in self.calls.values():
            tally.add(c, now)
        figs = tally.to_json()
        for q in figs["queues"]:
            q["label"] = self.queue_labels.get(q["name"], q["name"])
        agents = []
        for agent_id, a in sorted(self.agents.items()):
            since = a["since"]
            agents.append(
                {
                    "agent_id": agent_id,
                    "name": self.agent_names.get(agent_id, agent_id),
                    "status": a["status"],
                    "reason": a["reason"],
                    "since": since,
                    "in_state_seconds": round(now - since, 1) if since else None,
                    "queues": a["queues"],
                    "on_call": a["on_call"],
                }
            )
        # Agents per status as the board shows them (a connected call wins over a lagging status);
        # "ready" counts only agents app_queue can ring: an unreachable phone is "unavailable".
        counts = Counter("on_call" if a["on_call"] else a["status"] for a in agents)
        return {
            "type": "wallboard",
            "at": now,
            "day": self.day.isoformat(),
            "definitions": DEFINITIONS,
            **figs,
            "agents": agents,
            "agent_counts": dict(sorted(counts.items())),
            "kpis": self.kpis() if self.kpis is not None else None,
        }

    def schedule(self) -> None:
        """Coalesce bursts: at most one push per ``coalesce`` window, the first within that window."""
        if self._pending is None:
            self._pending = asyncio.get_running_loop().call_later(self.coalesce, self._fire)

    def _fire(self) -> None:
        self._pending = None
        self._push_task = asyncio.get_running_loop().create_task(self._do_push())

    async def _do_push(self) -> None:
        try:
            await self._push(self.snapshot())
            self.pushes += 1
        except Exception:
            log.exception("wallboard push failed")

    def close(self) -> None:
        if self._pending is not None:
            self._pending.cancel()
            self._pending = None


def today_bounds(now: float | None = None) -> tuple[datetime, datetime]:
    """[start, end) of today in Asia/Ho_Chi_Minh, as aware datetimes (for queries on ``calls``)."""
    start = datetime.fromtimestamp(day_start(local_day(now or time.time())), UTC)
    return start, start + timedelta(days=1)
