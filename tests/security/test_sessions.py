"""Server-held sessions against a real node, with each store (the database; Redis): a copied cookie
is worthless after logout, a forged one never works, the role and the agent come from the current
config on every request (HTTP and the open websocket), idle and absolute expiry (the clock moved,
not slept), and "log out everywhere" for oneself or, by a supervisor, for an agent."""

from __future__ import annotations

import asyncio
import json
import re
import secrets
from collections.abc import Callable
from typing import Any

import aiohttp
import pytest
from sqlalchemy import func, select

from agent_desktop.models import DesktopSession
from agent_desktop.sessions import DbSessionStore, RedisSessionStore
from agent_desktop.ws import CLOSE_ROLE_CHANGED, CLOSE_SESSION_ENDED
from core.models import AuditEntry
from tests.security.conftest import base, browser, csrf_of, session_cookie, with_settings
from tests.support.desktop import login, next_frame
from tongdai.app import Bridge

STORES = ["database", "redis"]


@pytest.fixture(params=STORES)
async def node(request: pytest.FixtureRequest, start_node: Callable[..., Any]) -> Bridge:
    n: Bridge = await start_node(redis=request.param == "redis")
    assert n.desk is not None
    kind = RedisSessionStore if request.param == "redis" else DbSessionStore
    assert isinstance(n.desk.web_sessions.store, kind)
    return n


def with_cookie(value: str) -> aiohttp.ClientSession:
    http = browser()
    http.cookie_jar.update_cookies({"tongdai_session": value})
    return http


async def status_of(http: aiohttp.ClientSession, url: str) -> int:
    async with http.get(url, allow_redirects=False) as r:
        return r.status


async def test_the_cookie_is_an_opaque_id_and_a_copy_is_refused_after_logout(node: Bridge) -> None:
    url = base(node)
    async with browser() as http:
        await login(http, url, "1001", "demo-1001")
        stolen = session_cookie(http)
        # Opaque: a random id (no agent, role or CSRF token inside), HttpOnly and SameSite=Strict.
        assert "1001" not in stolen and len(stolen) >= 40
        async with http.get(f"{url}/api/calls/today") as r:
            assert r.status == 200
        async with with_cookie(stolen) as thief:
            assert await status_of(thief, f"{url}/api/calls/today") == 200  # a copy works until...
        token = await csrf_of(http, node)
        async with http.post(f"{url}/logout", data={"csrf": token}, allow_redirects=False) as r:
            assert r.status == 302 and r.headers["Location"] == "/login"
    async with with_cookie(stolen) as thief:
        async with thief.get(f"{url}/api/calls/today") as r:
            assert r.status == 401 and (await r.json())["error"]["code"] == "auth.login_required"
        assert await status_of(thief, f"{url}/") == 302  # the page sends it to the login
        with pytest.raises(aiohttp.WSServerHandshakeError) as err:
            await thief.ws_connect(f"{url}/ws", origin=url)
        assert err.value.status == 401


async def test_login_sets_a_hardened_cookie(node: Bridge) -> None:
    url = base(node)
    async with browser() as http:
        async with http.get(f"{url}/login") as r:
            html = await r.text()
        m = re.search(r'name="csrf" value="([^"]+)"', html)
        assert m
        form = {"csrf": m.group(1), "agent": "1001", "password": "demo-1001"}
        async with http.post(f"{url}/login", data=form, allow_redirects=False) as r:
            cookie = next(v for k, v in r.headers.items() if k == "Set-Cookie" and "tongdai_session" in v)
    lowered = cookie.lower()
    assert "httponly" in lowered and "samesite=strict" in lowered and "path=/" in lowered


async def test_a_forged_cookie_is_refused(node: Bridge) -> None:
    url = base(node)
    forged = [
        secrets.token_urlsafe(32),  # well-formed, never issued
        "",
        "1001",
        "x" * 4000,
        "gAAAAABl-an-old-encrypted-cookie-with-agent-1001-and-role-admin==",
    ]
    for value in forged:
        async with with_cookie(value) as http:
            assert await status_of(http, f"{url}/api/calls/today") == 401, value
            assert await status_of(http, f"{url}/wallboard") == 302, value


