"""Agent status as a pure state machine folded from app_queue's AMI member events.

No I/O and no clock: each call takes ``now`` (epoch seconds). :class:`AgentBook` keeps, per agent, the
facts Asterisk reports separately — queue membership (QueueMemberAdded/Removed/Status), the pause flag
and reason (QueueMemberPause) and the call activity (AgentCalled → ringing, AgentConnect → on_call,
AgentComplete → wrap-up, AgentRingNoAnswer → back) — and derives one published status:

    logged_out  no queue membership
    ringing / on_call / wrap_up   while a queue call involves the agent (even if a pause is pending)
    paused      a member with the pause flag set (reason = the pause reason code)
    unavailable a member, idle and not paused, whose device Asterisk reports invalid or unavailable
                (``Status`` 4/5 of QueueMember*: an unregistered SIP phone); app_queue offers it no call
    ready       a member, idle, not paused and reachable

A pause outranks an unreachable phone: the agent takes no calls either way, and the pause reason is
what the reports need; the phone's state shows again once the pause ends.

Only changes of that derived view are reported (:class:`Transition`), so the service publishes and
logs state durations without duplicates however many events Asterisk repeats.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

from core.members import agent_from_member

AgentStatus = Literal["logged_out", "ready", "ringing", "on_call", "wrap_up", "paused", "unavailable"]
Activity = Literal["idle", "ringing", "on_call", "wrap_up"]
STATUSES: tuple[AgentStatus, ...] = (
    "logged_out",
    "ready",
    "ringing",
    "on_call",
    "wrap_up",
    "paused",
    "unavailable",
)
# ast_device_state values app_queue's is_member_available() never rings: AST_DEVICE_INVALID and
# AST_DEVICE_UNAVAILABLE. Unknown (0), in use, busy, ringing and on hold are a reachable phone.
DEVICE_DOWN = frozenset({"4", "5"})


@dataclass(frozen=True, slots=True)
class AgentState:
    """What the desktop, the wallboard and other nodes see of one agent."""

    agent_id: str
    status: AgentStatus
    reason: str  # the pause reason code while paused, else ""
    since: float  # epoch seconds at which this status (and reason) began
    queues: tuple[str, ...]

    def to_json(self) -> dict[str, Any]:
        return {
            "agent_id": self.agent_id,
            "status": self.status,
            "reason": self.reason,
            "since": self.since,
            "queues": list(self.queues),
        }

    @classmethod
    def from_json(cls, d: Mapping[str, Any]) -> AgentState:
        status = str(d.get("status", "logged_out"))
        return cls(
            agent_id=str(d["agent_id"]),
            status=status if status in STATUSES else "logged_out",
            reason=str(d.get("reason", "")),
            since=float(d.get("since", 0.0)),
            queues=tuple(d.get("queues", ())),
        )


@dataclass(frozen=True, slots=True)
class Transition:
    """A change of an agent's published state. ``previous`` is None the first time an agent is seen.

    ``status_changed`` is False when only the queue list changed (the duration keeps running).
    ``missed_rings`` counts rings in a row that went unanswered (reset by an answer or a pause).
    ``wrap_up_seconds`` is set when the agent entered wrap-up, for the service's timer.
    """

    previous: AgentState | None
    current: AgentState
    status_changed: bool
    missed_rings: int = 0
    wrap_up_seconds: float = 0.0


@dataclass
class _Agent:
    agent_id: str
    queues: set[str] = field(default_factory=set)
    paused: bool = False
    pause_reason: str = ""
    activity: Activity = "idle"
    reachable: bool = True  # the member's device state is neither invalid nor unavailable
    ringing_call: str = ""  # Linkedid of the call ringing this agent
    missed: int = 0
    state: AgentState | None = None

    def derive(self) -> tuple[AgentStatus, str]:
        if not self.queues:
            return "logged_out", ""
        if self.activity != "idle":
            return self.activity, ""
        if self.paused:
            return "paused", self.pause_reason
        if not self.reachable:
            return "unavailable", ""
        return "ready", ""


def _flag(v: str) -> bool:
    return v.strip().lower() in ("1", "true", "yes")


class AgentBook:
    """Folds member events into agent states. ``wrapup_of(queue)`` gives the queue's wrap-up seconds."""

    def __init__(self, wrapup_of: Callable[[str], float] = lambda _q: 0.0) -> None:
        self._wrapup_of = wrapup_of
        self._agents: dict[str, _Agent] = {}

    # --- reading ------------------------------------------------------------------------------

    def get(self, agent_id: str) -> AgentState | None:
        a = self._agents.get(agent_id)
        return a.state if a is not None else None

    def states(self) -> list[AgentState]:
        return [a.state for a in self._agents.values() if a.state is not None]

    def missed_rings(self, agent_id: str) -> int:
        """Rings in a row this agent let go unanswered (reset by an answer or a pause)."""
        a = self._agents.get(agent_id)
        return a.missed if a else 0

    def queues_of(self, agent_id: str) -> set[str]:
        a = self._agents.get(agent_id)
        return set(a.queues) if a else set()

    # --- events -------------------------------------------------------------------------------

    def apply(self, name: str, headers: Mapping[str, str], now: float) -> list[Transition]:
        """Fold one AMI event; return the agents whose published state changed."""
        h = headers
        if name == "QueueCallerAbandon":
            # The caller hung up while an agent's phone rang: no AgentRingNoAnswer follows.
            return self._stop_ringing(h.get("Linkedid", ""), now)
        agent_id = agent_from_member(h.get("MemberName", ""), h.get("Interface", ""))
        if not agent_id:
            return []
        a = self._agents.setdefault(agent_id, _Agent(agent_id))
        queue = h.get("Queue", "")
        wrap = 0.0
        if name in ("QueueMemberAdded", "QueueMemberStatus"):
            if queue:
                a.queues.add(queue)
            if "Paused" in h:
                self._set_pause(a, _flag(h["Paused"]), h.get("PausedReason", ""))
            if "Status" in h:
                a.reachable = h["Status"].strip() not in DEVICE_DOWN
        elif name == "QueueMemberRemoved":
            a.queues.discard(queue)
            if not a.queues:
                a.paused, a.pause_reason, a.activity, a.missed = False, "", "idle", 0
                a.reachable = True
        elif name == "QueueMemberPause":
            self._set_pause(a, _flag(h.get("Paused", "0")), h.get("PausedReason", "") or h.get("Reason", ""))
        elif name == "AgentCalled":
            a.activity, a.ringing_call = "ringing", h.get("Linkedid", "")
        elif name == "AgentRingNoAnswer":
            if a.activity == "ringing":
                a.activity = "idle"
            a.ringing_call = ""
            a.missed += 1
        elif name == "AgentConnect":
            a.activity, a.ringing_call, a.missed = "on_call", "", 0
            # With ringall several agents ring for one caller; app_queue hangs up the others when one
            # answers and reports nothing for them (no AgentRingNoAnswer): they are free again.
            return self._stop_ringing(h.get("Linkedid", ""), now) + self._commit(a, now)
        elif name == "AgentComplete":
            wrap = max(0.0, float(self._wrapup_of(queue)))
            # Logged out during the call: no wrap-up (no timer would ever end it; the next login
            # would find the agent stuck in wrap_up).
            a.activity = "wrap_up" if wrap > 0 and a.queues else "idle"
        else:
            return []
        return self._commit(a, now, wrap_up_seconds=wrap if a.activity == "wrap_up" else 0.0)

    def end_wrap_up(self, agent_id: str, now: float) -> list[Transition]:
        """The wrap-up timer ran out (Asterisk offers calls again after ``wrapuptime``)."""
        a = self._agents.get(agent_id)
        if a is None or a.activity != "wrap_up":
            return []
        a.activity = "idle"
        return self._commit(a, now)

    def resync(self, members: Iterable[Mapping[str, str]], now: float) -> list[Transition]:
        """Replace membership and pause facts with QueueStatus's ``QueueMember`` entries (after a
        reconnect, when events may have been missed). Agents absent from the list are logged out."""
        seen: dict[str, _Agent] = {}
        for m in members:
            agent_id = agent_from_member(m.get("Name", ""), m.get("Location", "") or m.get("Interface", ""))
            if not agent_id:
                continue
            a = self._agents.setdefault(agent_id, _Agent(agent_id))
            if agent_id not in seen:
                a.queues = set()
                seen[agent_id] = a
            a.queues.add(m.get("Queue", ""))
            self._set_pause(a, _flag(m.get("Paused", "0")), m.get("PausedReason", ""))
            if "Status" in m:
                a.reachable = m["Status"].strip() not in DEVICE_DOWN
            in_call = _flag(m.get("InCall", "0"))
            # InCall is set once the agent has answered: a ring we saw may have been answered while
            # the link was down (the AgentConnect was missed).
            if in_call and a.activity in ("idle", "ringing"):
                a.activity, a.ringing_call = "on_call", ""
            elif not in_call and a.activity in ("on_call", "ringing"):
                a.activity = "idle"
        out: list[Transition] = []
        for agent_id, a in self._agents.items():
            if agent_id not in seen:
                a.queues = set()
                a.paused, a.pause_reason, a.activity, a.reachable = False, "", "idle", True
            out.extend(self._commit(a, now))
        return out

    def ensure(self, agent_id: str, now: float) -> list[Transition]:
        """Make an agent known (logged out until Asterisk says otherwise)."""
        a = self._agents.setdefault(agent_id, _Agent(agent_id))
        return self._commit(a, now)

    # --- internals ----------------------------------------------------------------------------

    def _stop_ringing(self, call_id: str, now: float) -> list[Transition]:
        """Agents still ringing for ``call_id`` are idle again (that caller is gone or answered)."""
        out: list[Transition] = []
        for a in self._agents.values():
            if call_id and a.activity == "ringing" and a.ringing_call == call_id:
                a.activity, a.ringing_call = "idle", ""
                out.extend(self._commit(a, now))
        return out

    @staticmethod
    def _set_pause(a: _Agent, paused: bool, reason: str) -> None:
        if paused and not a.paused:
            a.missed = 0  # a pause (manual or automatic) restarts the missed-ring count
        a.paused = paused
        a.pause_reason = reason if paused else ""

    @staticmethod
    def _commit(a: _Agent, now: float, wrap_up_seconds: float = 0.0) -> list[Transition]:
        status, reason = a.derive()
        queues = tuple(sorted(a.queues))
        prev = a.state
        if prev is not None and (prev.status, prev.reason, prev.queues) == (status, reason, queues):
            return []
        changed = prev is None or (prev.status, prev.reason) != (status, reason)
        if prev is not None:
            # Times come from Asterisk's event stamps and from the bridge's clock (timers, re-syncs):
            # never let a period start before the one it follows.
            now = max(now, prev.since)
        since = now if changed or prev is None else prev.since
        a.state = AgentState(a.agent_id, status, reason, since, queues)
        return [Transition(prev, a.state, changed, a.missed, wrap_up_seconds)]
