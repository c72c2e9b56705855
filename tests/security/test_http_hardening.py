"""HTTP and websocket hardening against a real node: the security headers on every kind of response,
pages that run under the CSP (nothing inline), a cap on an agent's websockets, a per-connection
command rate answered without a disconnect, and a /healthz that names no one."""

from __future__ import annotations

import asyncio
import json
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from agent_desktop.ws import CLOSE_TOO_MANY
from core.http import CONTENT_SECURITY_POLICY
from tests.security.conftest import base, browser, csrf_of
from tests.support.desktop import login, next_frame
from tongdai.app import Bridge

TEMPLATES = Path(__file__).resolve().parents[2] / "agent_desktop" / "templates"


@pytest.fixture
async def node(start_node: Callable[..., Any]) -> Bridge:
    n: Bridge = await start_node(desktop={"websocket": {"max_per_agent": 2, "commands_per_second": 2}})
    return n


def check_common(headers: Any, where: str) -> None:
    assert headers["Content-Security-Policy"] == CONTENT_SECURITY_POLICY, where
    assert "frame-ancestors 'none'" in headers["Content-Security-Policy"]
    assert headers["X-Content-Type-Options"] == "nosniff", where
    assert headers["X-Frame-Options"] == "DENY", where
    assert headers["Referrer-Policy"] == "no-referrer", where
    assert headers["Server"] == "tongdai", where  # no aiohttp or Python version
    assert "Strict-Transport-Security" not in headers, where  # plain HTTP: no HSTS


async def test_security_headers_on_every_kind_of_response(node: Bridge) -> None:
    url = base(node)
    async with browser() as http:
        async with http.get(f"{url}/login") as r:
            check_common(r.headers, "login page")
            assert r.headers["Cache-Control"] == "no-store"
        async with http.get(f"{url}/", allow_redirects=False) as r:  # a redirect (raised in aiohttp)
            assert r.status == 302
            check_common(r.headers, "redirect")
        async with http.get(f"{url}/api/calls/today") as r:  # a JSON error
            assert r.status == 401
            check_common(r.headers, "api error")
            assert r.headers["Cache-Control"] == "no-store"
        async with http.get(f"{url}/no/such/page") as r:
            assert r.status == 404
            check_common(r.headers, "not found")
        await login(http, url, "1001", "demo-1001")
        for path in ("/", "/api/calls/today", "/healthz"):
            async with http.get(f"{url}{path}") as r:
                assert r.status == 200
                check_common(r.headers, path)
                assert r.headers["Cache-Control"] == "no-store", path  # personal data: never cached
        async with http.get(f"{url}/static/desktop.js") as r:
            assert r.status == 200
            check_common(r.headers, "static")
            assert r.headers.get("Cache-Control") != "no-store"  # assets carry no personal data
        async with http.ws_connect(f"{url}/ws", origin=url) as ws:
            await next_frame(ws, "hello")


async def test_hsts_only_behind_https(start_node: Callable[..., Any]) -> None:
    node: Bridge = await start_node(web={"secure_cookies": True})
    async with aiohttp.ClientSession() as http, http.get(f"{base(node)}/login") as r:
        assert r.headers["Strict-Transport-Security"].startswith("max-age=31536000")
        cookie = r.headers.get("Set-Cookie", "")
        assert "Secure" in cookie  # the login nonce, like the session, only over HTTPS


def test_the_pages_have_nothing_inline_for_the_csp_to_block() -> None:
    """No inline script (only external modules and the JSON catalogue, which is data), no event
    handler attributes, no style attributes or blocks, and no javascript: URLs."""
    for page in TEMPLATES.glob("*.html"):
        html = page.read_text(encoding="utf-8")
        for tag in re.findall(r"<script\b[^>]*>", html):
            assert "src=" in tag or 'type="application/json"' in tag, (page.name, tag)
        assert not re.search(r"<script\b(?![^>]*\bsrc=)(?![^>]*application/json)[^>]*>\s*\S", html), page.name
        assert not re.search(r"\son[a-z]+\s*=", html), page.name
        assert not re.search(r"\sstyle\s*=", html), page.name
        assert "<style" not in html and "javascript:" not in html, page.name


async def test_an_agents_sockets_are_capped_and_the_extra_one_refused_clearly(node: Bridge) -> None:
    url = base(node)
    async with browser() as http:
        await login(http, url, "1001", "demo-1001")
        first = await http.ws_connect(f"{url}/ws", origin=url)
        second = await http.ws_connect(f"{url}/ws", origin=url)
        for ws in (first, second):
            await next_frame(ws, "hello")
        async with http.ws_connect(f"{url}/ws", origin=url) as third:
            refused = await next_frame(third, "error")
            assert refused["error"]["code"] == "ws.too_many_sockets"
            msg = await third.receive(timeout=5)
            assert msg.type == aiohttp.WSMsgType.CLOSE and msg.data == CLOSE_TOO_MANY
        # The open ones are kept and still answer.
        for ws in (first, second):
            await ws.send_str("ping")
            assert json.loads((await ws.receive(timeout=5)).data) == {"type": "pong"}
        await first.close()
        await asyncio.sleep(0.1)
        async with http.ws_connect(f"{url}/ws", origin=url) as again:  # one closed: room for one
            await next_frame(again, "hello")
        await second.close()
    async with browser() as other:  # the cap is per agent
        await login(other, url, "1002", "demo-1002")
        async with other.ws_connect(f"{url}/ws", origin=url) as ws:
            await next_frame(ws, "hello")


async def test_too_many_commands_are_answered_not_disconnected(node: Bridge) -> None:
    url = base(node)
    async with browser() as http:
        await login(http, url, "1001", "demo-1001")
        async with http.ws_connect(f"{url}/ws", origin=url) as ws:
            await next_frame(ws, "hello")
            for i in range(12):
                await ws.send_str(json.dumps({"id": i, "type": "dispositions.list"}))
            replies = [await next_frame(ws, "result") for _ in range(12)]
            assert sorted(r["id"] for r in replies) == list(range(12))  # every command answered
            limited = [r for r in replies if not r["success"]]
            assert limited and all(r["error"]["code"] == "ws.rate_limited" for r in limited)
            assert sum(r["success"] for r in replies) <= 5  # a burst of twice the rate, plus a refill
            await asyncio.sleep(1.1)  # the bucket refills: the same socket goes on working
            await ws.send_str(json.dumps({"id": 99, "type": "dispositions.list"}))
            assert (await next_frame(ws, "result"))["success"]


async def test_healthz_names_no_one_and_the_details_are_for_supervisors(node: Bridge) -> None:
    url = base(node)
    async with browser() as agent, browser() as sup:
        await login(agent, url, "1001", "demo-1001")
        async with agent.ws_connect(f"{url}/ws", origin=url) as ws:
            await next_frame(ws, "hello")
            async with aiohttp.ClientSession() as anon, anon.get(f"{url}/healthz") as r:
                assert r.status == 200 and await r.json() == {"status": "up"}
            async with aiohttp.ClientSession() as anon, anon.get(f"{url}/api/health") as r:
                assert r.status == 401
            async with agent.get(f"{url}/api/health") as r:
                assert r.status == 403
            await login(sup, url, "9000", "demo-9000")
            async with sup.get(f"{url}/api/health") as r:
                assert r.status == 200
                details = await r.json()
            assert details["status"] == "up" and details["ami"] == "absent"
            assert details["agents_connected"] == ["1001"] and details["sockets"] == 1
            token = await csrf_of(sup, node)
            assert token  # the supervisor's page renders under the same headers
