"""The desktop's JSON API: its commands (agent_desktop/commands.py) mounted on the app's registry,
and the OpenAPI document generated from that registry at ``/api/openapi.json``.

Authentication: the desktop's session cookie, or ``Authorization: Bearer <token>`` for an
integration configured in ``desktop.api_tokens`` (GET routes within the token's scopes; the only
writes are outage notices, with ``outages:write``). State-changing requests with the cookie must
carry the session's CSRF token (header ``X-CSRF-Token`` or form field ``csrf``), so a cross-site page
cannot act for a logged-in agent.
Errors are ``{"error": {"code": <error_id>, "message": ...}}`` with a matching HTTP status
(core/http.py).
"""

from __future__ import annotations

from typing import Any

from aiohttp import web

from agent_desktop.actions import DesktopActions
from agent_desktop.commands import HealthDetails, RevokeAll, desktop_routes
from agent_desktop.pages import ACTIONS_KEY
from agent_desktop.wallboard import Wallboard
from agent_desktop.ws import WALLBOARD_KEY
from core.http import REGISTRY_KEY, Access, Call, Route, add_routes
from core.openapi import build_openapi

__all__ = ["ACTIONS_KEY", "OPENAPI_PATH", "WALLBOARD_KEY", "add_api_routes", "add_openapi"]

OPENAPI_PATH = "/api/openapi.json"
DESCRIPTION = (
    "Session cookie (the desktop) or a bearer token per integration (desktop.api_tokens, within its "
    "scopes: calls:read, customers:read, recordings:read, recordings:audio, reports:read, stats:read, "
    "outages:read; reads only, but for outages:write, which posts and expires outage notices). "
    "Writes with the cookie need the session's CSRF token in X-CSRF-Token. Every error is "
    '{"error": {"code": <stable id>, "message": ...}}. Every customer profile view is written to the '
    "audit log. Times are ISO 8601 UTC; days are Asia/Ho_Chi_Minh; amounts are integer VND. Routes "
    "with an operation description naming a websocket command are also served on /ws as "
    '{"id", "type", ...arguments}, answered by {"id", "type": "result", "success", "result" | "error"}.'
)


async def _openapi(c: Call[Any]) -> Any:
    assert c.request is not None
    return build_openapi(
        c.request.app[REGISTRY_KEY], title="tongdai agent desktop API", description=DESCRIPTION
    )


def add_openapi(app: web.Application) -> None:
    route = Route("GET", OPENAPI_PATH, "This document", _openapi, access=Access.PUBLIC, tag="meta")
    add_routes(app, [route])


def add_api_routes(
    app: web.Application,
    acts: DesktopActions,
    wallboard: Wallboard,
    revoke_all: RevokeAll | None = None,
    health: HealthDetails | None = None,
) -> None:
    """The desktop's commands, on HTTP (here) and the websocket (agent_desktop/ws.py)."""
    app[ACTIONS_KEY] = acts
    app[WALLBOARD_KEY] = wallboard
    add_routes(app, desktop_routes(acts, wallboard, revoke_all, health))
