"""The desktop's websocket: pops and wallboard frames out, commands in.

A command is ``{id, type, ...arguments}``, where ``type`` names a route of the registry (its
``name``) and the arguments are the route's; it is answered by ``{id, type: "result", success,
result | error}``, ``error`` being ``{code, message}`` as over HTTP. The socket is bound to the
logged-in agent (Origin checked first), so agent A never receives agent B's pop.
"""

from __future__ import annotations

import json
import logging
from typing import TYPE_CHECKING, Any

from aiohttp import WSMsgType, web

from agent_desktop.actions import BadRequest
from agent_desktop.hub import PopHub
from agent_desktop.sessions import current_agent
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


async def _serve(ws: web.WebSocketResponse, registry: Registry | None, who: Who) -> None:
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
            reply = await run_command(registry, who, cmd)
            await ws.send_str(json.dumps(reply, ensure_ascii=False, default=str))
        elif msg.type == WSMsgType.ERROR:
            break


async def websocket(request: web.Request) -> web.StreamResponse:
    settings = request.app[SETTINGS_KEY]
    origin = request.headers.get("Origin", "")
    if origin not in settings.web.allowed_origins:
        log.warning("websocket from foreign origin %r refused", origin)
        raise web.HTTPForbidden(text="origin not allowed")
    who = await current_agent(request)
    if who is None:
        raise web.HTTPUnauthorized(text=str(LoginRequired("log in first")))
    ws = web.WebSocketResponse(heartbeat=20)
    await ws.prepare(request)
    await ws.send_json({"type": "hello", "agent_id": who.agent_id, "role": who.role})
    wallboard = request.app.get(WALLBOARD_KEY)
    if wallboard is not None and who.supervisor:
        await ws.send_json(wallboard.snapshot())
    disconnect = await request.app[HUB_KEY].connect(who.agent_id, who.role, ws)
    try:
        # Commands only where the desktop's rules run (an app made with a bridge).
        await _serve(ws, request.app.get(REGISTRY_KEY) if WALLBOARD_KEY in request.app else None, who)
    finally:
        disconnect()
    return ws
