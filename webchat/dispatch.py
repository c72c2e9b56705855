"""Chat routing by the same ACD rules as calls: a waiting chat has its customer's tier and ages like a
caller (acd.policy); an agent takes chats up to their capacity, and none while on a call when the
queue says so. Pure: the clock is passed in; the service layer applies the decisions.

- A chat waits in its topic's queue with the tier's base priority and the policy's aging;
  :meth:`ChatDispatcher.next_for` offers an agent with spare capacity the chat the policy picks among
  the queues the agent serves (the longest-waiting of the best priority).
- When a chat arrives, :meth:`ChatDispatcher.agent_for` picks the agent with the fewest chats (then
  the one idle longest) among those who serve the queue and have room.
- :meth:`position` is where a waiting chat stands among those an agent of its queue would pick first:
  what the customer sees while waiting.
- A chat waiting past the queue's ``offer_callback_after`` is flagged so the widget offers the
  callback form instead.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

from acd.policy import AcdPolicy, WaitingCaller


@dataclass(frozen=True, slots=True)
class WaitingChat(WaitingCaller):
    queue: str = ""


@dataclass
class ChatAgent:
    agent_id: str
    queues: frozenset[str]
    capacity: int  # chats at once
    chats: int = 0
    on_call: bool = False
    ready: bool = True
    free_since: float = 0.0


@dataclass(frozen=True)
class ChatQueueRules:
    name: str
    no_chat_while_on_call: bool = True
    offer_callback_after: float = 180.0  # seconds waiting before the callback form is offered


@dataclass
class ChatDispatcher:
    policy: AcdPolicy
    queues: dict[str, ChatQueueRules]
    waiting: dict[str, list[WaitingChat]] = field(default_factory=dict)  # queue → FIFO

    def can_take(self, agent: ChatAgent, queue: str) -> bool:
        rules = self.queues[queue]
        if not agent.ready or queue not in agent.queues or agent.chats >= agent.capacity:
            return False
        return not (agent.on_call and rules.no_chat_while_on_call)

    def join(self, chat: WaitingChat) -> None:
        if chat.queue not in self.queues:
            raise KeyError(f"no chat queue {chat.queue!r}")
        self.waiting.setdefault(chat.queue, []).append(chat)

    def leave(self, call_id: str) -> WaitingChat | None:
        for fifo in self.waiting.values():
            for i, c in enumerate(fifo):
                if c.call_id == call_id:
                    return fifo.pop(i)
        return None

    def agent_for(self, queue: str, agents: Iterable[ChatAgent]) -> ChatAgent | None:
        """Who takes a chat arriving in ``queue`` now: the least loaded, then the one free longest."""
        able = [a for a in agents if self.can_take(a, queue)]
        return min(able, key=lambda a: (a.chats, a.free_since, a.agent_id)) if able else None

    def next_for(
        self, agent: ChatAgent, now: float, skip: frozenset[str] = frozenset()
    ) -> WaitingChat | None:
        """The chat this agent should take next, or None (nothing waiting they may take). ``skip``:
        chats not to offer this agent (those they just transferred away)."""
        # Every waiting chat, not only each queue's head: one queue holds several tiers, and a gold chat
        # behind a standard one must still go first. Chat queues are short; calls use per-tier FIFOs.
        offered = [
            c
            for q, fifo in self.waiting.items()
            if self.can_take(agent, q)
            for c in fifo
            if c.call_id not in skip
        ]
        return self.policy.pick_next(offered, now) if offered else None

    def _rank(self, chats: Sequence[WaitingChat], now: float) -> list[WaitingChat]:
        def key(c: WaitingChat) -> tuple[int, float]:
            return (-self.policy.effective_priority(c.tier, now - c.arrived_at), c.arrived_at)

        return sorted(chats, key=key)

    def position(self, call_id: str, now: float) -> int | None:
        """1-based place of a waiting chat among its queue's chats in the order they will be taken."""
        for fifo in self.waiting.values():
            order = self._rank(fifo, now)
            for i, c in enumerate(order, start=1):
                if c.call_id == call_id:
                    return i
        return None

    def due_for_callback(self, now: float) -> list[WaitingChat]:
        """Chats that waited past their queue's limit: the widget offers the callback form."""
        return [
            c
            for q, fifo in self.waiting.items()
            for c in fifo
            if now - c.arrived_at >= self.queues[q].offer_callback_after
        ]