async def test_a_demoted_supervisor_loses_supervisor_access_on_the_next_request(node: Bridge) -> None:
    url = base(node)
    async with browser() as http:
        await login(http, url, "9000", "demo-9000")
        async with http.get(f"{url}/api/queues/stats") as r:
            assert r.status == 200
        async with http.ws_connect(f"{url}/ws", origin=url) as ws:
            assert (await next_frame(ws, "hello"))["role"] == "supervisor"
            await ws.send_str(json.dumps({"id": 1, "type": "queues.stats"}))
            assert (await next_frame(ws, "result"))["success"]

            agents = [
                a.model_copy(update={"role": "agent"}) if a.id == "9000" else a for a in node.settings.agents
            ]
            with_settings(node, agents=agents)

            async with http.get(f"{url}/api/queues/stats") as r:
                assert r.status == 403 and (await r.json())["error"]["code"] == "access.supervisors_only"
            assert await status_of(http, f"{url}/wallboard") == 403
            # The open socket: its next command sees the new role and the page is told to reload.
            await ws.send_str(json.dumps({"id": 2, "type": "queues.stats"}))
            msg = await ws.receive(timeout=5)
            while msg.type == aiohttp.WSMsgType.TEXT:  # a wallboard frame may come first
                msg = await ws.receive(timeout=5)
            assert msg.type == aiohttp.WSMsgType.CLOSE and msg.data == CLOSE_ROLE_CHANGED
        async with http.ws_connect(f"{url}/ws", origin=url) as ws:
            assert (await next_frame(ws, "hello"))["role"] == "agent"


async def test_a_deleted_agent_is_refused_and_their_sessions_dropped(node: Bridge) -> None:
    url = base(node)
    async with browser() as http:
        await login(http, url, "1002", "demo-1002")
        assert await status_of(http, f"{url}/api/calls/today") == 200
        with_settings(node, agents=[a for a in node.settings.agents if a.id != "1002"])
        assert await status_of(http, f"{url}/api/calls/today") == 401
        # The record is gone too: re-adding the id does not bring the old session back.
        with_settings(node, agents=node.settings.agents)
        assert await status_of(http, f"{url}/api/calls/today") == 401
        async with browser() as fresh:
            await login(fresh, url, "1002", "demo-1002")
            assert await status_of(fresh, f"{url}/api/calls/today") == 200


async def test_idle_timeout_and_absolute_lifetime(node: Bridge) -> None:
    assert node.desk is not None
    sessions = node.desk.web_sessions
    now = [sessions.clock()]
    sessions.clock = lambda: now[0]
    url = base(node)
    idle, lifetime = (
        node.settings.web.session_idle_minutes * 60,
        node.settings.web.session_lifetime_hours * 3600,
    )
    assert (idle, lifetime) == (30 * 60, 12 * 3600)  # the defaults
    async with browser() as http:
        await login(http, url, "1001", "demo-1001")
        now[0] += idle - 60
        assert await status_of(http, f"{url}/api/calls/today") == 200  # activity: the idle clock restarts
        now[0] += idle - 60
        assert await status_of(http, f"{url}/api/calls/today") == 200
        now[0] += idle + 1
        assert await status_of(http, f"{url}/api/calls/today") == 401  # idle too long
    async with browser() as http:
        await login(http, url, "1001", "demo-1001")
        started = now[0]
        while now[0] - started < lifetime - idle:  # busy all day, never idle...
            now[0] += idle / 2
            assert await status_of(http, f"{url}/api/calls/today") == 200
        now[0] = started + lifetime + 1
        assert await status_of(http, f"{url}/api/calls/today") == 401  # ...still over at 12 h


