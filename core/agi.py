"""A small FastAGI server of our own (panoramisk's is unsafe on Python 3.11, see field notes).

What it guards against, and why:

* a peer that sends half a header and goes quiet or disconnects: headers are read with a size cap
  and a deadline, so one bad client can never stall the event loop (AMI keeps flowing);
* strangers: FastAGI has no authentication, so only configured Asterisk addresses may connect;
* the unsolicited ``HANGUP`` line Asterisk sends when the caller hangs up: it is consumed where it
  appears instead of being taken for the next command's reply;
* multi-line ``520`` usage replies and ``510`` bad commands are parsed into errors;
* injection: every command argument is checked for CR/LF and quoted, so a caller-ID name such as
  ``"x\\nEXEC System ..."`` is data, never a second command;
* cancellation is never swallowed; an unexpected handler error sets ``TONGDAI_AGI_ERROR`` so the
  dialplan falls back and no caller sits in silence.

Routes are registered by each package's setup (never at import time): ``server.route("ivr", fn)``.
"""

from __future__ import annotations

import asyncio
import contextlib
import ipaddress
import logging
import re
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass, field
from urllib.parse import parse_qsl, urlsplit

from core.errors import AgiError, AgiHangup
from core.protocol_safety import check_line_value

log = logging.getLogger(__name__)

_REPLY = re.compile(r"^(\d{3})(?: result=(-?\d*)(?: \((.*)\))?(?: (.*))?)?")


@dataclass(frozen=True, slots=True)
class AgiReply:
    code: int
    result: str
    data: str
    extra: str

    @property
    def result_int(self) -> int:
        try:
            return int(self.result)
        except ValueError:
            return -1


@dataclass
class AgiRequest:
    """The headers Asterisk sent (``agi_`` prefix removed) and the parsed route and query."""

    env: dict[str, str]
    route: str
    query: dict[str, str]
    args: list[str] = field(default_factory=list)
    peer: str = ""

    @property
    def uniqueid(self) -> str:
        return self.env.get("uniqueid", "")

    @property
    def channel(self) -> str:
        return self.env.get("channel", "")

    @property
    def caller_number(self) -> str:
        return self.env.get("callerid", "")

    @property
    def caller_name(self) -> str:
        return self.env.get("calleridname", "")


def quote_arg(value: str) -> str:
    """Quote one AGI argument: CR/LF refused, quotes and backslashes escaped."""
    check_line_value(value, "AGI argument")
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'


class AgiSession:
    """One FastAGI conversation with a channel."""

    def __init__(
        self, request: AgiRequest, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, timeout: float
    ) -> None:
        self.request = request
        self._reader, self._writer = reader, writer
        self._timeout = timeout
        self.hungup = False

    async def command(self, verb: str, *args: str | int, timeout: float | None = None) -> AgiReply:
        """Send one AGI command and return its parsed ``200`` reply.

        Raises :class:`AgiHangup` once the channel is gone, :class:`AgiError` on 510/520.
        """
        if self.hungup:
            raise AgiHangup(f"{verb}: the caller has hung up")
        check_line_value(verb, "AGI command")
        line = " ".join([verb, *(quote_arg(str(a)) for a in args)]) + "\n"
        try:
            self._writer.write(line.encode())
            await self._writer.drain()
        except (ConnectionError, RuntimeError) as err:
            self.hungup = True
            raise AgiHangup(f"{verb}: connection to Asterisk closed") from err
        return await self._read_reply(verb, timeout or self._timeout)

    async def _read_reply(self, verb: str, timeout: float) -> AgiReply:
        async with asyncio.timeout(timeout):
            while True:
                raw = await self._reader.readline()
                if not raw:
                    self.hungup = True
                    raise AgiHangup(f"{verb}: Asterisk closed the AGI connection")
                text = raw.decode("utf-8", "replace").rstrip("\r\n")
                log.debug("AGI %s -> %r", verb, text)
                if text == "HANGUP":
                    # Unsolicited: the caller hung up. The real reply to our command still follows.
                    self.hungup = True
                    continue
                if not text:
                    continue
                m = _REPLY.match(text)
                if m is None:
                    raise AgiError(f"{verb}: unreadable AGI reply {text!r}")
                code = int(m.group(1))
                if code == 200:
                    return AgiReply(200, m.group(2) or "", m.group(3) or "", m.group(4) or "")
                if code == 511:
                    self.hungup = True
                    raise AgiHangup(f"{verb}: channel is dead")
                if code == 520:
                    usage = [text]
                    while not text.startswith("520 End of proper usage."):
                        raw = await self._reader.readline()
                        if not raw:
                            break
                        text = raw.decode("utf-8", "replace").rstrip("\r\n")
                        usage.append(text)
                    raise AgiError(f"{verb}: usage error: {' | '.join(usage)}")
                raise AgiError(f"{verb}: AGI error {text!r}")

    # Convenience wrappers for the commands the product uses.
    async def answer(self) -> None:
        await self.command("ANSWER")

    async def set_variable(self, name: str, value: str) -> None:
        await self.command("SET VARIABLE", name, value)

    async def get_variable(self, name: str) -> str | None:
        reply = await self.command("GET VARIABLE", name)
        return reply.data if reply.result == "1" else None

    async def stream_file(self, sound: str, escape_digits: str = "") -> str | None:
        """Play a sound; return the digit that interrupted it, if any."""
        reply = await self.command("STREAM FILE", sound, escape_digits)
        if reply.result_int < 0:
            # -1 means either a hangup or a sound file that does not exist: ask which.
            status = await self.command("CHANNEL STATUS")
            if status.result_int < 0:
                raise AgiHangup("STREAM FILE: channel hung up")
            log.error("sound %r is missing on Asterisk; skipped", sound)
            return None
        return chr(reply.result_int) if reply.result_int > 0 else None

    async def get_data(self, sound: str, timeout_ms: int, max_digits: int) -> str | None:
        """Play ``sound`` and collect up to ``max_digits``; None on timeout with no digit."""
        reply = await self.command(
            "GET DATA", sound, str(timeout_ms), str(max_digits), timeout=self._timeout + timeout_ms / 1000
        )
        if reply.result_int < 0 and reply.result != "":
            raise AgiHangup("GET DATA: channel hung up")
        if reply.data == "timeout" and not reply.result:
            return None
        return reply.result or None

    async def verbose(self, message: str) -> None:
        await self.command("VERBOSE", message, "1")


