"""The desktop API's one registry on a real bridge (aiohttp on 127.0.0.1, real SQLite, no Asterisk):
every error under /api/ is JSON with a stable id, no route shadows another, each command answers the
same over HTTP and the websocket, and the OpenAPI document lists every route the router serves."""

from __future__ import annotations

import io
import json
from typing import Any

import aiohttp
import pytest
from aiohttp import web

from agent_desktop.api import OPENAPI_PATH
from core.http import REGISTRY_KEY, Call, Registry, Route, RouteShadowed
from tests.component.test_desktop_security import TOKEN, base, client, csrf_of, desk
from tests.support.desktop import login, next_frame
from tongdai.app import Bridge

__all__ = ["desk"]  # the fixture, imported


async def error_of(r: aiohttp.ClientResponse) -> dict[str, Any]:
    assert r.content_type == "application/json", (r.status, await r.text())
    err: dict[str, Any] = (await r.json())["error"]
    assert set(err) == {"code", "message"} and err["message"]
    return err


async def test_every_error_under_api_is_json_with_a_stable_id(desk: Bridge) -> None:
    url = base(desk)
    async with aiohttp.ClientSession() as anon:
        async with anon.get(f"{url}/api/calls/today") as r:
            assert r.status == 401 and (await error_of(r))["code"] == "auth.login_required"
        async with anon.get(f"{url}/api/calls/today", headers={"Authorization": "Bearer nope"}) as r:
            assert r.status == 401 and (await error_of(r))["code"] == "auth.bad_token"
        bearer = {"Authorization": f"Bearer {TOKEN}"}
        async with anon.post(f"{url}/api/agent/state", json={"state": "ready"}, headers=bearer) as r:
            assert r.status == 403 and (await error_of(r))["code"] == "auth.read_only_token"
        async with anon.get(f"{url}/api/no/such/route") as r:
            assert r.status == 404 and (await error_of(r))["code"] == "http.not_found"
    async with client() as http:
        await login(http, url, "1001", "demo-1001")
        async with http.post(f"{url}/api/agent/state", json={"state": "ready"}) as r:
            assert r.status == 403 and (await error_of(r))["code"] == "auth.csrf"
        async with http.get(f"{url}/api/queues/stats") as r:
            assert r.status == 403 and (await error_of(r))["code"] == "access.supervisors_only"
        csrf = {"X-CSRF-Token": await csrf_of(http, desk)}
        big = io.BytesIO(b"x" * (2 * 1024 * 1024))
        json_csrf = {**csrf, "Content-Type": "application/json"}
        async with http.post(f"{url}/api/calls/dial", data=big, headers=json_csrf) as r:
            assert r.status == 413 and (await error_of(r))["code"] == "request.too_large"
        async with http.post(f"{url}/api/agent/state", json={"state": "asleep"}, headers=csrf) as r:
            err = await error_of(r)
            assert r.status == 400 and err["code"] == "request.invalid" and "state" in err["message"]
        async with http.get(f"{url}/api/customers/KH0000000999") as r:
            assert r.status == 404 and (await error_of(r))["code"] == "not_found"


async def test_no_route_shadows_another(desk: Bridge) -> None:
    url = base(desk)
    async with client() as http:
        await login(http, url, "1001", "demo-1001")
        # A literal path is never a value of its sibling's parameter: GET on the POST-only /dial is
        # "method not allowed", not "no call 'dial'".
        async with http.get(f"{url}/api/calls/dial") as r:
            assert r.status == 405 and (await error_of(r))["code"] == "http.method_not_allowed"
            assert "POST" in r.headers["Allow"]
        async with http.post(f"{url}/api/calls/today", headers={"X-CSRF-Token": "x"}) as r:
            assert r.status == 405
        async with http.get(f"{url}/api/customers/search", params={"q": "nguyen van an"}) as r:
            assert r.status == 200 and "results" in await r.json()
    # Registering a literal path after a parameter that would take it is refused at start-up.
    app, registry = web.Application(), Registry()

    async def nothing(c: Call[Any]) -> Any:
        return {}

    registry.add(app, [Route("GET", "/api/things/{thing_id}", "one thing", nothing)])
    with pytest.raises(RouteShadowed, match="/api/things/new"):
        registry.add(app, [Route("POST", "/api/things/new", "a new thing", nothing)])


