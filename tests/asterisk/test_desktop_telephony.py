"""Desktop telephony on the real Asterisk: blind transfer (Redirect) moves the caller to another
queue and pops the next agent; supervisor listen (ChanSpy through ``tongdai-spy``) attaches to the
agent's channel; click-to-call rings the agent and dials the customer's normalised number."""

from __future__ import annotations

import re
from typing import Any

import aiohttp
import pytest

from core.ami import AmiClient
from core.app import Bridge
from tests.asterisk.conftest import eventually, place_call
from tests.support.desktop import login, next_frame

pytestmark = pytest.mark.asterisk


def client() -> aiohttp.ClientSession:
    return aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True))


async def csrf_of(http: aiohttp.ClientSession, base: str) -> str:
    async with http.get(f"{base}/") as r:
        m = re.search(r'data-csrf="([^"]+)"', await r.text())
    assert m
    return m.group(1)


async def channels(ami: AmiClient) -> list[dict[str, str]]:
    resp = await ami.action("CoreShowChannels", multi=True, timeout=10)
    return [dict(e.headers) for e in resp.events if e.name == "CoreShowChannel"]


async def test_blind_transfer_to_another_queue_pops_the_next_agent(bridge: Bridge, ami: AmiClient) -> None:
    base = f"http://127.0.0.1:{bridge.web_port}"
    async with client() as a, client() as b:
        await login(a, base, "1001", "demo-1001")
        await login(b, base, "1002", "demo-1002")
        csrf = await csrf_of(a, base)
        async with (
            a.ws_connect(f"{base}/ws", origin=base) as a_ws,
            b.ws_connect(f"{base}/ws", origin=base) as b_ws,
        ):
            await next_frame(a_ws, "hello")
            await next_frame(b_ws, "hello")
            await place_call(ami, "0912345678", dtmf="1", stay=40)  # mobile → 1001
            pop = await next_frame(a_ws, "pop")
            await next_frame(a_ws, "answered")
            call_id = pop["call_id"]
            async with b.post(
                f"{base}/api/calls/{call_id}/transfer",
                json={"target": "internet"},
                headers={"X-CSRF-Token": "x"},
            ) as r:
                assert r.status == 403  # B has no session token of A's, and it is not B's call anyway
            async with a.post(
                f"{base}/api/calls/{call_id}/transfer",
                json={"target": "internet", "mode": "blind"},
                headers={"X-CSRF-Token": csrf},
            ) as r:
                body: dict[str, Any] = await r.json()
                assert r.status == 200, body
            assert body["mode"] == "blind" and ";2" in body["channel"]
            # The caller is now offered to 1002 in the internet queue: same call, same customer.
            pop2 = await next_frame(b_ws, "pop")
            assert pop2["call_id"] == call_id and pop2["queue"] == "internet"
            assert pop2["customer"]["customer_id"] == "KH0000000001"
            answered = await next_frame(b_ws, "answered")
            assert answered["call_id"] == call_id
    live = await channels(ami)
    mine = [c for c in live if c.get("Linkedid") == call_id]
    assert any(c["Channel"].startswith("Local/1002@tongdai-agents") for c in mine), mine
    assert not any(c["Channel"].startswith("Local/1001@tongdai-agents") for c in mine), mine
    for c in mine:  # leave the sandbox clean for the next test
        await ami.action("Hangup", {"Channel": c["Channel"]}, check=False)


async def test_supervisor_listens_to_an_agents_call(bridge: Bridge, ami: AmiClient) -> None:
    base = f"http://127.0.0.1:{bridge.web_port}"
    async with client() as agent, client() as sup:
        await login(agent, base, "1001", "demo-1001")
        await login(sup, base, "9000", "demo-9000")
        async with agent.ws_connect(f"{base}/ws", origin=base) as ws:
            await next_frame(ws, "hello")
            await place_call(ami, "0912345678", dtmf="1", stay=40)
            await next_frame(ws, "answered")
            # An agent may not spy.
            async with agent.post(
                f"{base}/api/spy",
                json={"agent_id": "1002"},
                headers={"X-CSRF-Token": await csrf_of(agent, base)},
            ) as r:
                assert r.status == 403
            async with sup.post(
                f"{base}/api/spy",
                json={"agent_id": "1001", "mode": "listen"},
                headers={"X-CSRF-Token": await csrf_of(sup, base)},
            ) as r:
                assert r.status == 200, await r.text()

            async def spying() -> list[dict[str, str]]:
                return [
                    c
                    for c in await channels(ami)
                    if c.get("Application") == "ChanSpy"
                    and c["Channel"].startswith("Local/9000@tongdai-agents")
                ]

            spy = (await eventually(spying, timeout=15))[0]
            assert spy["ApplicationData"].startswith("Local/1001@tongdai-agents,q")
    for c in await channels(ami):
        await ami.action("Hangup", {"Channel": c["Channel"]}, check=False)


async def test_click_to_call_rings_the_agent_then_dials_the_customer(bridge: Bridge, ami: AmiClient) -> None:
    base = f"http://127.0.0.1:{bridge.web_port}"
    async with client() as http:
        await login(http, base, "1001", "demo-1001")
        csrf = await csrf_of(http, base)
        async with http.post(
            f"{base}/api/calls/dial",
            json={"number": "0912\r\nAction: Command"},
            headers={"X-CSRF-Token": csrf},
        ) as r:
            assert r.status == 400
        async with http.post(
            f"{base}/api/calls/dial", json={"number": "+84 912 345 678"}, headers={"X-CSRF-Token": csrf}
        ) as r:
            body = await r.json()
            assert r.status == 200, body
        assert body["dialling"] == "0912345678"

    async def customer_leg() -> list[dict[str, str]]:
        return [
            c
            for c in await channels(ami)
            if c.get("Context") == "tongdai-simcustomer"
            and c.get("Exten") == "0912345678"
            and c.get("ChannelStateDesc") == "Up"
        ]

    leg = (await eventually(customer_leg, timeout=15))[0]
    same_call = [c for c in await channels(ami) if c.get("Linkedid") == leg.get("Linkedid")]
    assert any(c["Channel"].startswith("Local/1001@tongdai-agents") for c in same_call), same_call
    for c in await channels(ami):
        await ami.action("Hangup", {"Channel": c["Channel"]}, check=False)
