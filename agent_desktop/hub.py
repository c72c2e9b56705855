"""PopHub: turns call events into screen pops and delivers each only to the agent it concerns.

On ``call.ringing`` the ringing agent's sockets receive the customer's unified profile (looked up
once, usually already cached by the IVR's prefetch) together with the IVR path, so by the time the
agent says "xin chào" the whole customer is on screen. Supervisors receive every call event.
Every profile delivered is written to the audit log. The last pop per agent is kept so a desktop
that reconnects while the call still rings catches up.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import json
import logging
import time
from collections import defaultdict
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, Protocol

from core.audit import Audit
from core.bus import BusEvent, EventBus

log = logging.getLogger(__name__)

ProfileLookup = Callable[[dict[str, Any]], Awaitable[dict[str, Any] | None]]


class Holds(Protocol):
    """Told which customer each agent was popped for which call (agent_desktop.access)."""

    def popped(self, agent_id: str, customer_id: str, call_id: str) -> None: ...

    def call_ended(self, call_id: str) -> None: ...


class Socket(Protocol):
    async def send_str(self, data: str) -> None: ...

    @property
    def closed(self) -> bool: ...


@dataclass(eq=False)  # identity hashing: each socket is its own connection
class _Conn:
    agent_id: str
    role: str
    socket: Socket


class PopHub:
    def __init__(
        self,
        lookup: ProfileLookup,
        audit: Audit,
        holds: Holds | None = None,
        observe_pop: Callable[[float], None] | None = None,
        repeat_note: ProfileLookup | None = None,
    ) -> None:
        """``repeat_note``: the owner's earlier contacts in the repeat window (reports/contact_note.py),
        fetched beside the profile; None = no note."""
        self._lookup = lookup
        self._repeat_note = repeat_note
        self._audit = audit
        self.holds = holds
        # Seconds from the tracker's ringing event to the frame written to the agent (/metrics).
        self._observe_pop = observe_pop
        self._conns: dict[str, set[_Conn]] = defaultdict(set)
        self._supervisors: set[_Conn] = set()
        self._ringing: dict[str, dict[str, Any]] = {}  # agent id -> current pop frame
        # Pops run concurrently (a profile lookup must not delay the next caller's pop); later
        # events of the same call wait for that call's pop, so "answered" never overtakes "pop".
        self._pops: dict[str, asyncio.Task[None]] = {}
        self._background: set[asyncio.Task[None]] = set()
        self._phones: dict[str, dict[str, Any]] = {}  # agent id -> last "phone" frame
        self.delivered = 0

    def attach(self, bus: EventBus) -> None:
        bus.subscribe("call.", self.on_call_event, name="pop-hub")
        bus.subscribe("phone.state", self.on_phone_state, name="pop-hub-phones")

    async def on_phone_state(self, ev: BusEvent) -> None:
        """The agent's desk phone registered, stopped answering or went away (acd.phone_service)."""
        agent_id = str(ev.data.get("agent_id", ""))
        frame = {"type": "phone", **ev.data}
        self._phones[agent_id] = frame
        await self._to_agent(agent_id, frame)

    # --- connections -------------------------------------------------------------------------

    async def connect(self, agent_id: str, role: str, socket: Socket) -> Callable[[], None]:
        conn = _Conn(agent_id, role, socket)
        if role in ("supervisor", "admin"):
            self._supervisors.add(conn)
        self._conns[agent_id].add(conn)
        phone = self._phones.get(agent_id)
        if phone is not None:
            await self._send(conn, phone)
        pending = self._ringing.get(agent_id)
        if pending is not None:
            await self._send(conn, {**pending, "catch_up": True})

        def disconnect() -> None:
            self._conns[agent_id].discard(conn)
            self._supervisors.discard(conn)

        return disconnect

    def connected_agents(self) -> list[str]:
        return [a for a, c in self._conns.items() if c]

    async def _send(self, conn: _Conn, frame: dict[str, Any] | str) -> None:
        if conn.socket.closed:
            return
        data = frame if isinstance(frame, str) else _dumps(frame)
        with contextlib.suppress(ConnectionError, RuntimeError):
            await conn.socket.send_str(data)

    async def _to_agent(self, agent_id: str, frame: dict[str, Any]) -> int:
        conns = list(self._conns.get(agent_id, ()))
        if len(conns) == 1:  # the usual case: no gather, no extra tasks on the pop's path
            await self._send(conns[0], frame)
        elif conns:
            data = _dumps(frame)  # once for all of the agent's sockets
            await asyncio.gather(*(self._send(c, data) for c in conns))
        return len(conns)

    async def _to_supervisors(self, frame: dict[str, Any], skip_agent: str = "") -> None:
        targets = [c for c in self._supervisors if c.agent_id != skip_agent]
        if targets:
            data = _dumps(frame)
            await asyncio.gather(*(self._send(c, data) for c in targets))

    async def send_supervisors(self, frame: dict[str, Any]) -> None:
        """Every supervisor's sockets (the wallboard's snapshots)."""
        await self._to_supervisors(frame)

    async def send_agent(self, agent_id: str, frame: dict[str, Any]) -> int:
        return await self._to_agent(agent_id, frame)

    # --- call events ---------------------------------------------------------------------------

    async def on_call_event(self, ev: BusEvent) -> None:
        kind = ev.type.removeprefix("call.")
        d = ev.data
        pending = self._pops.get(ev.call_id)
        if kind in ("ringing", "transferring"):  # a transfer to an agent pops at the target like a ring
            task = asyncio.get_running_loop().create_task(self._pop(ev, pending), name=f"pop:{ev.call_id}")
            self._pops[ev.call_id] = task
            task.add_done_callback(functools.partial(self._pop_done, ev.call_id))
            return
        if pending is not None:
            with contextlib.suppress(Exception):
                await asyncio.shield(pending)
        agent = d.get("ringing_agent") or d.get("agent_id") or ""
        frame = {"type": kind, "call_id": ev.call_id, "agent_id": agent, "ts": ev.ts}
        if kind == "ring_noanswer":
            self._ringing.pop(agent, None)
            frame["type"] = "retract"
        elif kind in ("answered", "ended", "abandoned"):
            for a, pop in list(self._ringing.items()):
                if pop["call_id"] == ev.call_id:
                    self._ringing.pop(a, None)
            if kind == "ended":
                frame["disposition"] = d.get("disposition", "")
                if self.holds is not None:
                    self.holds.call_ended(ev.call_id)
        if agent and kind in ("retract", "ring_noanswer", "answered", "ended"):
            await self._to_agent(agent, frame)
        await self._to_supervisors({**frame, "call": _call_summary(d)}, skip_agent="")

    def _pop_done(self, call_id: str, task: asyncio.Task[None]) -> None:
        if self._pops.get(call_id) is task:
            del self._pops[call_id]
        if not task.cancelled() and task.exception() is not None:
            log.error("pop for call %s failed", call_id, exc_info=task.exception())

    def _in_background(self, coro: Awaitable[None]) -> None:
        async def run() -> None:
            try:
                await coro
            except Exception:
                log.exception("pop hub background task failed")

        task = asyncio.get_running_loop().create_task(run())
        self._background.add(task)
        task.add_done_callback(self._background.discard)

    async def close_sockets(self) -> None:
        """Close every desktop's websocket (server shutdown): the pages reconnect to the next server.
        Without this aiohttp's shutdown waits its whole timeout for handlers that never return."""

        async def close(conn: _Conn) -> None:
            closer = getattr(conn.socket, "close", None)
            if closer is not None and not conn.socket.closed:
                with contextlib.suppress(Exception):
                    async with asyncio.timeout(2):
                        await closer(code=1001, message=b"server shutting down")

        # All at once: a browser that does not answer the close costs its 2 s, not everyone's.
        await asyncio.gather(*(close(c) for cs in self._conns.values() for c in cs))

    async def close(self) -> None:
        """Wait for pops and audit writes still in flight (shutdown, tests)."""
        await asyncio.gather(*self._pops.values(), *self._background, return_exceptions=True)

    async def _pop(self, ev: BusEvent, before: asyncio.Task[None] | None = None) -> None:
        if before is not None:  # the same call rang another agent just before: keep their order
            with contextlib.suppress(Exception):
                await before
        d = ev.data
        agent = d.get("ringing_agent", "")
        started = time.monotonic()
        profile: dict[str, Any] | None
        note = asyncio.ensure_future(self._note(d)) if self._repeat_note is not None else None
        try:
            profile = await self._lookup(d)
        except Exception:
            log.exception("profile lookup failed for call %s; popping what the IVR learned", ev.call_id)
            profile = None
        repeat = await note if note is not None else None
        frame = {
            "type": "pop",
            "call_id": ev.call_id,
            "agent_id": agent,
            "queue": d.get("queue", ""),
            "caller_number": d.get("caller_number", ""),
            "caller_name": d.get("caller_name", ""),  # as the network sent it: data, escaped by JSON
            "ivr_path": d.get("ivr_path", []),
            "ivr_path_text": d.get("ivr_path_text", ""),
            "language": d.get("language", ""),
            "tier": d.get("tier", ""),
            "transferred_by": d.get("transferred_by", ""),
            "campaign": d.get("campaign") or None,  # an outbound campaign's script and dispositions
            # Offered first as the customer's last agent (acd/routing.py): only that agent is told.
            "sticky": {"served_on": d.get("sticky_served_on", "")}
            if agent and agent == d.get("sticky_agent")
            else None,
            "customer": profile,
            # "3rd contact in 7 days — last: 28/11, <topic>, unresolved" (reports/contact_note.py)
            "repeat": repeat,
            "lookup_ms": round((time.monotonic() - started) * 1000, 2),
            "event_ts": ev.ts,
        }
        self._ringing[agent] = frame
        if profile is not None and self.holds is not None:  # the popped customer is in the agent's hand
            self.holds.popped(agent, str(profile.get("customer_id", "")), ev.call_id)
        sent = await self._to_agent(agent, frame)
        self.delivered += sent
        if sent and self._observe_pop is not None:
            self._observe_pop(time.time() - ev.ts)
        await self._to_supervisors(
            {"type": "ringing", "call_id": ev.call_id, "agent_id": agent, "call": _call_summary(d)}
        )
        if profile is not None and sent:
            # Off the pop's path: the next caller's pop does not wait for this database write.
            self._in_background(
                self._audit(agent, "profile.pop", "customer", str(profile.get("customer_id", "")))
            )

    async def _note(self, d: dict[str, Any]) -> dict[str, Any] | None:
        assert self._repeat_note is not None
        try:
            return await self._repeat_note(d)
        except Exception:  # the pop goes out without its note rather than late or not at all
            log.exception("repeat-contact note failed for call %s", d.get("call_id"))
            return None


def _dumps(frame: dict[str, Any]) -> str:
    return json.dumps(frame, ensure_ascii=False, default=str)


def _call_summary(d: dict[str, Any]) -> dict[str, Any]:
    keys = (
        "caller_number",
        "queue",
        "tier",
        "acd_tier",
        "agent_id",
        "queued_at",
        "answered_at",
        "ivr_path_text",
        "customer_id",
        "disposition",
    )
    return {k: d.get(k) for k in keys}