async def test_log_out_everywhere_revokes_every_session_and_closes_sockets(node: Bridge) -> None:
    url = base(node)
    async with browser() as laptop, browser() as tablet, browser() as other:
        for http in (laptop, tablet):
            await login(http, url, "1001", "demo-1001")
        await login(other, url, "1002", "demo-1002")
        async with tablet.ws_connect(f"{url}/ws", origin=url) as ws:
            await next_frame(ws, "hello")
            token = await csrf_of(laptop, node)
            async with laptop.post(
                f"{url}/api/sessions/revoke", json={}, headers={"X-CSRF-Token": token}
            ) as r:
                assert r.status == 200 and await r.json() == {"agent_id": "1001", "revoked": 2}
            msg = await ws.receive(timeout=5)
            assert msg.type == aiohttp.WSMsgType.CLOSE and msg.data == CLOSE_SESSION_ENDED
        for http in (laptop, tablet):
            assert await status_of(http, f"{url}/api/calls/today") == 401
        assert await status_of(other, f"{url}/api/calls/today") == 200  # another agent: untouched
        # An agent may not log another agent out; a supervisor may, over the websocket command too.
        token = await csrf_of(other, node)
        body = {"agent_id": "1003"}
        async with other.post(f"{url}/api/sessions/revoke", json=body, headers={"X-CSRF-Token": token}) as r:
            assert r.status == 403
    async with browser() as agent, browser() as sup:
        await login(agent, url, "1003", "demo-1003")
        await login(sup, url, "9000", "demo-9000")
        async with sup.ws_connect(f"{url}/ws", origin=url) as ws:
            await next_frame(ws, "hello")
            await ws.send_str(json.dumps({"id": 9, "type": "sessions.revoke", "agent_id": "1003"}))
            reply = await next_frame(ws, "result")
            assert reply["success"] and reply["result"] == {"agent_id": "1003", "revoked": 1}
        assert await status_of(agent, f"{url}/api/calls/today") == 401
        assert await status_of(sup, f"{url}/api/calls/today") == 200
    assert node.sessions is not None
    async with node.sessions() as s:
        audited = [
            (e.actor, e.subject_id)
            for e in await s.scalars(select(AuditEntry).where(AuditEntry.action == "auth.revoke_all"))
        ]
    assert audited == [("1001", "1001"), ("9000", "1003")]


async def test_the_logout_everywhere_form(node: Bridge) -> None:
    url = base(node)
    async with browser() as one, browser() as two:
        await login(one, url, "1001", "demo-1001")
        await login(two, url, "1001", "demo-1001")
        async with one.get(f"{url}/") as r:
            assert 'action="/logout/all"' in await r.text()
        token = await csrf_of(one, node)
        async with one.post(f"{url}/logout/all", data={"csrf": "forged"}, allow_redirects=False) as r:
            assert r.status == 403
        async with one.post(f"{url}/logout/all", data={"csrf": token}, allow_redirects=False) as r:
            assert r.status == 302 and r.headers["Location"] == "/login"
        assert await status_of(two, f"{url}/api/calls/today") == 401


async def test_the_database_store_holds_no_usable_cookie(start_node: Callable[..., Any]) -> None:
    node: Bridge = await start_node()
    url = base(node)
    async with browser() as http:
        await login(http, url, "1001", "demo-1001")
        cookie = session_cookie(http)
    assert node.sessions is not None
    async with node.sessions() as s:
        rows = list(await s.scalars(select(DesktopSession)))
        assert await s.scalar(select(func.count()).select_from(DesktopSession)) == 1
    assert rows[0].agent_id == "1001" and rows[0].key != cookie and cookie not in rows[0].key
    # The stored key, presented as a cookie, is not a session.
    async with with_cookie(rows[0].key) as http:
        assert await status_of(http, f"{url}/api/calls/today") == 401


async def test_the_cli_logs_an_agent_out_everywhere(
    node: Bridge, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from tests.support.settings import REPO
    from tongdai.cli import main

    s = node.settings
    monkeypatch.setenv("TONGDAI__DATABASE__URL", s.database.url)
    monkeypatch.setenv("TONGDAI__REDIS__URL", s.redis.url or "")
    monkeypatch.setenv("TONGDAI__REDIS__CHANNEL", s.redis.channel)
    url = base(node)
    async with browser() as one, browser() as two:
        await login(one, url, "1001", "demo-1001")
        await login(two, url, "1002", "demo-1002")
        code = await asyncio.to_thread(main, ["-c", str(REPO / "config.yaml"), "desktop", "logout", "1001"])
        assert code == 0 and "revoked 1 sessions of agent 1001" in capsys.readouterr().out
        assert await status_of(one, f"{url}/api/calls/today") == 401
        assert await status_of(two, f"{url}/api/calls/today") == 200
    assert node.sessions is not None
    async with node.sessions() as db:
        row = await db.scalar(select(AuditEntry).where(AuditEntry.action == "auth.revoke_all"))
    assert row is not None and (row.actor, row.subject_id) == ("cli", "1001")
