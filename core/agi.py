"""A small FastAGI server of our own (panoramisk's is unsafe on Python 3.11, see field notes).

What it guards against, and why:

* a peer that sends half a header and goes quiet or disconnects: headers are read with a size cap
  and a deadline, so one bad client can never stall the event loop (AMI keeps flowing);
* strangers: FastAGI has no authentication, so only configured Asterisk addresses may connect;
* a flood of connections (a looping dialplan, a compromised host among the allowed ones): sessions
  are capped per peer address and in total. Past a cap the connection is closed at once, so Asterisk
  takes the dialplan's fallback (the default queue) instead of waiting, and the refusal is counted
  (``over_capacity``) and logged at most every few seconds; a peer that never completes its header
  holds its slot only for ``header_timeout``. At start the process's open-file limit is raised to fit
  the total cap where the hard limit allows (a flood must hit our cap, never EMFILE for the web and
  the database);
* the unsolicited ``HANGUP`` line Asterisk sends when the caller hangs up: it is consumed where it
  appears instead of being taken for the next command's reply;
* multi-line ``520`` usage replies and ``510`` bad commands are parsed into errors;
* injection: every command argument is checked for CR/LF and quoted, so a caller-ID name such as
  ``"x\\nEXEC System ..."`` is data, never a second command;
* the header itself: Asterisk writes channel values into it raw, so a caller-ID name with a newline
  spills onto lines of its own. The header is parsed as Asterisk 22 writes it (:data:`AGI_ENV`, a fixed
  order): a stray line continues the free-text value before it, and a key out of order or repeated
  (``"x\\nagi_network_script: evil"``) refuses the request instead of overriding the real value;
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
import resource
import time
from collections import Counter
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass, field
from functools import cached_property
from urllib.parse import parse_qsl, urlsplit

from core.errors import AgiError, AgiHangup
from core.logs import bind_call
from core.phone import CallerNumber, caller_number
from core.protocol_safety import check_line_value

log = logging.getLogger(__name__)

# Asterisk 22's AGI environment, in the order it is sent (res_agi.c: launch_netscript writes the two
# ``network`` lines, then setup_env the rest, then ``agi_arg_1..n`` and a blank line). Kinds:
# "text" may hold anything the channel carries, newlines included (caller ID, dialled numbers, names);
# "line" is written by Asterisk itself; "int" is a number; any other kind is the only value allowed.
AGI_ENV: tuple[tuple[str, str], ...] = (
    ("network", "yes"),
    ("network_script", "text"),  # only when the AGI URL has a path
    ("request", "text"),
    ("channel", "text"),
    ("language", "line"),
    ("type", "line"),
    ("uniqueid", "line"),
    ("version", "line"),
    ("callerid", "text"),
    ("calleridname", "text"),
    ("callingpres", "int"),
    ("callingani2", "int"),
    ("callington", "int"),
    ("callingtns", "int"),
    ("dnid", "text"),
    ("rdnis", "text"),
    ("context", "text"),
    ("extension", "text"),
    ("priority", "int"),
    ("enhanced", "0.0|1.0"),
    ("accountcode", "text"),
    ("threadid", "int"),
)
_ENV_POS = {key: i for i, (key, _) in enumerate(AGI_ENV)}
_OPTIONAL = frozenset({"network_script"})
_ENV_LINE = re.compile(r"agi_([a-z0-9_]+):(?: (.*)|)", re.DOTALL)
_INT = re.compile(r"-?\d+")
# Shown to people: controls (CR, LF, ESC...), zero-width and bidi overrides become plain spaces.
_UNPRINTABLE = re.compile(r"[\x00-\x1f\x7f-\x9f\u200b-\u200f\u2028-\u202e\u2060-\u2069\ufeff]+")


def display_text(raw: str, limit: int = 80) -> str:
    """A network-supplied string made safe to show on one line: no controls, spaces collapsed."""
    return " ".join(_UNPRINTABLE.sub(" ", raw).split())[:limit]


class AgiEnvParser:
    """Reads Asterisk's AGI environment one line at a time, knowing its fixed key order.

    ``feed`` returns True once the blank line that ends the environment is read. A line that is not
    the start of a later key continues a "text" value (so a caller-ID name may hold newlines, blank
    lines included). A known key that comes again or out of order can only have been forged inside a
    value (the real one follows or came before): :class:`AgiError`, the request is refused.
    """

    _LAST = len(AGI_ENV) - 1  # threadid: the environment may end only after it

    def __init__(self) -> None:
        self.env: dict[str, str] = {}
        self._pos = -1
        self._key = ""
        self._kind = ""

    def _position(self, key: str) -> int | None:
        if key.startswith("arg_") and key[4:].isdigit() and not key[4:].startswith("0"):
            return self._LAST + int(key[4:])
        return _ENV_POS.get(key)

    def feed(self, line: str) -> bool:
        if line == "" and self._pos >= self._LAST:
            return True
        m = _ENV_LINE.fullmatch(line)
        pos = self._position(m.group(1)) if m else None
        if m is None or pos is None:
            if self._kind != "text":
                raise AgiError(f"malformed AGI header line {line[:60]!r}")
            self.env[self._key] += "\n" + line  # a value that held a newline: still that value
            return False
        key, value = m.group(1), m.group(2) or ""
        if pos <= self._pos:
            raise AgiError(f"AGI header key agi_{key} repeated or out of order (forged in a value?)")
        missing = [k for k, _ in AGI_ENV[self._pos + 1 : pos] if k not in _OPTIONAL]
        if missing or (pos > self._LAST + 1 and f"arg_{pos - self._LAST - 1}" not in self.env):
            raise AgiError(f"AGI header: agi_{key} before agi_{missing[0] if missing else 'arg_<n-1>'}")
        kind = AGI_ENV[pos][1] if pos <= self._LAST else "text"
        if kind == "int" and not _INT.fullmatch(value.strip()):
            raise AgiError(f"AGI header agi_{key} is not a number: {value[:30]!r}")
        if kind not in ("int", "text", "line") and value.strip() not in kind.split("|"):
            raise AgiError(f"AGI header agi_{key} has an unexpected value {value[:30]!r}")
        self.env[key] = value if kind == "text" else value.strip()
        self._pos, self._key, self._kind = pos, key, kind
        return False


def parse_agi_env(text: str) -> dict[str, str]:
    """The environment in ``text`` (everything up to and including its blank line); for tests/tools."""
    parser = AgiEnvParser()
    for line in text.split("\n"):
        if parser.feed(line.removesuffix("\r")):
            return parser.env
    raise AgiError("AGI header ended before its blank line")


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

    @cached_property
    def caller(self) -> CallerNumber:
        """The caller's number, normalised once here at the edge (national and E.164 forms)."""
        return caller_number(self.env.get("callerid"))

    @property
    def caller_name(self) -> str:
        """The caller-ID name for display (untrusted: controls and newlines become spaces).

        The exact name, newlines included, stays in ``env["calleridname"]``.
        """
        name = self.env.get("calleridname", "")
        return "" if name == "unknown" else display_text(name)


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
        self.missing: set[str] = set()  # sounds Asterisk could not find in this session
        # The bridge's think time before each command (since the header or the previous reply):
        # what the caller waits on us. Reported to ``on_decision`` (/metrics).
        self.on_decision: Callable[[float], None] | None = None
        self._replied = time.monotonic()

    async def command(self, verb: str, *args: str | int, timeout: float | None = None) -> AgiReply:
        """Send one AGI command and return its parsed ``200`` reply.

        Raises :class:`AgiHangup` once the channel is gone, :class:`AgiError` on 510/520.
        """
        if self.hungup:
            raise AgiHangup(f"{verb}: the caller has hung up")
        check_line_value(verb, "AGI command")
        line = " ".join([verb, *(quote_arg(str(a)) for a in args)]) + "\n"
        if self.on_decision is not None:
            self.on_decision(time.monotonic() - self._replied)
        try:
            self._writer.write(line.encode())
            await self._writer.drain()
        except (ConnectionError, RuntimeError) as err:
            self.hungup = True
            raise AgiHangup(f"{verb}: connection to Asterisk closed") from err
        reply = await self._read_reply(verb, timeout or self._timeout)
        self._replied = time.monotonic()
        return reply

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
        value = reply.data if reply.result == "1" else None
        if name == "CHANNEL(linkedid)" and value:
            bind_call(linkedid=value)  # the rest of this session's log lines name the call
        return value

    async def stream_file(self, sound: str, escape_digits: str = "") -> str | None:
        """Play a sound; return the digit that interrupted it, if any."""
        reply = await self.command("STREAM FILE", sound, escape_digits)
        if reply.result_int < 0:
            # -1 means either a hangup or a sound file that does not exist: ask which.
            status = await self.command("CHANNEL STATUS")
            if status.result_int < 0:
                raise AgiHangup("STREAM FILE: channel hung up")
            log.error("sound %r is missing on Asterisk; skipped", sound)
            self.missing.add(sound)
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

