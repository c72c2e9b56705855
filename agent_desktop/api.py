"""The desktop's JSON API, its OpenAPI description, the state/disposition forms and websocket commands.

Authentication: the desktop's session cookie, or ``Authorization: Bearer <token>`` for an
integration configured in ``desktop.api_tokens`` (read-only: GET routes). State-changing requests
with the cookie must carry the session's CSRF token (form field ``csrf`` or header
``X-CSRF-Token``), so a cross-site page cannot act for a logged-in agent. Errors are
``{"error": {"code": <error_id>, "message": ...}}`` with a matching HTTP status.
"""

from __future__ import annotations

import hmac
import json
import logging
from collections.abc import Awaitable, Callable
from typing import Any

from aiohttp import web
from aiohttp_session import get_session

from agent_desktop.actions import BadRequest, DesktopActions, Forbidden, Unavailable, Who
from agent_desktop.wallboard import Wallboard
from core.errors import AmiError, Conflict, NotFound, TongdaiError, UnsafeValue
from reports.service_level import parse_period, service_level_report

log = logging.getLogger(__name__)

ACTIONS_KEY = web.AppKey("desktop_actions", DesktopActions)
WALLBOARD_KEY = web.AppKey("wallboard", Wallboard)
INTEGRATION = "integration"


def status_for(err: Exception) -> int:
    if isinstance(err, Forbidden):
        return 403
    if isinstance(err, NotFound):
        return 404
    if isinstance(err, (BadRequest, UnsafeValue, ValueError)):
        return 400
    if isinstance(err, Conflict):
        return 409
    if isinstance(err, (Unavailable, AmiError)):
        return 503
    return 500


def error_body(err: Exception) -> dict[str, Any]:
    code = err.error_id if isinstance(err, TongdaiError) else "desktop.bad_request"
    return {"code": code, "message": str(err)}


async def who_of(request: web.Request, *, write: bool) -> Who:
    """The caller: a logged-in session (CSRF checked on writes) or a read-only integration token."""
    auth = request.headers.get("Authorization", "")
    if auth.startswith("Bearer "):
        given = auth.removeprefix("Bearer ").strip()
        for t in request.app[ACTIONS_KEY].settings.desktop.api_tokens:
            if hmac.compare_digest(given.encode(), t.token.get_secret_value().encode()):
                if write:
                    raise web.HTTPForbidden(text="integration tokens are read-only")
                return Who(f"api:{t.name}", INTEGRATION)
        raise web.HTTPUnauthorized(text="bad token")
    session = await get_session(request)
    agent, role = session.get("agent"), session.get("role")
    if not agent or not role:
        raise web.HTTPUnauthorized(text="log in first")
    if write:
        want = str(session.get("csrf") or "")
        got = request.headers.get("X-CSRF-Token", "")
        if not got and request.content_type in ("application/x-www-form-urlencoded", "multipart/form-data"):
            got = str((await request.post()).get("csrf", ""))
        if not want or not hmac.compare_digest(want, got):
            raise web.HTTPForbidden(text="CSRF token missing or wrong")
    return Who(str(agent), str(role))


Handler = Callable[[web.Request, Who], Awaitable[Any]]


def json_route(
    fn: Handler, *, write: bool = False, supervisor: bool = False, people_only: bool = False
) -> Any:
    """An API handler: who is asking (session or token; CSRF on writes), JSON result, JSON errors.
    ``people_only`` refuses integration tokens (work only an agent or supervisor does)."""

    async def handler(request: web.Request) -> web.StreamResponse:
        who = await who_of(request, write=write)
        if supervisor and not (who.supervisor or who.role == INTEGRATION):
            return web.json_response(
                {"error": {"code": "desktop.forbidden", "message": "supervisors only"}}, status=403
            )
        try:
            if people_only and who.role == INTEGRATION:
                raise Forbidden("this is for agents and supervisors, not integration tokens")
            result = await fn(request, who)
        except (TongdaiError, ValueError) as err:
            return web.json_response({"error": error_body(err)}, status=status_for(err))
        return web.json_response(result, dumps=lambda o: json.dumps(o, ensure_ascii=False, default=str))

    return handler


async def read_body(request: web.Request) -> dict[str, Any]:
    """A JSON object or a form, as a dict; anything else is a clear 400."""
    if request.content_type == "application/json":
        try:
            data = await request.json()
        except json.JSONDecodeError as err:
            raise BadRequest("the body is not valid JSON") from err
        if not isinstance(data, dict):
            raise BadRequest("the body must be a JSON object")
        return data
    return {k: str(v) for k, v in (await request.post()).items()}


