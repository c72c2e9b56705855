"""Desktop security on a real bridge (real aiohttp server on 127.0.0.1, real SQLite, no Asterisk):
CSRF on every state-changing request, the websocket's Origin check, one agent never sees another's
pop or call, integration tokens are read-only, and every profile view and unmask is audited."""

from __future__ import annotations

import json
import re
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from sqlalchemy import select

from core.ami import AmiEvent
from core.models import AuditEntry
from crm_bridge.demo_data import load_demo
from tests.support.desktop import login, next_frame
from tests.support.settings import free_port, make_settings
from tongdai.app import Bridge

TOKEN = "integration-token-0123456789abcdef"


@pytest.fixture
async def desk(tmp_path: Path) -> AsyncIterator[Bridge]:
    """A bridge without AMI: the desktop, the tracker, the bus and the DB are all real."""
    port = free_port()
    settings = make_settings(
        node={"name": "desk-test", "data_dir": str(tmp_path / "var")},
        database={"url": f"sqlite+aiosqlite:///{tmp_path / 'desk.db'}"},
        web={"port": port, "allowed_origins": [f"http://127.0.0.1:{port}"]},
        redis={"url": None},
        desktop={
            "api_tokens": [
                {"name": "crm", "token": TOKEN, "scopes": ["customers:read", "calls:read", "stats:read"]}
            ],
            "wallboard_coalesce": 0.05,
        },
    )
    b = Bridge(settings)
    await b.start(connect_ami=False)
    assert b.engine is not None
    await load_demo(b.engine, 0)
    yield b
    await b.stop()


def base(b: Bridge) -> str:
    return f"http://127.0.0.1:{b.web_port}"


def client() -> aiohttp.ClientSession:
    # unsafe=True: aiohttp's client otherwise ignores cookies set by an IP-address host.
    return aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True))


async def csrf_of(http: aiohttp.ClientSession, b: Bridge) -> str:
    async with http.get(f"{base(b)}/") as r:
        m = re.search(r'data-csrf="([^"]+)"', await r.text())
    assert m
    return m.group(1)


async def feed_call(
    b: Bridge,
    call_id: str,
    agent: str,
    *,
    caller: str = "0912345678",
    queue: str = "mobile",
    tier: str = "vip",
    customer_id: str = "KH0000000001",
    answer: bool = True,
    hangup: bool = True,
) -> None:
    """Synthetic AMI events of one queued call through the real CallTracker."""
    t = b.tracker
    uid = f"{call_id}.caller"
    await t.handle(
        AmiEvent(
            "Newchannel",
            {
                "Linkedid": call_id,
                "Uniqueid": uid,
                "Context": "tongdai-hotline",
                "Exten": "18001090",
                "CallerIDNum": caller,
            },
        )
    )
    t.annotate(call_id, customer_id=customer_id, acd_tier=tier, queue=queue)
    await t.handle(AmiEvent("QueueCallerJoin", {"Linkedid": call_id, "Queue": queue, "Position": "1"}))
    iface = f"Local/{agent}@tongdai-agents/n"
    await t.handle(
        AmiEvent(
            "AgentCalled", {"Linkedid": call_id, "Queue": queue, "MemberName": agent, "Interface": iface}
        )
    )
    if answer:
        await t.handle(
            AmiEvent(
                "AgentConnect",
                {
                    "Linkedid": call_id,
                    "Queue": queue,
                    "MemberName": agent,
                    "Interface": iface,
                    "HoldTime": "1",
                },
            )
        )
    if hangup:
        await t.handle(AmiEvent("Hangup", {"Linkedid": call_id, "Uniqueid": uid}))