async def test_each_command_answers_the_same_over_http_and_the_websocket(desk: Bridge) -> None:
    url = base(desk)
    async with client() as http:
        await login(http, url, "1001", "demo-1001")
        # Not on one of the agent's calls: opened for a stated reason (agent_desktop/access.py).
        why = {"reason": "khách gọi từ số khác, xác minh"}
        async with http.get(f"{url}/api/customers/KH0000000001", params=why) as r:
            by_http = await r.json()
        async with http.get(f"{url}/api/customers/search", params={"q": "KH0000000001"}) as r:
            found = (await r.json())["results"]
        async with http.get(f"{url}/api/dispositions") as r:
            codes = (await r.json())["dispositions"]
        async with http.ws_connect(f"{url}/ws", origin=url) as ws:
            await next_frame(ws, "hello")

            async def command(mid: int, kind: str, **args: Any) -> dict[str, Any]:
                await ws.send_str(json.dumps({"id": mid, "type": kind, **args}))
                reply: dict[str, Any] = await next_frame(ws, "result")
                assert reply["id"] == mid
                return reply

            profile = await command(1, "customer.profile", customer_id="KH0000000001", **why)
            assert profile["success"] and profile["result"] == by_http
            # A list result is the frame's result itself (the HTTP body wraps it under a key).
            assert (await command(2, "customer.search", q="KH0000000001"))["result"] == found
            assert (await command(3, "dispositions.list"))["result"] == codes
            assert (await command(4, "calls.today"))["result"] == []
            denied = await command(5, "wallboard.snapshot")
            assert not denied["success"] and denied["error"]["code"] == "access.supervisors_only"
            bad = await command(6, "customer.profile", customer_id="")
            assert bad["error"]["code"] == "request.invalid" and "customer_id" in bad["error"]["message"]
            unknown = await command(7, "customer.delete")
            assert unknown["error"] == {
                "code": "desktop.bad_request",
                "message": "unknown command 'customer.delete'",
            }
    async with client() as sup:
        await login(sup, url, "9000", "demo-9000")
        async with sup.ws_connect(f"{url}/ws", origin=url) as ws:
            await next_frame(ws, "hello")
            await ws.send_str(json.dumps({"id": 1, "type": "wallboard.snapshot"}))
            snap = await next_frame(ws, "result")
            assert snap["success"] and "queues" in snap["result"] and "agents" in snap["result"]


async def test_the_openapi_document_lists_every_route_and_status(desk: Bridge) -> None:
    async with aiohttp.ClientSession() as anon, anon.get(f"{base(desk)}{OPENAPI_PATH}") as r:
        spec = await r.json()
    assert desk._runner is not None
    app = desk._runner.app
    served = {
        (route.method, route.resource.canonical)
        for route in app.router.routes()
        if route.resource is not None
        and route.resource.canonical.startswith("/api/")
        and route.method != "HEAD"
    }
    documented = {(m.upper(), p) for p, ops in spec["paths"].items() for m in ops}
    registered = {(r.method, r.path) for r in app[REGISTRY_KEY].routes}
    assert documented == registered
    # The router's paths carry the exclusions of literal siblings: compare their shapes.
    assert {(m, p.split(":")[0]) for m, p in served} == {(m, p.split(":")[0]) for m, p in registered}
    for path in (
        "/api/recordings",
        "/api/recordings/{call_id}/audio",
        "/api/recordings/{call_id}/pause",
        "/api/recordings/{call_id}/resume",
        "/api/recordings/{call_id}/dispute",
        "/api/callbacks/{id}/complete",
        "/api/reports/service-level",
    ):
        assert path in spec["paths"], path
    for path, ops in spec["paths"].items():
        for method, op in ops.items():
            codes = set(op["responses"])
            if path != OPENAPI_PATH:
                assert {"200", "401", "403"} <= codes, (method, path)
            if method == "post":
                assert {"400", "413"} <= codes, (method, path)
                assert {"$ref": "#/components/parameters/Csrf"} in op["parameters"]
    dial = spec["paths"]["/api/calls/dial"]["post"]
    body = dial["requestBody"]["content"]["application/json"]["schema"]
    assert dial["requestBody"]["required"] is True and body["required"] == ["number"]
    assert "pattern" in body["properties"]["number"]
    transfer = spec["paths"]["/api/calls/{call_id}/transfer"]["post"]
    mode = transfer["requestBody"]["content"]["application/json"]["schema"]["properties"]["mode"]
    assert mode["enum"] == ["blind", "attended"]
    report = spec["paths"]["/api/reports/service-level"]["get"]["parameters"]
    assert [(p["name"], p["required"], p["schema"].get("format")) for p in report] == [
        ("since", True, "date"),
        ("until", True, "date"),
        ("queue", False, None),
    ]


async def test_a_post_without_a_body_has_no_fields(desk: Bridge) -> None:
    """The callbacks page claims with a JSON content type and no body at all: that is no fields, not
    invalid JSON (an empty JSON text is still refused)."""
    url = base(desk)
    async with client() as http:
        await login(http, url, "1001", "demo-1001")
        headers = {"X-CSRF-Token": await csrf_of(http, desk), "Content-Type": "application/json"}
        async with http.post(f"{url}/api/callbacks/999999/claim", headers=headers) as r:
            assert r.status == 404 and (await error_of(r))["code"] == "not_found"
        async with http.post(f"{url}/api/callbacks/999999/claim", headers=headers, data=b" ") as r:
            assert r.status == 400 and "not valid JSON" in (await error_of(r))["message"]