def _acts(request: web.Request) -> DesktopActions:
    return request.app[ACTIONS_KEY]


def _reader(who: Who) -> Who:
    # An integration reads like a supervisor (every call), but under its own name in the audit log.
    return Who(who.agent_id, "supervisor") if who.role == INTEGRATION else who


async def api_calls_today(request: web.Request, who: Who) -> Any:
    agent = request.query.get("agent")
    if who.role == INTEGRATION and agent is None:
        agent = ""
    return {"calls": await _acts(request).calls_today(_reader(who), agent)}


async def api_call(request: web.Request, who: Who) -> Any:
    return await _acts(request).call(_reader(who), request.match_info["call_id"])


async def api_queue_stats(request: web.Request, who: Who) -> Any:
    snap = request.app[WALLBOARD_KEY].snapshot()
    return {k: snap[k] for k in ("at", "day", "definitions", "queues", "tiers", "halfhours")}


async def api_agent_states(request: web.Request, who: Who) -> Any:
    return {
        "agents": request.app[WALLBOARD_KEY].snapshot()["agents"],
        "state_service": _acts(request).agent_states_available(),
    }


async def api_search(request: web.Request, who: Who) -> Any:
    return {"results": await _acts(request).search(who, request.query.get("q", ""))}


async def api_profile(request: web.Request, who: Who) -> Any:
    return await _acts(request).profile(who, request.match_info["customer_id"])


async def api_unmask(request: web.Request, who: Who) -> Any:
    body = await read_body(request)
    number = await _acts(request).unmask_id_number(
        who, request.match_info["customer_id"], str(body.get("reason", ""))
    )
    return {"id_number": number}


async def api_dispositions(request: web.Request, who: Who) -> Any:
    return {"dispositions": [d.model_dump() for d in _acts(request).settings.desktop.dispositions]}


async def api_save_disposition(request: web.Request, who: Who) -> Any:
    b = await read_body(request)
    return await _acts(request).save_disposition(
        who,
        str(b.get("call_id", "")),
        str(b.get("code", "")),
        str(b.get("note", "")),
        str(b.get("customer_id", "")),
    )


async def api_state(request: web.Request, who: Who) -> Any:
    b = await read_body(request)
    state = await _acts(request).set_state(who, str(b.get("state", "")), str(b.get("reason", "")))
    return {"state": state}


async def api_dial(request: web.Request, who: Who) -> Any:
    b = await read_body(request)
    return await _acts(request).dial(who, str(b.get("number", "")))


async def api_transfer(request: web.Request, who: Who) -> Any:
    b = await read_body(request)
    return await _acts(request).transfer(
        who, request.match_info["call_id"], str(b.get("target", "")), str(b.get("mode", "blind"))
    )


async def api_service_level(request: web.Request, who: Who) -> Any:
    acts = _acts(request)
    cfg = acts.settings.reports
    since, until = parse_period(request.query.get("since"), request.query.get("until"), max_days=cfg.max_days)
    if acts.bridge.sessions is None:
        raise Unavailable("the database is not ready")
    queue = request.query.get("queue") or None
    report = await service_level_report(acts.bridge.sessions, since, until, config=cfg, queue=queue)
    return report.to_json()


async def api_spy(request: web.Request, who: Who) -> Any:
    b = await read_body(request)
    return await _acts(request).spy(who, str(b.get("agent_id", "")), str(b.get("mode", "listen")))


# --- forms (one click, CSRF) -------------------------------------------------------------------


async def form_state(request: web.Request) -> web.StreamResponse:
    who = await who_of(request, write=True)
    form = await request.post()
    lang = request.query.get("lang", "")
    try:
        await _acts(request).set_state(who, str(form.get("state", "")), str(form.get("reason", "")))
        msg = "ok"
    except (TongdaiError, ValueError) as err:
        msg = error_body(err)["code"]
    raise web.HTTPSeeOther(f"/?state={msg}" + (f"&lang={lang}" if lang in ("vi", "en") else ""))


# --- websocket commands ------------------------------------------------------------------------