async def test_cross_site_posts_without_csrf_are_refused(desk: Bridge) -> None:
    async with client() as http:
        await login(http, base(desk), "1001", "demo-1001")
        good = await csrf_of(http, desk)
        for data in ({"state": "ready"}, {"state": "ready", "csrf": "forged"}):
            async with http.post(f"{base(desk)}/agent/state", data=data, allow_redirects=False) as r:
                assert r.status == 403, data
        async with http.post(f"{base(desk)}/logout", data={"csrf": "x"}, allow_redirects=False) as r:
            assert r.status == 403
        body = {"call_id": "x", "code": "resolved", "note": "n"}
        async with http.post(f"{base(desk)}/api/dispositions", json=body) as r:
            assert r.status == 403
        async with http.post(
            f"{base(desk)}/api/dispositions", json=body, headers={"X-CSRF-Token": "nope"}
        ) as r:
            assert r.status == 403
        # With the right token the request gets through to the rules (no such call: 404).
        async with http.post(
            f"{base(desk)}/api/dispositions", json=body, headers={"X-CSRF-Token": good}
        ) as r:
            assert r.status == 404, await r.text()
        # The one-click state form with its token reaches the state service (or says it is missing).
        async with http.post(
            f"{base(desk)}/agent/state", data={"state": "ready", "csrf": good}, allow_redirects=False
        ) as r:
            assert r.status == 303
            if getattr(desk, "agents", None) is None:
                assert "desktop.unavailable" in r.headers["Location"]
    # A login form posted from another site has no token either.
    async with (
        client() as anon,
        anon.post(f"{base(desk)}/login", data={"agent": "1001", "password": "demo-1001"}) as r,
    ):
        assert r.status == 403


async def test_websocket_from_foreign_origin_is_refused(desk: Bridge) -> None:
    async with client() as http:
        await login(http, base(desk), "1001", "demo-1001")
        with pytest.raises(aiohttp.WSServerHandshakeError) as err:
            await http.ws_connect(f"{base(desk)}/ws", origin="https://evil.example")
        assert err.value.status == 403
        with pytest.raises(aiohttp.WSServerHandshakeError):
            await http.ws_connect(f"{base(desk)}/ws")  # no Origin at all
        async with http.ws_connect(f"{base(desk)}/ws", origin=base(desk)) as ws:
            assert (await next_frame(ws, "hello"))["agent_id"] == "1001"


async def test_agent_never_gets_another_agents_pop_or_call(desk: Bridge) -> None:
    async with client() as a_http, client() as b_http:
        await login(a_http, base(desk), "1001", "demo-1001")
        await login(b_http, base(desk), "1002", "demo-1002")
        async with (
            a_http.ws_connect(f"{base(desk)}/ws", origin=base(desk)) as a_ws,
            b_http.ws_connect(f"{base(desk)}/ws", origin=base(desk)) as b_ws,
        ):
            await next_frame(a_ws, "hello")
            await next_frame(b_ws, "hello")
            await feed_call(desk, "call-b-1", "1002", answer=False, hangup=False)
            pop = await next_frame(b_ws, "pop")
            assert pop["customer"]["customer_id"] == "KH0000000001"
            # A's next frame is the reply to its own command: nothing about B's call came before it.
            await a_ws.send_str(json.dumps({"id": 1, "type": "call.get", "call_id": "call-b-1"}))
            reply = json.loads((await a_ws.receive(timeout=5)).data)
            assert reply == {
                "id": 1,
                "type": "result",
                "success": False,
                "error": {"code": "desktop.forbidden", "message": "not your call"},
            }
            await b_ws.send_str(json.dumps({"id": 7, "type": "call.get", "call_id": "call-b-1"}))
            mine = await next_frame(b_ws, "result")
            assert mine["id"] == 7 and mine["success"] and mine["result"]["live"] is True
        async with a_http.get(f"{base(desk)}/api/calls/call-b-1") as r:
            assert r.status == 403
        # Once ended and stored, B's call is still not A's.
        t = desk.tracker
        await t.handle(AmiEvent("Hangup", {"Linkedid": "call-b-1", "Uniqueid": "call-b-1.caller"}))
        await desk.bus.drain()
        async with a_http.get(f"{base(desk)}/api/calls/call-b-1") as r:
            assert r.status == 403
        async with a_http.get(f"{base(desk)}/api/calls/today") as r:
            assert r.status == 200
            assert (await r.json())["calls"] == []
    # The pop is a view of the customer's profile: audited under the agent who received it, only.
    assert desk.hub is not None and desk.sessions is not None
    await desk.hub.close()  # waits for the audit writes in flight
    async with desk.sessions() as s:
        audited = await s.scalars(select(AuditEntry).where(AuditEntry.action == "profile.pop"))
        pops = [(e.actor, e.subject_id) for e in audited]
    assert pops == [("1002", "KH0000000001")]


