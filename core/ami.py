"""The AMI adapter: the one module that owns the panoramisk connection.

We use panoramisk's protocol (AMI framing and action/response matching) but own everything its
``Manager`` gets wrong for a contact center (see docs/architecture.md):

* reconnect with exponential backoff and jitter instead of a fixed 2 s;
* Ping replies are awaited with a timeout, so a silent half-open connection is detected and dropped;
* actions in flight when the link drops fail with :class:`AmiNotConnected` and are never replayed
  (an Originate replayed after a reconnect would ring a customer twice);
* every action has a timeout and an explicit reply shape (``QueueAdd`` never resolves otherwise);
* CR/LF in any header or value is refused (header/action injection);
* events go through one bounded queue drained by one task, so handlers see them in Asterisk's order
  and a failing handler is logged, not lost; the protocol reader never blocks (Asterisk drops slow
  AMI readers).

Business code sees only :class:`AmiEvent` and :class:`AmiClient` methods, never panoramisk.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
import time
from collections import deque
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from panoramisk.actions import Action
from panoramisk.ami_protocol import AMIProtocol

from core.errors import AmiActionFailed, AmiNotConnected, AmiTimeout
from core.logs import call_context
from core.protocol_safety import check_line_value

log = logging.getLogger(__name__)


class _ListAction(Action):  # type: ignore[misc]  # panoramisk is untyped
    """An event-list action whose refusal ends it: panoramisk would wait for list events that an
    ``Error`` reply (``PJSIPShowContacts`` with no contacts, an unknown queue) never sends."""

    def add_message(self, message: Any) -> bool:
        if not self.responses and message.response in ("Error", "Fail", "Failure") and not self.future.done():
            self.responses.append(message)
            self.future.set_result(self.responses)
            return True
        return bool(super().add_message(message))


EventHandler = Callable[["AmiEvent"], Awaitable[None]]
ConnectHandler = Callable[[], Awaitable[None]]


@dataclass(frozen=True, slots=True)
class AmiEvent:
    """One AMI event: its name and headers (header names as Asterisk sends them)."""

    name: str
    headers: Mapping[str, str]
    received: float = field(default_factory=time.monotonic)

    def get(self, key: str, default: str = "") -> str:
        return self.headers.get(key, default)

    def __getitem__(self, key: str) -> str:
        return self.headers[key]


@dataclass(frozen=True, slots=True)
class AmiResponse:
    ok: bool
    headers: Mapping[str, str]
    events: Sequence[AmiEvent] = ()

    @property
    def message(self) -> str:
        return self.headers.get("Message", "")


def _to_plain(msg: Any) -> dict[str, str]:
    # panoramisk's Message is a case-insensitive dict whose keys keep Asterisk's spelling.
    out: dict[str, str] = {}
    for k, v in msg.items():
        if k == "content":
            continue
        out[str(k)] = v if isinstance(v, str) else ",".join(map(str, v)) if isinstance(v, list) else str(v)
    return out


class _Link:
    """Stands in for panoramisk's Manager as the protocol's ``factory``: receives events and loss."""

    def __init__(self, client: AmiClient) -> None:
        self._client = client
        self.forgetable_actions: tuple[str, ...] = ()
        # AMIProtocol.close() moves unanswered actions here for a replay; we fail them instead.
        self.awaiting_actions: deque[Action] = deque()
        self.save_stream = None

    def dispatch(self, message: Any) -> list[str]:
        self._client._on_raw_event(message)
        return []

    def connection_lost(self, exc: BaseException | None) -> None:
        self._client._on_link_lost(exc)


class AmiClient:
    """A supervised AMI connection.

    ``on_event`` receives every event in order; ``on_connected`` runs after each successful login
    (the call tracker re-syncs its state there).
    """

    def __init__(
        self,
        host: str,
        port: int,
        username: str,
        secret: str,
        *,
        ping_interval: float = 5.0,
        ping_timeout: float = 3.0,
        action_timeout: float = 5.0,
        reconnect_min: float = 0.5,
        reconnect_max: float = 30.0,
        queue_size: int = 100_000,
    ) -> None:
        self.host, self.port = host, port
        self._username, self._secret = username, secret
        self.ping_interval, self.ping_timeout = ping_interval, ping_timeout
        self.action_timeout = action_timeout
        self.reconnect_min, self.reconnect_max = reconnect_min, reconnect_max
        self._handlers: list[EventHandler] = []
        self._connect_handlers: list[ConnectHandler] = []
        self._events: asyncio.Queue[AmiEvent] = asyncio.Queue(maxsize=queue_size)
        self._proto: AMIProtocol | None = None
        self._link: _Link | None = None
        self._lost: asyncio.Event = asyncio.Event()
        self._connected = asyncio.Event()
        self._booted = asyncio.Event()
        self._tasks: list[asyncio.Task[None]] = []
        self._stopping = False
        self.connects = 0
        self.dropped_events = 0
        self.silent_drops = 0  # links dropped because Ping went unanswered
        self.last_error: str = ""
        # Seconds from an event's arrival to its turn in the drain (/metrics: AMI event lag).
        self.on_lag: Callable[[float], None] | None = None
        # With a standby beside this node (core/lease.py): False once this node may no longer act.
        self.may_act: Callable[[], bool] | None = None

    # --- public API ------------------------------------------------------------------------

    def on_event(self, handler: EventHandler) -> None:
        self._handlers.append(handler)

    def on_connected(self, handler: ConnectHandler) -> None:
        self._connect_handlers.append(handler)

    @property
    def connected(self) -> bool:
        return self._connected.is_set()

    async def start(self) -> None:
        self._stopping = False
        # Events left from a previous run (a node that stepped down and is active again) are stale:
        # the resync after the login rebuilds the state they described.
        while not self._events.empty():
            self._events.get_nowait()
        self._tasks = [
            asyncio.create_task(self._supervise(), name="ami-supervisor"),
            asyncio.create_task(self._drain(), name="ami-events"),
        ]

    async def wait_connected(self, timeout: float) -> None:
        try:
            async with asyncio.timeout(timeout):
                await self._connected.wait()
        except TimeoutError as err:
            raise AmiNotConnected(
                f"no AMI connection to {self.host}:{self.port} after {timeout:.0f} s: {self.last_error}"
            ) from err

    async def wait_booted(self, timeout: float) -> None:
        """Wait for Asterisk's FullyBooted event on the current connection."""
        try:
            async with asyncio.timeout(timeout):
                await self._booted.wait()
        except TimeoutError as err:
            raise AmiTimeout(f"Asterisk did not report FullyBooted within {timeout:.0f} s") from err

    async def stop(self) -> None:
        self._stopping = True
        for t in self._tasks:
            t.cancel()
        for t in self._tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await t
        self._tasks = []
        self._close_link()

    async def action(
        self,
        name: str,
        fields: Mapping[str, str | int | Sequence[str]] | None = None,
        *,
        multi: bool = False,
        timeout: float | None = None,
        check: bool = True,
    ) -> AmiResponse:
        """Send one action and wait for its reply.

        ``multi`` must say whether the reply is an event list (QueueStatus, CoreShowChannels…);
        panoramisk's guess is wrong for some actions and then the future never resolves.
        With ``check`` a reply other than Success raises :class:`AmiActionFailed`.
        """
        proto = self._proto
        if proto is None or not self._connected.is_set():
            raise AmiNotConnected(f"AMI is not connected; {name} not sent")
        if self.may_act is not None and not self.may_act():
            raise AmiNotConnected(f"this node no longer holds the HA lease; {name} not sent")
        payload: dict[str, Any] = {"Action": check_line_value(name, "AMI action name")}
        for k, v in (fields or {}).items():
            check_line_value(k, "AMI header name")
            if isinstance(v, (list, tuple)):
                payload[k] = [check_line_value(str(i), f"AMI header {k}") for i in v]
            else:
                payload[k] = check_line_value(str(v), f"AMI header {k}")
        act = _ListAction(payload, as_list=multi) if multi else Action(payload, as_list=False)
        fut = proto.send(act, as_list=multi)
        try:
            # Not wait_for: on Python 3.11 it returns a reply that lands together with a cancel and
            # swallows the cancel, so stop() would wait on a supervisor that carries on.
            async with asyncio.timeout(timeout or self.action_timeout):
                reply = await asyncio.shield(fut)
        except TimeoutError as err:
            proto.responses.pop(act.id, None)
            raise AmiTimeout(f"AMI {name}: no reply within {timeout or self.action_timeout:.1f} s") from err
        if isinstance(reply, list):
            head = _to_plain(reply[0])
            events = [AmiEvent(str(m.get("Event", "")), _to_plain(m)) for m in reply[1:]]
            resp = AmiResponse(head.get("Response") == "Success", head, events)
        else:
            head = _to_plain(reply)
            resp = AmiResponse(head.get("Response") in ("Success", "Follows", "Goodbye"), head)
        if check and not resp.ok:
            raise AmiActionFailed(f"AMI {name} failed: {resp.message or resp.headers}")
        return resp

    # --- connection lifecycle --------------------------------------------------------------

    async def _supervise(self) -> None:
        attempt = 0
        while not self._stopping:
            try:
                await self._connect_once()
                attempt = 0
                if self._stopping:  # Python 3.11's wait_for can swallow stop()'s cancel in a handler
                    return
                await self._watch()
            except asyncio.CancelledError:
                raise
            except Exception as err:
                self.last_error = f"{type(err).__name__}: {err}"
                log.warning("AMI %s:%s: %s", self.host, self.port, self.last_error)
            self._close_link()
            if self._stopping:
                return
            attempt += 1
            # Exponential backoff with full jitter: many bridges restarting together do not stampede.
            delay = random.uniform(
                self.reconnect_min, min(self.reconnect_max, self.reconnect_min * 2**attempt)
            )
            await asyncio.sleep(delay)

    async def _connect_once(self) -> None:
        if self.may_act is not None and not self.may_act():  # a stale holder must not log in again
            raise AmiNotConnected("this node no longer holds the HA lease; not logging in")
        loop = asyncio.get_running_loop()
        self._lost = asyncio.Event()
        self._booted.clear()
        link = _Link(self)

        def factory() -> AMIProtocol:
            p = AMIProtocol()
            return p

        async with asyncio.timeout(self.action_timeout):
            _transport, proto = await loop.create_connection(factory, self.host, self.port)
        proto.factory = link
        proto.log = log
        proto.encoding = "utf8"
        proto.config = {}
        self._proto, self._link = proto, link
        login = proto.send(
            Action({"Action": "Login", "Username": self._username, "Secret": self._secret, "Events": "on"}),
            as_list=False,
        )
        async with asyncio.timeout(self.action_timeout):
            reply = await login
        if reply.get("Response") != "Success":
            raise AmiActionFailed(f"AMI login refused for user {self._username!r}: {reply.get('Message')}")
        self.connects += 1
        self._connected.set()
        log.info("AMI connected to %s:%s (connection #%d)", self.host, self.port, self.connects)
        for h in self._connect_handlers:
            try:
                await h()
            except Exception:
                log.exception("AMI on-connect handler failed")

    async def _watch(self) -> None:
        """Ping on a schedule and insist on a reply: a half-open TCP link never reports itself."""
        while not self._stopping:
            lost = asyncio.create_task(self._lost.wait())
            try:
                done, _ = await asyncio.wait({lost}, timeout=self.ping_interval)
            finally:
                lost.cancel()
            if done:
                raise AmiNotConnected("AMI connection lost")
            try:
                await self.action("Ping", timeout=self.ping_timeout)
            except AmiTimeout as err:
                self.silent_drops += 1
                raise AmiNotConnected(f"AMI silent: no Ping reply within {self.ping_timeout} s") from err

    def _on_link_lost(self, exc: BaseException | None) -> None:
        self._connected.clear()
        self._lost.set()
        self._fail_pending()

    def _close_link(self) -> None:
        self._connected.clear()
        proto, self._proto = self._proto, None
        if proto is not None:
            proto.factory = None
            with contextlib.suppress(Exception):
                proto.close()
            for act in list(proto.responses.values()):
                if not act.future.done():
                    act.future.set_exception(AmiNotConnected("AMI connection closed before the reply"))
            proto.responses.clear()
        self._fail_pending()

    def _fail_pending(self) -> None:
        link = self._link
        if link is None:
            return
        while link.awaiting_actions:
            act = link.awaiting_actions.popleft()
            if not act.future.done():
                act.future.set_exception(
                    AmiNotConnected("AMI connection lost before the reply; not replayed")
                )

    # --- events ------------------------------------------------------------------------------

    def _on_raw_event(self, message: Any) -> None:
        headers = _to_plain(message)
        name = headers.get("Event", "")
        if name == "FullyBooted":
            self._booted.set()
        try:
            self._events.put_nowait(AmiEvent(name, headers))
        except asyncio.QueueFull:
            # Never block the reader; count the loss so operators see it (and a resync fixes state).
            self.dropped_events += 1

    @property
    def queue_depth(self) -> int:
        return self._events.qsize()

    async def _drain(self) -> None:
        while True:
            ev = await self._events.get()
            if self.on_lag is not None:
                self.on_lag(time.monotonic() - ev.received)
            # Every handler's log lines name the event's call (JSON logs: linkedid, uniqueid).
            with call_context(linkedid=ev.get("Linkedid"), uniqueid=ev.get("Uniqueid")):
                for h in self._handlers:
                    try:
                        await h(ev)
                    except asyncio.CancelledError:
                        raise
                    except Exception:
                        log.exception("AMI event handler failed on %s", ev.name)
