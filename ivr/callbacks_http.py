"""HTTP edge of the callback worklist (ivr/callbacks.py), for agents and supervisors.

``GET /api/callbacks`` lists the caller's claims (a supervisor: every claim) then the pending requests in
working order; ``POST /api/callbacks/{id}/claim|complete|release`` act on one request (session cookie
+ CSRF, like every desktop write) and are audited. Errors are the desktop API's JSON errors: 400 bad
input, 404 unknown request, 409 claimed by someone else / not claimed / already done.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from aiohttp import web

from agent_desktop.actions import BadRequest, Who
from agent_desktop.api import json_route, read_body
from ivr.callbacks import OUTCOMES, CallbackStore

Audit = Callable[[str, str, str, str], Awaitable[None]]


def _request_id(request: web.Request) -> int:
    raw = request.match_info["id"]
    if not raw.isdigit() or len(raw) > 18:
        raise BadRequest(f"{raw!r} is not a callback request id")
    return int(raw)


def add_routes(app: web.Application, store: CallbackStore, audit: Audit) -> None:
    async def worklist(request: web.Request, who: Who) -> Any:
        rows = await store.worklist(who.agent_id, every_claim=who.supervisor)
        return {"callbacks": [r.to_json() for r in rows], "outcomes": list(OUTCOMES)}

    async def claim(request: web.Request, who: Who) -> Any:
        rid = _request_id(request)
        view = await store.claim(rid, who.agent_id)
        await audit(who.agent_id, "callback.claim", "callback", str(rid))
        return view.to_json()

    async def complete(request: web.Request, who: Who) -> Any:
        rid = _request_id(request)
        outcome = str((await read_body(request)).get("outcome", "")).strip()
        if not outcome:
            raise BadRequest(f"give an outcome: one of {', '.join(OUTCOMES)}")
        view = await store.complete(rid, who.agent_id, outcome)
        # Each attempt's outcome is in the audit log; the row keeps only the last.
        await audit(who.agent_id, f"callback.complete.{outcome}", "callback", str(rid))
        return view.to_json()

    async def release(request: web.Request, who: Who) -> Any:
        rid = _request_id(request)
        view = await store.release(rid, who.agent_id, any_claim=who.supervisor)
        await audit(who.agent_id, "callback.release", "callback", str(rid))
        return view.to_json()

    # Working callbacks is a person's job: integration tokens are refused.
    app.router.add_get("/api/callbacks", json_route(worklist, people_only=True))
    app.router.add_post("/api/callbacks/{id}/claim", json_route(claim, write=True, people_only=True))
    app.router.add_post("/api/callbacks/{id}/complete", json_route(complete, write=True, people_only=True))
    app.router.add_post("/api/callbacks/{id}/release", json_route(release, write=True, people_only=True))