AgiHandler = Callable[[AgiSession], Awaitable[None]]


class AgiServer:
    """Accepts FastAGI connections from allowed Asterisk hosts and runs the route's handler."""

    def __init__(
        self,
        host: str,
        port: int,
        *,
        allowed_peers: Iterable[str] = ("127.0.0.1", "::1"),
        header_timeout: float = 2.0,
        max_header_bytes: int = 16384,
        command_timeout: float = 30.0,
    ) -> None:
        self.host, self.port = host, port
        self._allowed = [ipaddress.ip_network(p, strict=False) for p in allowed_peers]
        self.header_timeout = header_timeout
        self.max_header_bytes = max_header_bytes
        self.command_timeout = command_timeout
        self._routes: dict[str, AgiHandler] = {}
        self._server: asyncio.Server | None = None
        self._sessions: set[asyncio.Task[None]] = set()
        self.rejected = 0

    def route(self, name: str, handler: AgiHandler) -> None:
        if not asyncio.iscoroutinefunction(handler):
            raise TypeError(f"AGI route {name!r} must be an async function")
        self._routes[name.strip("/")] = handler

    @property
    def routes(self) -> frozenset[str]:
        return frozenset(self._routes)

    async def start(self) -> None:
        # The StreamReader limit caps one header line; the total is capped in _read_headers.
        self._server = await asyncio.start_server(
            self._on_client, self.host, self.port, limit=self.max_header_bytes
        )
        sock = self._server.sockets[0]
        self.port = sock.getsockname()[1]
        log.info("FastAGI listening on %s:%s", self.host, self.port)

    async def stop(self) -> None:
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()
            self._server = None
        for t in list(self._sessions):
            t.cancel()
        for t in list(self._sessions):
            with contextlib.suppress(asyncio.CancelledError):
                await t

    def _peer_allowed(self, peer: str) -> bool:
        try:
            ip = ipaddress.ip_address(peer)
        except ValueError:
            return False
        return any(ip in net for net in self._allowed)

    async def _on_client(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        if task is not None:
            self._sessions.add(task)
        peer = writer.get_extra_info("peername")
        peer_ip = peer[0] if peer else ""
        try:
            if not self._peer_allowed(peer_ip):
                self.rejected += 1
                log.warning("FastAGI: refused connection from %s (not an allowed Asterisk)", peer_ip)
                return
            try:
                request = await self._read_headers(reader, peer_ip)
            except (TimeoutError, ValueError, asyncio.IncompleteReadError, AgiError) as err:
                self.rejected += 1
                log.warning("FastAGI: bad request from %s: %s", peer_ip, err)
                return
            await self._run(request, reader, writer)
        finally:
            writer.close()
            with contextlib.suppress(Exception):
                await writer.wait_closed()
            if task is not None:
                self._sessions.discard(task)

    async def _read_headers(self, reader: asyncio.StreamReader, peer: str) -> AgiRequest:
        env: dict[str, str] = {}
        total = 0
        async with asyncio.timeout(self.header_timeout):
            while True:
                raw = await reader.readline()
                if not raw:
                    raise AgiError("connection closed inside the AGI header")
                total += len(raw)
                if total > self.max_header_bytes:
                    raise AgiError(f"AGI header larger than {self.max_header_bytes} bytes")
                line = raw.decode("utf-8", "replace").rstrip("\r\n")
                if not line:
                    break
                key, sep, value = line.partition(":")
                if not sep or not key.startswith("agi_"):
                    raise AgiError(f"malformed AGI header line {line[:60]!r}")
                env[key[4:]] = value.strip()
        script = env.get("network_script") or urlsplit(env.get("request", "")).path.lstrip("/")
        path, _, qs = script.partition("?")
        args = [env[k] for k in sorted((k for k in env if k.startswith("arg_")), key=lambda k: int(k[4:]))]
        return AgiRequest(env, path.strip("/"), dict(parse_qsl(qs)), args, peer)

    async def _run(
        self, request: AgiRequest, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
    ) -> None:
        session = AgiSession(request, reader, writer, self.command_timeout)
        handler = self._routes.get(request.route)
        if handler is None:
            log.error("FastAGI: no route %r (channel %s)", request.route, request.channel)
            with contextlib.suppress(Exception):
                await session.set_variable("TONGDAI_AGI_ERROR", "no-route")
            return
        try:
            await handler(session)
        except AgiHangup:
            log.info("FastAGI %s: caller hung up (%s)", request.route, request.channel)
        except asyncio.CancelledError:
            raise
        except Exception:
            log.exception("FastAGI %s failed on %s; dialplan falls back", request.route, request.channel)
            with contextlib.suppress(Exception):
                await session.set_variable("TONGDAI_AGI_ERROR", "exception")
