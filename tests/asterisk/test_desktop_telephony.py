"""Desktop telephony on the real Asterisk: blind transfer (Redirect) moves the caller to another
queue and pops the next agent; attended transfer (Atxfer) consults the target agent, then hands the
customer over when the agent hangs up; supervisor listen / whisper / barge (ChanSpy through
``tongdai-spy``) attach to the agent's channel with the right options and are audited;
click-to-call rings the agent and dials the customer's normalised number."""

from __future__ import annotations

import re
from typing import Any

import aiohttp
import pytest
from sqlalchemy import select

from core.ami import AmiClient
from core.models import AuditEntry
from tests.asterisk.conftest import eventually, place_call
from tests.support.desktop import login, next_frame
from tongdai.app import Bridge

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


async def test_attended_transfer_consults_the_target_agent_then_hands_over(
    bridge: Bridge, ami: AmiClient
) -> None:
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
            call_id = (await next_frame(a_ws, "pop"))["call_id"]
            await next_frame(a_ws, "answered")
            async with a.post(
                f"{base}/api/calls/{call_id}/transfer",
                json={"target": "tv", "mode": "attended"},
                headers={"X-CSRF-Token": csrf},
            ) as r:
                assert r.status == 400  # consultation is with a person: an agent extension
            async with a.post(
                f"{base}/api/calls/{call_id}/transfer",
                json={"target": "1002", "mode": "attended"},
                headers={"X-CSRF-Token": csrf},
            ) as r:
                body: dict[str, Any] = await r.json()
                assert r.status == 200, body
            assert body["mode"] == "attended" and body["channel"].startswith("Local/1001@tongdai-agents")
            # 1002's desktop pops the same customer as the consultation rings: nobody asks again.
            pop = await next_frame(b_ws, "pop")
            assert pop["call_id"] == call_id and pop["transferred_by"] == "1001"
            assert pop["customer"]["customer_id"] == "KH0000000001"

    # Consultation: 1001's leg (Atxfer) dials 1002 while the customer holds.
    async def consulting() -> list[dict[str, str]]:
        return [
            c
            for c in await channels(ami)
            if c["Channel"].startswith("Local/1002@tongdai-agents") and c.get("ChannelStateDesc") == "Up"
        ]

    await eventually(consulting, timeout=15)
    # The agent hangs up (atxferdropcall=no): the transfer completes, the customer now talks to 1002.
    for c in await channels(ami):
        if c["Channel"] == body["channel"]:
            await ami.action("Hangup", {"Channel": c["Channel"]}, check=False)

    async def handed_over() -> bool:
        live = await channels(ami)
        caller = [c for c in live if c.get("Linkedid") == call_id and c.get("Application") == "Queue"]
        bridged = {c.get("BridgeId") for c in caller} - {None, ""}
        others = [c for c in live if c.get("BridgeId") in bridged and c not in caller]
        # 1002's side of the bridge is its agent leg, or the transfer's Local channel leading to it.
        return bool(caller) and any(c["Channel"].startswith("Local/1002@") for c in others)

    await eventually(handed_over, timeout=15)

    # 1001's leg is a Local pair: the half we hung up goes at once, its partner a moment later (its
    # teardown races the hand-over's bridge change), so wait for both halves, never assume one step.
    async def agent_left() -> bool:
        return not any(c["Channel"].startswith("Local/1001@tongdai-agents") for c in await channels(ami))

    await eventually(agent_left, timeout=15)
    for c in await channels(ami):
        await ami.action("Hangup", {"Channel": c["Channel"]}, check=False)


async def test_supervisor_listens_whispers_and_barges(bridge: Bridge, ami: AmiClient) -> None:
    base = f"http://127.0.0.1:{bridge.web_port}"
    async with client() as agent, client() as sup:
        await login(agent, base, "1001", "demo-1001")
        await login(sup, base, "9000", "demo-9000")
        async with agent.ws_connect(f"{base}/ws", origin=base) as ws:
            await next_frame(ws, "hello")
            await place_call(ami, "0912345678", dtmf="1", stay=60)
            await next_frame(ws, "answered")
            # An agent may not spy.
            async with agent.post(
                f"{base}/api/spy",
                json={"agent_id": "1002"},
                headers={"X-CSRF-Token": await csrf_of(agent, base)},
            ) as r:
                assert r.status == 403
            sup_csrf = await csrf_of(sup, base)

            async def spying() -> list[dict[str, str]]:
                return [
                    c
                    for c in await channels(ami)
                    if c.get("Application") == "ChanSpy"
                    and c["Channel"].startswith("Local/9000@tongdai-agents")
                ]

            # ChanSpy options: q (no beep) alone listens, w whispers to the agent, B talks to both.
            for mode, options in (("listen", "q"), ("whisper", "qw"), ("barge", "qB")):
                async with sup.post(
                    f"{base}/api/spy",
                    json={"agent_id": "1001", "mode": mode},
                    headers={"X-CSRF-Token": sup_csrf},
                ) as r:
                    assert r.status == 200, await r.text()
                spy = (await eventually(spying, timeout=15))[0]
                assert spy["ApplicationData"] == f"Local/1001@tongdai-agents,{options}", spy
                await ami.action("Hangup", {"Channel": spy["Channel"]}, check=False)
                await eventually(lambda: _none(spying), timeout=10)
    assert bridge.sessions is not None
    async with bridge.sessions() as s:
        audited = list(await s.scalars(select(AuditEntry.action).where(AuditEntry.actor == "9000")))
    assert audited == ["call.listen", "call.whisper", "call.barge"]
    for c in await channels(ami):
        await ami.action("Hangup", {"Channel": c["Channel"]}, check=False)


async def _none(fn: Any) -> bool:
    return not await fn()


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
