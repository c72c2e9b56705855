"""The desktop's websocket: pops and wallboard frames out, commands in.

A command is ``{id, type, ...arguments}``, where ``type`` names a route of the registry (its
``name``) and the arguments are the route's; it is answered by ``{id, type: "result", success,
result | error}``, ``error`` being ``{code, message}`` as over HTTP. The socket is bound to the
logged-in agent (Origin checked first), so agent A never receives agent B's pop.

The socket lives only as long as its session: each command, and a check every
:data:`RECHECK_SECONDS` while the page is open (an open desktop page is activity), reads the session
again. Revoked, expired or the agent removed: closed with :data:`CLOSE_SESSION_ENDED` (the page goes
to the login); the role changed: :data:`CLOSE_ROLE_CHANGED` (the page reloads with its new role). An
agent has at most ``desktop.websocket.max_per_agent`` sockets (one more is closed with
:data:`CLOSE_TOO_MANY`, the open ones kept), and a connection's commands beyond
``desktop.websocket.commands_per_second`` are answered ``ws.rate_limited`` without running.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import time
from collections import defaultdict
from typing import TYPE_CHECKING, Any

from aiohttp import WSMsgType, web

from agent_desktop.actions import BadRequest
from agent_desktop.hub import PopHub
from agent_desktop.limits import TokenBucket
from agent_desktop.sessions import SESSIONS_KEY, ActiveSession, WebSessions, current_session
from agent_desktop.wallboard import Wallboard
from core.errors import TongdaiError
from core.http import REGISTRY_KEY, LoginRequired, Registry, error_body, invoke
from core.identity import Who

if TYPE_CHECKING:  # the complete model is the composition root's; typing only, no import cycle
    from tongdai.settings import Settings

log = logging.getLogger(__name__)

SETTINGS_KEY: web.AppKey[Settings] = web.AppKey("settings")
HUB_KEY = web.AppKey("hub", PopHub)
WALLBOARD_KEY = web.AppKey("wallboard", Wallboard)

# Close codes (application range 4000-4999), so the page knows what to do without retrying blindly.
CLOSE_SESSION_ENDED = 4401  # logged out, revoked, expired, agent removed: go to the login page
CLOSE_ROLE_CHANGED = 4403  # the agent's role changed in the config: reload for the new role
CLOSE_TOO_MANY = 4429  # this agent has max_per_agent pages open already: not retried
RECHECK_SECONDS = 15.0


class TooManySockets(TongdaiError):
    error_id = "ws.too_many_sockets"


class TooManyCommands(TongdaiError):
    error_id = "ws.rate_limited"


class Sockets:
    """The open desktop sockets by session and by agent: counted for the cap, closed on revocation."""

    def __init__(self) -> None:
        self._by_key: dict[str, set[web.WebSocketResponse]] = defaultdict(set)
        self._by_agent: dict[str, set[web.WebSocketResponse]] = defaultdict(set)

    def count(self, agent_id: str) -> int:
        return len(self._by_agent.get(agent_id, ()))

    def total(self) -> int:
        return sum(len(v) for v in self._by_agent.values())

    def add(self, key: str, agent_id: str, ws: web.WebSocketResponse) -> None:
        self._by_key[key].add(ws)
        self._by_agent[agent_id].add(ws)

    def remove(self, key: str, agent_id: str, ws: web.WebSocketResponse) -> None:
        for index, k in ((self._by_key, key), (self._by_agent, agent_id)):
            index[k].discard(ws)
            if not index[k]:
                del index[k]

    async def close_sessions(self, keys: list[str]) -> None:
        """A revocation listener (agent_desktop.sessions.WebSessions.on_revoke)."""
        targets = [ws for k in keys for ws in list(self._by_key.get(k, ()))]
        await asyncio.gather(*(_close(ws, CLOSE_SESSION_ENDED, "session ended") for ws in targets))


SOCKETS_KEY = web.AppKey("desktop_sockets", Sockets)


async def _close(ws: web.WebSocketResponse, code: int, message: str) -> None:
    if not ws.closed:
        with contextlib.suppress(Exception):
            async with asyncio.timeout(2):
                await ws.close(code=code, message=message.encode())


def _reply(mid: Any, **fields: Any) -> dict[str, Any]:
    return {"id": mid, "type": "result", **fields}


async def run_command(registry: Registry, who: Who, msg: dict[str, Any]) -> dict[str, Any]:
    """One ``{id, type, ...}`` command → ``{id, type: "result", success, result | error}``."""
    mid, kind = msg.get("id"), str(msg.get("type", ""))
    route = registry.commands().get(kind)
    try:
        if route is None:
            raise BadRequest(f"unknown command {kind!r}")
        args = {k: v for k, v in msg.items() if k not in ("id", "type")}
        result = await invoke(route, who, args)
    except (TongdaiError, ValueError) as err:
        return _reply(mid, success=False, error=error_body(err))
    except Exception as err:  # an unexpected failure is answered, logged, and the socket lives on
        log.exception("websocket command %s failed", kind)
        return _reply(mid, success=False, error={"code": "internal", "message": str(err)})
    return _reply(mid, success=True, result=result)


async def _still_valid(ws: web.WebSocketResponse, sessions: WebSessions, active: ActiveSession) -> bool:
    """The session read again: closes the socket (and says False) if it ended or the role changed."""
    now = await sessions.check_key(active.key)
    if now is None:
        await _close(ws, CLOSE_SESSION_ENDED, "session ended")
        return False
    if now.who != active.who:
        await _close(ws, CLOSE_ROLE_CHANGED, "role changed")
        return False
    return True


async def _watch(ws: web.WebSocketResponse, sessions: WebSessions, active: ActiveSession) -> None:
    while not ws.closed:
        await asyncio.sleep(RECHECK_SECONDS)
        try:
            if not await _still_valid(ws, sessions, active):
                return
        except Exception:  # a store hiccup: the next command or check tries again
            log.exception("websocket session check failed")


async def _serve(
    ws: web.WebSocketResponse,
    registry: Registry | None,
    sessions: WebSessions,
    active: ActiveSession,
    rate: float,
) -> None:
    bucket = TokenBucket(rate, 2 * rate, time.monotonic())
    async for msg in ws:
        if msg.type == WSMsgType.TEXT and msg.data == "ping":
            await ws.send_str('{"type":"pong"}')
        elif msg.type == WSMsgType.TEXT and registry is not None:
            try:
                cmd = json.loads(msg.data)
            except ValueError:
                cmd = None
            if not isinstance(cmd, dict):
                error = {"code": "desktop.bad_request", "message": "not a JSON object"}
                await ws.send_json({"type": "result", "success": False, "error": error})
                continue
            if not bucket.take(time.monotonic()):
                err = TooManyCommands(f"more than {rate:g} commands a second on this connection: slow down")
                await ws.send_json(_reply(cmd.get("id"), success=False, error=error_body(err)))
                continue
            # Every command under the session as it is now (revoked, demoted: not as it was at connect).
            if not await _still_valid(ws, sessions, active):
                break
            reply = await run_command(registry, active.who, cmd)
            await ws.send_str(json.dumps(reply, ensure_ascii=False, default=str))
        elif msg.type == WSMsgType.ERROR:
            break


async def websocket(request: web.Request) -> web.StreamResponse:
    settings = request.app[SETTINGS_KEY]
    origin = request.headers.get("Origin", "")
    if origin not in settings.web.allowed_origins:
        log.warning("websocket from foreign origin %r refused", origin)
        raise web.HTTPForbidden(text="origin not allowed")
    active = await current_session(request)
    if active is None:
        raise web.HTTPUnauthorized(text=str(LoginRequired("log in first")))
    who, sockets, limits = active.who, request.app[SOCKETS_KEY], settings.desktop.websocket
    ws = web.WebSocketResponse(heartbeat=20)
    if sockets.count(who.agent_id) >= limits.max_per_agent:
        # Refused after the upgrade: a browser sees a close code and its reason, never an HTTP status.
        await ws.prepare(request)
        err = TooManySockets(f"{limits.max_per_agent} desktop pages are open already; close one first")
        await ws.send_json({"type": "error", "error": error_body(err)})
        await _close(ws, CLOSE_TOO_MANY, err.error_id)
        return ws
    sockets.add(active.key, who.agent_id, ws)
    watch: asyncio.Task[None] | None = None
    disconnect = None
    try:
        await ws.prepare(request)
        await ws.send_json({"type": "hello", "agent_id": who.agent_id, "role": who.role})
        wallboard = request.app.get(WALLBOARD_KEY)
        if wallboard is not None and who.supervisor:
            await ws.send_json(wallboard.snapshot())
        disconnect = await request.app[HUB_KEY].connect(who.agent_id, who.role, ws)
        sessions = request.app[SESSIONS_KEY]
        watch = asyncio.get_running_loop().create_task(_watch(ws, sessions, active))
        # Commands only where the desktop's rules run (an app made with a bridge).
        registry = request.app.get(REGISTRY_KEY) if WALLBOARD_KEY in request.app else None
        await _serve(ws, registry, sessions, active, limits.commands_per_second)
    finally:
        if watch is not None:
            watch.cancel()
        if disconnect is not None:
            disconnect()
        sockets.remove(active.key, who.agent_id, ws)
    return ws