async def test_profile_views_and_unmask_are_audited_and_tokens_read_only(desk: Bridge) -> None:
    async with client() as http:
        await login(http, base(desk), "1001", "demo-1001")
        # The customer on the agent's call: opened without a reason (agent_desktop/access.py).
        await feed_call(desk, "call-view-1", "1001", hangup=False)
        async with http.get(f"{base(desk)}/api/customers/KH0000000001") as r:
            assert r.status == 200
            profile = await r.json()
        assert profile["name"] == "Nguyễn Văn An"
        assert profile["id_number_masked"] and "*" in profile["id_number_masked"]
        csrf = await csrf_of(http, desk)
        async with http.post(
            f"{base(desk)}/api/customers/KH0000000001/unmask",
            json={"reason": "x"},
            headers={"X-CSRF-Token": csrf},
        ) as r:
            assert r.status == 400  # a reason is required
        async with http.post(
            f"{base(desk)}/api/customers/KH0000000001/unmask",
            json={"reason": "khách yêu cầu xác minh chủ thuê bao"},
            headers={"X-CSRF-Token": csrf},
        ) as r:
            assert r.status == 200
            full = (await r.json())["id_number"]
        assert full and "*" not in full and full[-3:] == profile["id_number_masked"][-3:]
        async with http.get(f"{base(desk)}/api/customers/search", params={"q": "nguyen van an"}) as r:
            assert any(c["customer_id"] == "KH0000000001" for c in (await r.json())["results"])

    bearer = {"Authorization": f"Bearer {TOKEN}"}
    async with aiohttp.ClientSession() as api:
        async with api.get(f"{base(desk)}/api/customers/KH0000000002", headers=bearer) as r:
            assert r.status == 200
        async with api.get(
            f"{base(desk)}/api/customers/KH0000000002", headers={"Authorization": "Bearer wrong"}
        ) as r:
            assert r.status == 401
        async with api.post(f"{base(desk)}/api/agent/state", json={"state": "ready"}, headers=bearer) as r:
            assert r.status == 403
        async with api.get(f"{base(desk)}/api/openapi.json") as r:
            spec = await r.json()
        assert spec["openapi"].startswith("3.") and "/api/customers/{customer_id}" in spec["paths"]

    assert desk.sessions is not None
    async with desk.sessions() as s:
        rows = list(await s.scalars(select(AuditEntry).order_by(AuditEntry.id)))
    seen: list[tuple[str, str, str]] = [(e.actor, e.action, e.subject_id) for e in rows]
    assert ("1001", "profile.view", "KH0000000001") in seen
    assert ("api:crm", "profile.view", "KH0000000002") in seen
    assert ("1001", "profile.view", "on call") in [(e.actor, e.action, e.detail) for e in rows]
    unmask = [e for e in rows if e.action == "profile.unmask"]
    assert len(unmask) == 1 and unmask[0].detail == "khách yêu cầu xác minh chủ thuê bao"


async def test_disposition_and_note_saved_to_history_linked_to_call(desk: Bridge) -> None:
    async with client() as http:
        await login(http, base(desk), "1001", "demo-1001")
        async with http.ws_connect(f"{base(desk)}/ws", origin=base(desk)) as ws:
            await next_frame(ws, "hello")
            await feed_call(desk, "call-a-1", "1001", hangup=False)
            await next_frame(ws, "answered")
            cmd: dict[str, Any] = {
                "id": 3,
                "type": "disposition.save",
                "call_id": "call-a-1",
                "code": "resolved",
                "note": "Đã hướng dẫn đổi gói cước",
            }
            await ws.send_str(json.dumps(cmd))
            res = await next_frame(ws, "result")
            assert res["success"], res
            bad = {**cmd, "id": 4, "code": "not-a-code"}
            await ws.send_str(json.dumps(bad))
            res_bad = await next_frame(ws, "result")
            assert not res_bad["success"] and res_bad["error"]["code"] == "desktop.bad_request"
    assert desk.directory is not None
    history = await desk.directory.recent_interactions("KH0000000001")
    saved = [i for i in history if i.call_id == "call-a-1"]
    assert len(saved) == 1
    assert saved[0].disposition == "resolved" and saved[0].summary == "Đã hướng dẫn đổi gói cước"
    assert saved[0].agent_id == "1001" and saved[0].kind == "call"
    # Its stored record shows up in the agent's calls of today, once the call ends.
    await desk.tracker.handle(AmiEvent("Hangup", {"Linkedid": "call-a-1", "Uniqueid": "call-a-1.caller"}))
    await desk.bus.drain()
    async with client() as http:
        await login(http, base(desk), "1001", "demo-1001")
        async with http.get(f"{base(desk)}/api/calls/today") as r:
            calls = (await r.json())["calls"]
    assert [c["call_id"] for c in calls] == ["call-a-1"]
