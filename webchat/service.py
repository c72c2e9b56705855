"""Live chats: a customer's chat waits in its topic's queue by the ACD's rules (webchat/dispatch.py),
is offered to an agent with room, and messages flow both ways with their delivery states until the
agent ends it with a disposition; then its transcript is stored and noted in the customer's history.

The service holds this node's live chats in memory (a chat is bound to the node its customer's socket
reached) and speaks only to small Protocols: the customer's channel (webchat/channel.py), the agents'
desktops (:class:`Desk`), the agents' states (:data:`AgentFacts`), the customer directory
(:class:`Profiles`) and the transcript store. No aiohttp here; the clock is injected.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import secrets
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Literal, Protocol

from acd.policy import AcdPolicy
from core.audit import Audit
from core.errors import Conflict, Forbidden, NotFound, TongdaiError
from webchat.channel import Channel, DeliveryState, Identity, advances
from webchat.config import WebchatConfig
from webchat.dispatch import ChatAgent, ChatDispatcher, ChatQueueRules, WaitingChat
from webchat.store import TranscriptStore
from webchat.text import clean

log = logging.getLogger(__name__)

Sender = Literal["customer", "agent", "system"]
_NONE: frozenset[str] = frozenset()
SERVING = ("ready", "ringing", "on_call", "wrap_up")  # an agent in one of these may take chats
ON_CALL = ("ringing", "on_call")


class UnknownTopic(TongdaiError, ValueError):
    error_id = "chat.unknown_topic"


class NotYourChat(Forbidden):
    error_id = "chat.not_yours"


class ChatOver(Conflict):
    error_id = "chat.ended"


class TransferRefused(Conflict):
    error_id = "chat.transfer_refused"


@dataclass(frozen=True)
class AgentFact:
    agent_id: str
    status: str
    queues: tuple[str, ...]


AgentFacts = Callable[[], Awaitable[list[AgentFact]]]


class Desk(Protocol):
    """The agents' desktops (the pop hub): frames to one agent's open pages."""

    async def send_agent(self, agent_id: str, frame: dict[str, Any]) -> int: ...

    def connected_agents(self) -> list[str]: ...


class Profiles(Protocol):
    """The unified profile (as the screen pop shows it) and the customer's history."""

    async def profile(self, customer_id: str | None, phone: str | None) -> dict[str, Any] | None: ...

    async def note_chat(
        self, customer_id: str, chat_id: str, agent_id: str | None, summary: str, disposition: str | None
    ) -> None: ...


@dataclass
class Message:
    id: str
    sender: Sender
    text: str
    at: datetime
    agent_id: str | None = None
    state: DeliveryState = "sent"

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "from": self.sender,
            "agent": self.agent_id,
            "text": self.text,
            "at": self.at.isoformat(),
            "state": self.state,
        }


@dataclass
class LiveChat:
    id: str
    channel: str
    conversation: str
    identity: Identity
    queue: str
    tier: str
    page: str
    lang: str
    started_at: datetime
    arrived: float  # the dispatcher's clock
    customer: dict[str, Any] | None = None  # the profile as the pop shows it
    agent_id: str | None = None
    answered_at: datetime | None = None
    messages: list[Message] = field(default_factory=list)
    position: int | None = None
    callback_offered: bool = False
    customer_gone: bool = False
    gone_at: float | None = None  # the dispatcher's clock, when the customer's socket closed
    resume: str = ""  # the secret a reconnecting widget gives back to take this chat up again
    transferred_by: str | None = None
    _seq: int = 0

    def next_id(self) -> str:
        self._seq += 1
        return f"{self.id}.{self._seq}"

    def summary(self) -> dict[str, Any]:
        return {
            "chat_id": self.id,
            "channel": self.channel,
            "queue": self.queue,
            "tier": self.tier,
            "page": self.page,
            "lang": self.lang,
            "started_at": self.started_at.isoformat(),
            "phone": self.identity.phone,
            "customer_id": self.identity.customer_id or (self.customer or {}).get("customer_id"),
            "verified": self.identity.verified,
            "agent_id": self.agent_id,
            "customer_gone": self.customer_gone,
            "transferred_by": self.transferred_by,
        }

    def for_agent(self) -> dict[str, Any]:
        return {**self.summary(), "customer": self.customer, "messages": [m.to_json() for m in self.messages]}


def _utcnow() -> datetime:
    return datetime.now(UTC)