CAP_LOG_INTERVAL = 5.0  # seconds between two "over capacity" log lines (a flood must not flood the log)
FD_MARGIN = 512  # open files beyond the FastAGI cap: web clients, database, Redis, AMI, recordings


def ensure_open_files(needed: int) -> int:
    """Raise the soft open-file limit to ``needed`` if the hard limit allows; the resulting soft limit."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft != resource.RLIM_INFINITY and soft < needed:
        target = needed if hard == resource.RLIM_INFINITY else min(needed, hard)
        with contextlib.suppress(ValueError, OSError):
            resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))
        soft = resource.getrlimit(resource.RLIMIT_NOFILE)[0]
    return soft


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
        max_sessions_per_peer: int = 500,
        max_sessions: int = 2000,
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
        self.max_sessions_per_peer = max_sessions_per_peer
        self.max_sessions = max_sessions
        self._per_peer: Counter[str] = Counter()
        self._active = 0
        self.over_capacity = 0  # connections closed at once because a cap was reached
        self._unlogged = 0
        self._last_cap_log = -CAP_LOG_INTERVAL
        # (route, seconds) for each command a session sends: the bridge's think time (/metrics).
        self.on_decision: Callable[[str, float], None] | None = None
        # With a standby beside this node (core/lease.py): False once this node may no longer answer;
        # a connection is then closed at once and the dialplan tries the next bridge's address.
        self.may_serve: Callable[[], bool] | None = None

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
        soft = ensure_open_files(self.max_sessions + FD_MARGIN)
        if soft != resource.RLIM_INFINITY and soft < self.max_sessions + FD_MARGIN:
            log.warning(
                "FastAGI: the open-file limit (%s) is below max_sessions (%s) + %s: raise LimitNOFILE",
                soft,
                self.max_sessions,
                FD_MARGIN,
            )
        log.info(
            "FastAGI listening on %s:%s (at most %s sessions, %s per Asterisk)",
            self.host,
            self.port,
            self.max_sessions,
            self.max_sessions_per_peer,
        )

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

    @property
    def active(self) -> int:
        """Sessions open now (header being read or route running)."""
        return self._active

    def _over_capacity(self, peer: str) -> bool:
        if self._active < self.max_sessions and self._per_peer[peer] < self.max_sessions_per_peer:
            return False
        self.over_capacity += 1
        self._unlogged += 1
        now = time.monotonic()
        if now - self._last_cap_log >= CAP_LOG_INTERVAL:
            log.warning(
                "FastAGI: over capacity, closed %d connection(s) at once (latest from %s: %d of %d "
                "for that peer, %d of %d in all); the dialplan falls back",
                self._unlogged,
                peer,
                self._per_peer[peer],
                self.max_sessions_per_peer,
                self._active,
                self.max_sessions,
            )
            self._unlogged, self._last_cap_log = 0, now
        return True

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
            if self.may_serve is not None and not self.may_serve():
                return
            if self._over_capacity(peer_ip):
                return
            self._active += 1
            self._per_peer[peer_ip] += 1
            try:
                await self._serve(reader, writer, peer_ip)
            finally:
                self._active -= 1
                self._per_peer[peer_ip] -= 1
                if not self._per_peer[peer_ip]:
                    del self._per_peer[peer_ip]
        finally:
            writer.close()
            with contextlib.suppress(Exception):
                await writer.wait_closed()
            if task is not None:
                self._sessions.discard(task)

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, peer: str) -> None:
        try:
            request = await self._read_headers(reader, peer)
        except (TimeoutError, ValueError, asyncio.IncompleteReadError, AgiError) as err:
            self.rejected += 1
            log.warning("FastAGI: bad request from %s: %s", peer, err)
            return
        await self._run(request, reader, writer)

    async def _read_headers(self, reader: asyncio.StreamReader, peer: str) -> AgiRequest:
        parser = AgiEnvParser()
        total = 0
        async with asyncio.timeout(self.header_timeout):
            while True:
                raw = await reader.readline()
                if not raw:
                    raise AgiError("connection closed inside the AGI header")
                total += len(raw)
                if total > self.max_header_bytes:
                    raise AgiError(f"AGI header larger than {self.max_header_bytes} bytes")
                if parser.feed(raw.decode("utf-8", "replace").removesuffix("\n").removesuffix("\r")):
                    break
        env = parser.env
        script = env.get("network_script") or urlsplit(env.get("request", "")).path.lstrip("/")
        path, _, qs = script.partition("?")
        args = [env[k] for k in sorted((k for k in env if k.startswith("arg_")), key=lambda k: int(k[4:]))]
        return AgiRequest(env, path.strip("/"), dict(parse_qsl(qs)), args, peer)

    async def _run(
        self, request: AgiRequest, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
    ) -> None:
        bind_call(uniqueid=request.uniqueid)  # this connection's own task: its log lines name the channel
        session = AgiSession(request, reader, writer, self.command_timeout)
        if self.on_decision is not None:
            observe, route = self.on_decision, request.route
            session.on_decision = lambda seconds: observe(route, seconds)
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