async def ws_command(app: web.Application, who: Who, msg: dict[str, Any]) -> dict[str, Any]:
    """One ``{id, type, ...}`` command → ``{id, type: "result", success, result | error}``."""
    mid = msg.get("id")
    acts = app[ACTIONS_KEY]
    kind = str(msg.get("type", ""))
    try:
        result: Any
        if kind == "agent.state":
            result = {
                "state": await acts.set_state(who, str(msg.get("state", "")), str(msg.get("reason", "")))
            }
        elif kind == "disposition.save":
            result = await acts.save_disposition(
                who,
                str(msg.get("call_id", "")),
                str(msg.get("code", "")),
                str(msg.get("note", "")),
                str(msg.get("customer_id", "")),
            )
        elif kind == "customer.search":
            result = await acts.search(who, str(msg.get("q", "")))
        elif kind == "customer.profile":
            result = await acts.profile(who, str(msg.get("customer_id", "")))
        elif kind == "customer.unmask":
            result = {
                "id_number": await acts.unmask_id_number(
                    who, str(msg.get("customer_id", "")), str(msg.get("reason", ""))
                )
            }
        elif kind == "calls.today":
            result = await acts.calls_today(who)
        elif kind == "call.get":
            result = await acts.call(who, str(msg.get("call_id", "")))
        elif kind == "call.dial":
            result = await acts.dial(who, str(msg.get("number", "")))
        elif kind == "call.transfer":
            result = await acts.transfer(
                who, str(msg.get("call_id", "")), str(msg.get("target", "")), str(msg.get("mode", "blind"))
            )
        elif kind == "spy.start":
            result = await acts.spy(who, str(msg.get("agent_id", "")), str(msg.get("mode", "listen")))
        elif kind == "wallboard.snapshot":
            if not who.supervisor:
                raise Forbidden("supervisors only")
            result = app[WALLBOARD_KEY].snapshot()
        else:
            raise BadRequest(f"unknown command {kind!r}")
    except (TongdaiError, ValueError) as err:
        return {"id": mid, "type": "result", "success": False, "error": error_body(err)}
    except Exception as err:  # an unexpected failure is answered, logged, and the socket lives on
        log.exception("websocket command %s failed", kind)
        return {
            "id": mid,
            "type": "result",
            "success": False,
            "error": {"code": "internal", "message": str(err)},
        }
    return {"id": mid, "type": "result", "success": True, "result": result}


def add_api_routes(app: web.Application) -> None:
    r = app.router
    r.add_get("/api/openapi.json", openapi_handler)
    r.add_get("/api/calls/today", json_route(api_calls_today))
    r.add_get("/api/calls/{call_id}", json_route(api_call))
    r.add_post("/api/calls/dial", json_route(api_dial, write=True))
    r.add_post("/api/calls/{call_id}/transfer", json_route(api_transfer, write=True))
    r.add_get("/api/queues/stats", json_route(api_queue_stats, supervisor=True))
    r.add_get("/api/agents/states", json_route(api_agent_states, supervisor=True))
    r.add_post("/api/agent/state", json_route(api_state, write=True))
    r.add_post("/api/spy", json_route(api_spy, write=True))
    r.add_get("/api/customers/search", json_route(api_search))
    r.add_get("/api/customers/{customer_id}", json_route(api_profile))
    r.add_post("/api/customers/{customer_id}/unmask", json_route(api_unmask, write=True))
    r.add_get("/api/reports/service-level", json_route(api_service_level, supervisor=True))
    r.add_get("/api/dispositions", json_route(api_dispositions))
    r.add_post("/api/dispositions", json_route(api_save_disposition, write=True))
    r.add_post("/agent/state", form_state)


async def openapi_handler(request: web.Request) -> web.Response:
    return web.json_response(OPENAPI)


def _op(
    summary: str, *, params: list[dict[str, Any]] | None = None, body: list[str] | None = None
) -> dict[str, Any]:
    op: dict[str, Any] = {
        "summary": summary,
        "responses": {
            "200": {"description": "OK", "content": {"application/json": {"schema": {"type": "object"}}}},
            "401": {"$ref": "#/components/responses/Error"},
            "403": {"$ref": "#/components/responses/Error"},
            "404": {"$ref": "#/components/responses/Error"},
        },
    }
    if params:
        op["parameters"] = params
    if body is not None:
        op["requestBody"] = {
            "required": True,
            "content": {
                "application/json": {
                    "schema": {"type": "object", "properties": {b: {"type": "string"} for b in body}}
                }
            },
        }
        op["parameters"] = [*op.get("parameters", []), {"$ref": "#/components/parameters/Csrf"}]
    return op


def _path(name: str) -> dict[str, Any]:
    return {"name": name, "in": "path", "required": True, "schema": {"type": "string"}}