class ChatService:
    def __init__(
        self,
        cfg: WebchatConfig,
        policy: AcdPolicy,
        *,
        agents: AgentFacts,
        desk: Desk,
        profiles: Profiles,
        store: TranscriptStore,
        audit: Audit,
        tier_of: Callable[[str | None], str],
        clock: Callable[[], float] = time.monotonic,
        wall: Callable[[], datetime] = _utcnow,
    ) -> None:
        self.cfg = cfg
        rules = {
            q.name: ChatQueueRules(q.name, q.no_chat_while_on_call, q.offer_callback_after)
            for q in cfg.queues
        }
        self.dispatcher = ChatDispatcher(policy, rules)
        self.channels: dict[str, Channel] = {}
        self.chats: dict[str, LiveChat] = {}
        self.agent_facts, self._desk, self._profiles = agents, desk, profiles
        self.store, self._audit, self._tier_of = store, audit, tier_of
        self._clock, self._wall = clock, wall
        self._free_since: dict[str, float] = {}
        self._passed_on: dict[str, frozenset[str]] = {}  # agent → chats they transferred to a queue
        self._away_since: dict[str, float] = {}  # agent holding chats → since when no desktop is open
        self._lock = asyncio.Lock()  # one dispatch at a time: two never offer one chat
        self._task: asyncio.Task[None] | None = None
        self.tick_seconds = 0.5

    # --- life ---------------------------------------------------------------------------------------

    def add_channel(self, channel: Channel) -> None:
        self.channels[channel.name] = channel

    def start(self) -> None:
        self._task = asyncio.create_task(self._ticker(), name="webchat-ticker")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None

    async def _ticker(self) -> None:
        while True:
            await asyncio.sleep(self.tick_seconds)
            try:
                await self.tick()
            except Exception:
                log.exception("webchat tick failed")

    async def tick(self) -> None:
        """Take chats back from agents whose desktop is gone, offer what can be offered, tell waiting
        customers their place, offer the callback form."""
        await self._reclaim()
        await self._abandon_gone()
        await self.dispatch()
        now = self._clock()
        for w in self.dispatcher.due_for_callback(now):
            chat = self.chats.get(w.call_id)
            if chat is not None and not chat.callback_offered:
                chat.callback_offered = True
                await self._notify(chat, "callback_offer", {})
        await self._positions(now)

    # --- the customer's side (a channel calls these) -------------------------------------------------

    async def open(
        self,
        channel: str,
        conversation: str,
        identity: Identity,
        queue: str,
        *,
        page: str = "",
        lang: str = "vi",
    ) -> LiveChat:
        if self.cfg.queue(queue) is None:
            raise UnknownTopic(f"no chat topic {queue!r}")
        try:
            customer = await self._profiles.profile(identity.customer_id, identity.phone)
        except Exception:  # the directory is down: the chat goes on, unidentified, at the lowest tier
            log.exception("chat profile lookup failed; the chat waits unidentified")
            customer = None
        tier = self._tier_of(customer.get("tier") if customer else None)
        chat = LiveChat(
            id=f"chat-{secrets.token_urlsafe(9)}",
            channel=channel,
            conversation=conversation,
            identity=identity,
            queue=queue,
            tier=tier,
            page=page[:500],
            lang=lang if lang in ("vi", "en") else "vi",
            started_at=self._wall(),
            arrived=self._clock(),
            customer=customer,
            resume=secrets.token_urlsafe(18),
        )
        self.chats[chat.id] = chat
        self.dispatcher.join(WaitingChat(chat.id, tier, chat.arrived, queue=queue))
        await self.dispatch()
        if chat.agent_id is None:  # the welcome says it; the others' new places go out on the tick
            chat.position = self.dispatcher.position(chat.id, self._clock())
        return chat

    async def inbound(self, chat_id: str, text: str) -> Message:
        """A customer's message: kept (state ``sent``), then passed to the agent (``delivered``)."""
        msg = self.accept(chat_id, text)
        await self.forward(chat_id, msg)
        return msg

    def accept(self, chat_id: str, text: str) -> Message:
        """Keep a customer's message; a channel acknowledges it before :meth:`forward` delivers it, so
        the customer sees ``sent`` before ``delivered``."""
        chat = self._live(chat_id)
        msg = Message(chat.next_id(), "customer", clean(text, self.cfg.max_message_bytes), self._wall())
        chat.messages.append(msg)
        return msg

    async def forward(self, chat_id: str, msg: Message) -> None:
        chat = self.chats.get(chat_id)
        if chat is not None and chat.agent_id is not None:
            frame = {"type": "chat.message", "chat_id": chat.id, "message": msg.to_json()}
            if await self._desk.send_agent(chat.agent_id, frame):
                await self._advance(chat, msg, "delivered")

    async def customer_typing(self, chat_id: str) -> None:
        chat = self._live(chat_id)
        if chat.agent_id is not None:
            await self._desk.send_agent(chat.agent_id, {"type": "chat.typing", "chat_id": chat.id})

    async def customer_read(self, chat_id: str, message_id: str) -> None:
        chat = self._live(chat_id)
        for m in chat.messages:
            if m.sender == "agent" and _seq(m.id) <= _seq(message_id):
                await self._advance(chat, m, "read")

    async def customer_left(self, chat_id: str) -> None:
        """The customer's socket closed (a reload, a lost connection, gone). A waiting chat leaves the
        line and ends as abandoned unless they come back within ``resume_seconds``; an answered one
        stays with its agent until they end it with a disposition."""
        chat = self.chats.get(chat_id)
        if chat is None:
            return
        chat.customer_gone, chat.gone_at = True, self._clock()
        if chat.agent_id is None:
            self.dispatcher.leave(chat.id)
        else:
            await self._desk.send_agent(chat.agent_id, {"type": "chat.left", "chat_id": chat.id})

    async def resume(self, token: str, conversation: str) -> LiveChat:
        """A customer's widget back with its chat's resume secret (after a reload): the chat goes on
        on the new conversation, waiting again at its old place or back with its agent."""
        chat = next(
            (c for c in self.chats.values() if c.resume and secrets.compare_digest(c.resume, token)), None
        )
        if chat is None or not chat.customer_gone:  # unknown, over, or still open elsewhere
            raise ChatOver("this chat can no longer be resumed")
        chat.conversation, chat.customer_gone, chat.gone_at = conversation, False, None
        if chat.agent_id is None:
            self.dispatcher.join(WaitingChat(chat.id, chat.tier, chat.arrived, queue=chat.queue))
            chat.position = self.dispatcher.position(chat.id, self._clock())
            await self.dispatch()
        else:
            await self._desk.send_agent(chat.agent_id, {"type": "chat.back", "chat_id": chat.id})
        return chat

    async def _abandon_gone(self) -> None:
        now = self._clock()
        for chat in list(self.chats.values()):
            gone = chat.gone_at is not None and now - chat.gone_at >= self.cfg.resume_seconds
            if chat.customer_gone and chat.agent_id is None and gone:
                await self._finish(chat, None, "abandoned")

    # --- the agent's side (the desktop's routes) ----------------------------------------------------

    def mine(self, agent_id: str) -> list[LiveChat]:
        return [c for c in self.chats.values() if c.agent_id == agent_id]

    def _owned(self, agent_id: str, chat_id: str) -> LiveChat:
        chat = self.chats.get(chat_id)
        if chat is None:
            raise NotFound(f"no live chat {chat_id}")
        if chat.agent_id != agent_id:
            raise NotYourChat(f"chat {chat_id} is not yours")
        return chat

    async def agent_send(self, agent_id: str, chat_id: str, text: str) -> Message:
        """To the customer; while their socket is away it waits in the chat (shown when they resume)."""
        chat = self._owned(agent_id, chat_id)
        msg = Message(
            chat.next_id(), "agent", clean(text, self.cfg.max_message_bytes), self._wall(), agent_id
        )
        chat.messages.append(msg)
        # Echoed to the agent's pages first: on their socket it comes before its delivery states.
        echo = {"type": "chat.message", "chat_id": chat.id, "message": msg.to_json()}
        await self._desk.send_agent(agent_id, echo)
        await self.channels[chat.channel].send(chat.conversation, msg.id, msg.text, msg.at)
        return msg

    async def agent_typing(self, agent_id: str, chat_id: str) -> None:
        chat = self._owned(agent_id, chat_id)
        await self._notify(chat, "typing", {})

    async def agent_read(self, agent_id: str, chat_id: str, message_id: str) -> None:
        chat = self._owned(agent_id, chat_id)
        for m in chat.messages:
            if m.sender == "customer" and _seq(m.id) <= _seq(message_id):
                await self._advance(chat, m, "read")

    async def delivered(self, chat_id: str, message_id: str, state: DeliveryState) -> None:
        """A channel's delivery report for an agent's message."""
        chat = self.chats.get(chat_id)
        if chat is None:
            return
        for m in chat.messages:
            if m.id == message_id:
                await self._advance(chat, m, state)

    async def transfer(self, agent_id: str, chat_id: str, target: str) -> LiveChat:
        """To another agent (who must be able to take it now) or to a queue (where it waits with its
        original arrival, so it keeps its place)."""
        chat = self._owned(agent_id, chat_id)
        if chat.customer_gone:
            raise ChatOver("the customer has left this chat")
        async with self._lock:
            if self.cfg.queue(target) is not None:
                chat.agent_id, chat.queue, chat.transferred_by = None, target, agent_id
                self._passed_on[agent_id] = self._passed_on.get(agent_id, _NONE) | {chat.id}
                self.dispatcher.join(WaitingChat(chat.id, chat.tier, chat.arrived, queue=target))
                to = {"queue": target}
            else:
                agents = {a.agent_id: a for a in await self._available()}
                other = agents.get(target)
                if target == agent_id or other is None or not self.dispatcher.can_take(other, chat.queue):
                    raise TransferRefused(f"agent {target} cannot take this chat now")
                chat.transferred_by = agent_id
                await self._offer(chat, target)
                to = {"agent": target}
        self._free_since[agent_id] = self._clock()
        await self._desk.send_agent(agent_id, {"type": "chat.gone", "chat_id": chat.id, "to": to})
        await self._audit(agent_id, "chat.transfer", "chat", chat.id, target)
        await self.dispatch()
        return chat

    async def end(self, agent_id: str, chat_id: str, disposition: str) -> dict[str, Any]:
        chat = self._owned(agent_id, chat_id)
        disposition = disposition.strip()[:64]
        if not disposition:
            raise ValueError("give a disposition")
        await self._finish(chat, agent_id, disposition)
        self._free_since[agent_id] = self._clock()
        await self._desk.send_agent(agent_id, {"type": "chat.gone", "chat_id": chat.id, "to": None})
        await self.dispatch()
        return {"chat_id": chat.id, "disposition": disposition}

    # --- supervisors --------------------------------------------------------------------------------

    def board(self) -> dict[str, Any]:
        """Waiting chats per queue and each agent's chat load (the wallboard's chat block)."""
        now = self._clock()
        waiting = {}
        for q in self.cfg.queues:
            f = self.dispatcher.waiting.get(q.name, [])
            longest = max((now - c.arrived_at for c in f), default=0.0)
            waiting[q.name] = {"waiting": len(f), "longest": round(longest, 1)}
        load: dict[str, int] = {}
        for c in self.chats.values():
            if c.agent_id:
                load[c.agent_id] = load.get(c.agent_id, 0) + 1
        return {"queues": waiting, "agents": load}

    # --- inside -------------------------------------------------------------------------------------

    def _live(self, chat_id: str) -> LiveChat:
        chat = self.chats.get(chat_id)
        if chat is None:
            raise ChatOver("this chat has ended")
        return chat

    async def _reclaim(self) -> None:
        """A chat whose agent has had no desktop page open for ``agent_away_seconds`` goes back to its
        queue with its original arrival (its place kept), so a closed laptop strands no customer."""
        connected = set(self._desk.connected_agents())
        now = self._clock()
        for agent_id in {c.agent_id for c in self.chats.values() if c.agent_id}:
            if agent_id in connected:
                self._away_since.pop(agent_id, None)
                continue
            since = self._away_since.setdefault(agent_id, now)
            if now - since < self.cfg.agent_away_seconds:
                continue
            del self._away_since[agent_id]
            for chat in self.mine(agent_id):
                if chat.customer_gone:  # nobody to serve: it ends, stored as the agent left it
                    await self._finish(chat, agent_id, "agent_away")
                    continue
                chat.agent_id, chat.transferred_by = None, agent_id
                self.dispatcher.join(WaitingChat(chat.id, chat.tier, chat.arrived, queue=chat.queue))
                await self._notify(chat, "waiting", {})
                await self._audit(agent_id, "chat.reclaimed", "chat", chat.id, "no desktop open")

    async def _available(self) -> list[ChatAgent]:
        connected = set(self._desk.connected_agents())
        load: dict[str, int] = {}
        for c in self.chats.values():
            if c.agent_id:
                load[c.agent_id] = load.get(c.agent_id, 0) + 1
        out = []
        for a in await self.agent_facts():
            if a.agent_id not in connected or a.status not in SERVING:
                continue
            out.append(
                ChatAgent(
                    a.agent_id,
                    frozenset(a.queues),
                    self.cfg.max_chats_per_agent,
                    chats=load.get(a.agent_id, 0),
                    on_call=a.status in ON_CALL,
                    ready=a.status != "wrap_up",
                    free_since=self._free_since.get(a.agent_id, 0.0),
                )
            )
        return out

    async def dispatch(self) -> int:
        """Offer waiting chats to agents with room, best chat first (the ACD policy), least-loaded
        agent first; returns how many were offered."""
        if not any(self.dispatcher.waiting.values()):
            return 0
        offered = 0
        async with self._lock:
            agents = await self._available()
            while True:
                now = self._clock()
                best: tuple[ChatAgent, WaitingChat] | None = None
                for agent in sorted(agents, key=lambda a: (a.chats, a.free_since, a.agent_id)):
                    w = self.dispatcher.next_for(agent, now, self._passed_on.get(agent.agent_id, _NONE))
                    if w is not None:
                        best = (agent, w)
                        break
                if best is None:
                    return offered
                agent, w = best
                self.dispatcher.leave(w.call_id)
                chat = self.chats.get(w.call_id)
                if chat is None:
                    continue
                agent.chats += 1
                await self._offer(chat, agent.agent_id)
                offered += 1

    async def _offer(self, chat: LiveChat, agent_id: str) -> None:
        chat.agent_id, chat.position = agent_id, None
        if chat.answered_at is None:
            chat.answered_at = self._wall()
        await self._desk.send_agent(agent_id, {"type": "chat.offer", "chat": chat.for_agent()})
        customer_id = (chat.customer or {}).get("customer_id")
        if customer_id:  # the pop showed a customer's personal data: audited like a call's pop
            await self._audit(agent_id, "profile.pop", "customer", str(customer_id), f"chat {chat.id}")
        for m in chat.messages:
            if m.sender == "customer":
                await self._advance(chat, m, "delivered")
        await self._notify(chat, "agent", {"agent": agent_id})

    async def _positions(self, now: float) -> None:
        for fifo in list(self.dispatcher.waiting.values()):
            for place, w in enumerate(self.dispatcher._rank(fifo, now), start=1):
                chat = self.chats.get(w.call_id)
                if chat is not None and chat.position != place:
                    chat.position = place
                    await self._notify(chat, "position", {"position": place})

    async def _advance(self, chat: LiveChat, msg: Message, state: DeliveryState) -> None:
        if not advances(msg.state, state):
            return
        msg.state = state
        if msg.sender == "customer":
            await self._notify(chat, "delivery", {"id": msg.id, "state": state})
        elif msg.sender == "agent" and msg.agent_id and chat.agent_id:
            frame = {"type": "chat.delivery", "chat_id": chat.id, "id": msg.id, "state": state}
            await self._desk.send_agent(chat.agent_id, frame)

    async def _notify(self, chat: LiveChat, event: str, data: dict[str, Any]) -> None:
        channel = self.channels.get(chat.channel)
        if channel is not None and not chat.customer_gone:
            await channel.notify(chat.conversation, event, data)

    async def _finish(self, chat: LiveChat, agent_id: str | None, disposition: str) -> None:
        self.chats.pop(chat.id, None)
        for a, chats in list(self._passed_on.items()):
            if chat.id in chats:
                self._passed_on[a] = chats - {chat.id}
        ended = self._wall()
        await self.store.save(chat, ended, disposition)
        customer_id = chat.identity.customer_id or (chat.customer or {}).get("customer_id")
        if customer_id:
            n = len(chat.messages)
            summary = f"chat · {chat.queue} · {n} messages"
            try:
                await self._profiles.note_chat(str(customer_id), chat.id, agent_id, summary, disposition)
            except Exception:  # the transcript is stored; a history note must not lose it
                log.exception("chat %s: the history note was not written", chat.id)
        await self._notify(chat, "ended", {"disposition": disposition})


def _seq(message_id: str) -> int:
    try:
        return int(message_id.rsplit(".", 1)[1])
    except (IndexError, ValueError):
        return -1