def _query(name: str, required: bool = False) -> dict[str, Any]:
    return {"name": name, "in": "query", "required": required, "schema": {"type": "string"}}


_CSRF: dict[str, Any] = {"$ref": "#/components/parameters/Csrf"}  # a write without a body

OPENAPI: dict[str, Any] = {
    "openapi": "3.1.0",
    "info": {
        "title": "tongdai agent desktop API",
        "version": "1",
        "description": "Session cookie (desktop) or bearer token per integration (desktop.api_tokens, "
        "GET only). Writes with the cookie need the session's CSRF token in X-CSRF-Token. Every "
        "customer profile view is written to the audit log. Times are ISO 8601 UTC; days are "
        "Asia/Ho_Chi_Minh; amounts are integer VND.",
    },
    "security": [{"session": []}, {"bearer": []}],
    "paths": {
        "/api/calls/today": {
            "get": _op(
                "Today's calls of the agent (supervisors/integrations: ?agent=, empty = all)",
                params=[_query("agent")],
            )
        },
        "/api/calls/{call_id}": {
            "get": _op("One call, live or stored (own calls only for agents)", params=[_path("call_id")])
        },
        "/api/calls/dial": {"post": _op("Click-to-call from the agent's own phone", body=["number"])},
        "/api/calls/{call_id}/transfer": {
            "post": _op(
                "Blind (Redirect) or attended (Atxfer) transfer",
                params=[_path("call_id")],
                body=["target", "mode"],
            )
        },
        "/api/queues/stats": {
            "get": _op("Per queue, tier and half-hour: waiting, longest wait, SL, abandoned, ASA, AHT")
        },
        "/api/agents/states": {"get": _op("Agents by state with time in state and pause reason")},
        "/api/reports/service-level": {
            "get": _op(
                "Historical service level (QCVN 36:2022) per day, queue, tier and agent for Vietnam days "
                "[since, until); supervisors and integrations; 400 on a bad period",
                params=[_query("since", True), _query("until", True), _query("queue")],
            )
        },
        "/api/agent/state": {
            "post": _op(
                "Set own state: ready | pause (reason) | wrapup | login | logout", body=["state", "reason"]
            )
        },
        "/api/spy": {
            "post": _op("Supervisor listen / whisper / barge on an agent's call", body=["agent_id", "mode"])
        },
        "/api/customers/search": {
            "get": _op(
                "Customer search by name (diacritics ignored), number or id", params=[_query("q", True)]
            )
        },
        "/api/customers/{customer_id}": {
            "get": _op("Customer profile (audited)", params=[_path("customer_id")])
        },
        "/api/customers/{customer_id}/unmask": {
            "post": _op(
                "Full identity number for a stated reason (audited)",
                params=[_path("customer_id")],
                body=["reason"],
            )
        },
        "/api/dispositions": {
            "get": _op("Disposition codes"),
            "post": _op(
                "Save a disposition and note to the customer's history, linked to the call",
                body=["call_id", "code", "note", "customer_id"],
            ),
        },
        # ivr/callbacks_http.py: the callback worklist (agents and supervisors; 409 if claimed elsewhere)
        "/api/callbacks": {
            "get": _op("Callback worklist: own claims (supervisors: all), then pending by tier and age")
        },
        "/api/callbacks/{id}/claim": {
            "post": _op("Claim a pending callback request (audited)", params=[_path("id"), _CSRF])
        },
        "/api/callbacks/{id}/complete": {
            "post": _op(
                "Record an attempt: reached | no_answer | busy | voicemail | wrong_number | declined",
                params=[_path("id")],
                body=["outcome"],
            )
        },
        "/api/callbacks/{id}/release": {
            "post": _op("Give a claimed request back, its place kept", params=[_path("id"), _CSRF])
        },
    },
    "components": {
        "securitySchemes": {
            "session": {"type": "apiKey", "in": "cookie", "name": "tongdai_session"},
            "bearer": {"type": "http", "scheme": "bearer"},
        },
        "parameters": {
            "Csrf": {"name": "X-CSRF-Token", "in": "header", "required": False, "schema": {"type": "string"}}
        },
        "responses": {
            "Error": {
                "description": "Error",
                "content": {
                    "application/json": {
                        "schema": {
                            "type": "object",
                            "properties": {
                                "error": {
                                    "type": "object",
                                    "properties": {"code": {"type": "string"}, "message": {"type": "string"}},
                                }
                            },
                        }
                    }
                },
            }
        },
    },
}
