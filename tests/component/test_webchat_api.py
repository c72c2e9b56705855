"""Web chat on a real bridge (aiohttp on 127.0.0.1, real SQLite, the demo customers; no Asterisk, so the
agents' states come from a fixed list handed to the chat service in place of app_queue's): the customer's
socket (origin, portal token, phone), routing by tier, messages both ways with delivery and read states,
hostile text kept as text, size limit, transfer, end with a disposition into the transcript and the
customer's history, audited transcript access; and the callback form (abuse guard, limits, window, tier)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from sqlalchemy import select

from core.models import AuditEntry
from core.vietnam import VN_TZ
from crm_bridge.demo_data import load_demo
from tests.asterisk.conftest import eventually
from tests.support.api_client import Client, logged_in
from tests.support.desktop import next_frame
from tests.support.settings import free_port, make_settings
from tongdai.app import Bridge
from webchat import portal_token
from webchat.abuse import solve
from webchat.service import AgentFact

SITE = "https://shop.example.vn"
SECRET = "portal-secret-for-tests-0123456789"
GOLD, STANDARD = "KH0000000002", "KH0000000003"  # demo customers: sme (gold), standard
ALWAYS = {
    "weekly": {d: ["00:00-24:00"] for d in ("mon", "tue", "wed", "thu", "fri", "sat", "sun")},
    "country": None,
}


@pytest.fixture
async def desk(tmp_path: Path) -> AsyncIterator[Bridge]:
    port = free_port()
    settings = make_settings(
        node={"name": "chat-test", "data_dir": str(tmp_path / "var")},
        database={"url": f"sqlite+aiosqlite:///{tmp_path / 'chat.db'}"},
        web={"port": port, "allowed_origins": [f"http://127.0.0.1:{port}"]},
        redis={"url": None},
        callbacks={
            "dialler": {"hours": {**ALWAYS, "weekly": {d: ["08:00-20:00"] for d in ALWAYS["weekly"]}}}
        },
        webchat={
            "enabled": True,
            "allowed_origins": [SITE],
            "portal_secret": SECRET,
            "max_chats_per_agent": 1,
            "resume_seconds": 1.0,
            "queues": [
                {"name": "mobile", "label_vi": "Di động", "offer_callback_after": 1.0},
                {"name": "internet"},
            ],
            "callback": {
                "pow_bits": 8,
                "min_fill_seconds": 0,
                "per_number_per_day": 2,
                "per_ip_per_hour": 50,
            },
        },
    )
    b = Bridge(settings)
    await b.start(connect_ami=False)
    assert b.engine is not None and b.webchat is not None
    await load_demo(b.engine, 0)
    b.webchat.service.tick_seconds = 0.05
    yield b
    await b.stop()


class Agents:
    """Which agents app_queue would report, changed by the test."""

    def __init__(self) -> None:
        self.facts: dict[str, AgentFact] = {}

    def ready(self, agent_id: str, queues: tuple[str, ...] = ("mobile",), status: str = "ready") -> None:
        self.facts[agent_id] = AgentFact(agent_id, status, queues)

    async def __call__(self) -> list[AgentFact]:
        return list(self.facts.values())


@pytest.fixture
def agents(desk: Bridge) -> Agents:
    a = Agents()
    assert desk.webchat is not None
    desk.webchat.service.agent_facts = a
    return a


def base(b: Bridge) -> str:
    return f"http://127.0.0.1:{b.web_port}"


async def customer(
    b: Bridge, http: aiohttp.ClientSession, hello: dict[str, Any], origin: str = SITE
) -> aiohttp.ClientWebSocketResponse:
    ws = await http.ws_connect(f"{base(b)}/chat/ws", headers={"Origin": origin})
    await ws.send_json(
        {"type": "hello", "topic": "mobile", "page": "https://shop.example.vn/goi-cuoc", **hello}
    )
    return ws


async def agent_socket(b: Bridge, client: Client) -> aiohttp.ClientWebSocketResponse:
    ws = await client.http.ws_connect(f"{base(b)}/ws", headers={"Origin": base(b)})
    await next_frame(ws, "hello")
    return ws


async def test_foreign_origin_and_bad_tokens_are_refused(desk: Bridge) -> None:
    async with aiohttp.ClientSession() as http:
        with pytest.raises(aiohttp.WSServerHandshakeError) as err:
            await http.ws_connect(f"{base(desk)}/chat/ws", headers={"Origin": "https://evil.example"})
        assert err.value.status == 403
        forged = portal_token.sign(GOLD, "another-secret-of-the-same-length-0123")
        expired = portal_token.sign(GOLD, SECRET, lifetime=60, now=datetime.now(UTC).timestamp() - 3600)
        for token, why in ((forged, "not valid"), (expired, "expired")):
            ws = await customer(desk, http, {"token": token})
            frame = await next_frame(ws, "error")
            assert frame["code"] == "chat.bad_token" and why in frame["message"]
            closing = await ws.receive()
            assert closing.type in (aiohttp.WSMsgType.CLOSE, aiohttp.WSMsgType.CLOSED)
            await ws.close()
        ws = await customer(desk, http, {})
        assert (await next_frame(ws, "error"))["code"] == "chat.identity_required"
        await ws.close()
        async with http.get(
            f"{base(desk)}/chat/callback/form", headers={"Origin": "https://evil.example"}
        ) as r:
            assert r.status == 403 and "Access-Control-Allow-Origin" not in r.headers
    assert desk.webchat is not None and desk.webchat.service.chats == {}


async def test_gold_first_messages_both_ways_and_transcript(desk: Bridge, agents: Agents) -> None:
    assert desk.webchat is not None and desk.sessions is not None
    service = desk.webchat.service
    a1 = await logged_in(base(desk), "1001")
    a2 = await logged_in(base(desk), "1002")
    async with aiohttp.ClientSession() as http:
        # Standard first, gold later; no agent yet: both wait, the gold one ahead.
        std = await customer(desk, http, {"phone": "0333 333 333"})
        assert (await next_frame(std, "welcome"))["position"] == 1
        gold = await customer(desk, http, {"token": portal_token.sign(GOLD, SECRET)})
        assert (await next_frame(gold, "welcome"))["position"] == 1
        assert (await next_frame(std, "position"))["position"] == 2
        # Waited past the queue's limit with nobody free: the callback form is offered.
        await next_frame(std, "callback_offer")

        ws1 = await agent_socket(desk, a1)
        agents.ready("1001")
        offer = (await next_frame(ws1, "chat.offer"))["chat"]
        assert offer["customer"]["customer_id"] == GOLD and offer["verified"] is True
        assert offer["page"] == "https://shop.example.vn/goi-cuoc" and offer["tier"] == "gold"
        await next_frame(gold, "agent")
        gold_chat = offer["chat_id"]

        hostile = ["<script>alert(1)</script>", "x" * 10_240, "\u202eabc\u202c \u200fשלום <b>hi</b>"]
        for text in hostile:
            await gold.send_json({"type": "message", "ref": 1, "text": text})
            sent = await next_frame(gold, "sent")
            got = await next_frame(ws1, "chat.message")
            assert got["message"]["text"] == text == sent["message"]["text"]
            assert (await next_frame(gold, "delivery"))["state"] == "delivered"
        await gold.send_json({"type": "message", "ref": 2, "text": "y" * 17_000})
        assert (await next_frame(gold, "error"))["code"] == "chat.too_long"

        status, _ = await a1.send(
            "POST", f"/api/chats/{gold_chat}/read", {"message_id": got["message"]["id"]}
        )
        assert status == 200
        assert (await next_frame(gold, "delivery"))["state"] == "read"
        await gold.send_json({"type": "typing"})
        await next_frame(ws1, "chat.typing")
        status, _ = await a1.send("POST", f"/api/chats/{gold_chat}/typing")
        await next_frame(gold, "typing")
        status, reply = await a1.send("POST", f"/api/chats/{gold_chat}/send", {"text": "Chào anh <i>!</i>"})
        assert status == 200
        m = await next_frame(gold, "message")
        assert m["text"] == "Chào anh <i>!</i>" and m["id"] == reply["id"]
        # The agent's pages get their own message first, then its states (never a state before it).
        assert (await next_frame(ws1, "chat.message"))["message"]["id"] == reply["id"]
        assert (await next_frame(ws1, "chat.delivery"))["state"] == "delivered"
        await gold.send_json({"type": "read", "id": m["id"]})
        assert (await next_frame(ws1, "chat.delivery"))["state"] == "read"

        # Another agent can neither write into it nor read it.
        status, body = await a2.send("POST", f"/api/chats/{gold_chat}/send", {"text": "hi"})
        assert (status, body["error"]["code"]) == (403, "chat.not_yours")

        # Transfer to the queue: it waits again, 1001 is offered the standard chat now, and the gold
        # one goes to 1002 once ready.
        status, _ = await a1.send("POST", f"/api/chats/{gold_chat}/transfer", {"target": "mobile"})
        assert status == 200
        std_offer = (await next_frame(ws1, "chat.offer"))["chat"]
        assert std_offer["customer"]["customer_id"] == STANDARD and std_offer["verified"] is False
        ws2 = await agent_socket(desk, a2)
        agents.ready("1002")
        back = (await next_frame(ws2, "chat.offer"))["chat"]
        assert back["chat_id"] == gold_chat and back["transferred_by"] == "1001"
        assert [x["text"] for x in back["messages"]][:3] == hostile

        status, _ = await a2.send("POST", f"/api/chats/{gold_chat}/end", {"disposition": "resolved"})
        assert status == 200
        assert (await next_frame(gold, "ended"))["disposition"] == "resolved"
        status, t = await a2.send("GET", f"/api/chats/transcripts/{gold_chat}")
        assert status == 200 and t["disposition"] == "resolved" and t["agent_id"] == "1002"
        assert [x["text"] for x in t["messages"]][:3] == hostile and t["customer_id"] == GOLD
        status, body = await a1.send("GET", f"/api/chats/transcripts/{gold_chat}")
        assert (status, body["error"]["code"]) == (403, "chat.transcript_forbidden")
        profile = await desk.directory.by_customer_id(GOLD) if desk.directory else None
        assert profile is not None
        chat_items = [i for i in profile.recent_interactions if i.kind == "chat"]
        assert chat_items and chat_items[0].call_id == gold_chat and chat_items[0].disposition == "resolved"
        async with desk.sessions() as s:
            audit = [
                (r.actor, r.action)
                for r in await s.scalars(
                    select(AuditEntry).where(AuditEntry.subject_id.in_([gold_chat, GOLD]))
                )
            ]
        assert ("1002", "chat.transcript.read") in audit and ("1001", "profile.pop") in audit
        assert ("1001", "chat.transfer") in audit

        # The standard customer leaves: the agent is told; ending it stores it too.
        await std.close()
        await next_frame(ws1, "chat.left")
        status, _ = await a1.send("POST", f"/api/chats/{std_offer['chat_id']}/end", {"disposition": "info"})
        assert status == 200
        for ws in (gold, ws1, ws2):
            await ws.close()
    for c in (a1, a2):
        await c.http.close()
    assert service.chats == {}


async def test_a_socket_reaches_only_its_own_chat(desk: Bridge, agents: Agents) -> None:
    """No frame names a chat: a customer who sends another chat's id still writes into their own."""
    a1 = await logged_in(base(desk), "1001")
    async with aiohttp.ClientSession() as http:
        ws1 = await agent_socket(desk, a1)
        agents.ready("1001")
        mine = await customer(desk, http, {"phone": "0912000111"})
        chat = (await next_frame(ws1, "chat.offer"))["chat"]["chat_id"]
        await mine.send_json({"type": "message", "chat_id": "chat-someone-else", "text": "hello"})
        got = await next_frame(ws1, "chat.message")
        assert got["chat_id"] == chat
        await mine.send_json({"type": "history", "chat_id": chat})
        assert (await next_frame(mine, "error"))["code"] == "request.invalid"
        await mine.close()
        await ws1.close()
    await a1.http.close()


def _tomorrow() -> str:
    return (datetime.now(VN_TZ) + timedelta(days=1)).date().isoformat()


async def _form(http: aiohttp.ClientSession, b: Bridge) -> dict[str, Any]:
    async with http.get(f"{base(b)}/chat/callback/form", headers={"Origin": SITE}) as r:
        assert r.status == 200 and r.headers["Access-Control-Allow-Origin"] == SITE
        return dict(await r.json())


async def _submit(
    http: aiohttp.ClientSession, b: Bridge, body: dict[str, Any], *, work: bool = True
) -> tuple[int, Any]:
    form = await _form(http, b)
    data = {
        "token": form["token"],
        "day": _tomorrow(),
        "from": "09:00",
        "to": "11:00",
        "topic": "mobile",
        **body,
    }
    if work and "work" not in body:
        data["work"] = solve(form["token"], form["bits"])
    async with http.post(f"{base(b)}/chat/callback", json=data, headers={"Origin": SITE}) as r:
        return r.status, await r.json()


async def test_callback_form_joins_the_worklist_in_tier_order(desk: Bridge) -> None:
    assert desk.callbacks is not None
    async with aiohttp.ClientSession() as http:
        async with http.options(
            f"{base(desk)}/chat/callback",
            headers={"Origin": SITE, "Access-Control-Request-Method": "POST"},
        ) as r:
            assert r.status == 204 and r.headers["Access-Control-Allow-Origin"] == SITE
        status, std = await _submit(http, desk, {"number": "0333333333"})
        assert status == 201, std
        status, gold = await _submit(
            http, desk, {"number": "0912999888", "identity": portal_token.sign(GOLD, SECRET)}
        )
        assert status == 201, gold
        # Not yet due (the window starts tomorrow): in the store, ordered gold first.
        async with desk.sessions() as s:  # type: ignore[misc]
            from ivr.models import CallbackRequest

            rows = list(await s.scalars(select(CallbackRequest).order_by(CallbackRequest.priority.desc())))
        assert [(r.id, r.customer_id, r.acd_tier) for r in rows] == [
            (gold["id"], GOLD, "gold"),
            (std["id"], STANDARD, "standard"),
        ]
        assert (
            rows[0].number == "+84912999888" and rows[0].queue == "mobile" and rows[0].not_before is not None
        )

        # The guard: no work, wrong work, a reused token, a window outside the hours, a bad number.
        status, body = await _submit(http, desk, {"number": "0912000001"}, work=False)
        assert (status, body["error"]["code"]) == (400, "callback_form.bad_work")
        form = await _form(http, desk)
        ok = {"token": form["token"], "work": solve(form["token"], form["bits"]), "number": "0912000002",
              "day": _tomorrow(), "from": "09:00", "to": "10:00", "topic": "mobile"}  # fmt: skip
        for expect in (201, 400):
            async with http.post(f"{base(desk)}/chat/callback", json=ok, headers={"Origin": SITE}) as r:
                body = await r.json()
                assert r.status == expect, body
        assert body["error"]["code"] == "callback_form.refused"
        status, body = await _submit(http, desk, {"number": "0912000003", "from": "19:30", "to": "21:00"})
        assert (status, body["error"]["code"]) == (400, "callback_form.bad_window")
        status, body = await _submit(http, desk, {"number": "12345"})
        assert (status, body["error"]["code"]) == (400, "crm.invalid_number")
        # Per number: two a day, the third refused with a Retry-After.
        assert (await _submit(http, desk, {"number": "0912000004"}))[0] == 201
        assert (await _submit(http, desk, {"number": "0912000004"}))[0] == 201
        status, body = await _submit(http, desk, {"number": "+84912000004"})
        assert (status, body["error"]["code"]) == (429, "callback_form.rate_limited")
    async with desk.sessions() as s:  # type: ignore[misc]
        actions = [r.action for r in await s.scalars(select(AuditEntry))]
    assert actions.count("callback.web_request") == 5


async def test_widget_and_strings_are_served(desk: Bridge) -> None:
    async with aiohttp.ClientSession() as http:
        async with http.get(f"{base(desk)}/chat/widget.js") as r:
            assert r.status == 200 and r.content_type == "text/javascript"
            js = await r.text()
        # Text only: nothing in the widget parses HTML.
        assert not any(
            sink in js for sink in (".innerHTML", ".outerHTML", "insertAdjacentHTML", "document.write")
        )
        async with http.get(f"{base(desk)}/chat/strings?lang=en", headers={"Origin": SITE}) as r:
            words = await r.json()
        assert words["chat_open"] == "Chat with us" and "chat.too_long" in words["errors"]


async def test_no_chat_on_a_call_transfer_to_an_agent_and_retention(desk: Bridge, agents: Agents) -> None:
    from core.config import LegalHold

    assert desk.webchat is not None
    service, store = desk.webchat.service, desk.webchat.store
    a1, a2 = await logged_in(base(desk), "1001"), await logged_in(base(desk), "1002")
    async with aiohttp.ClientSession() as http:
        ws1, ws2 = await agent_socket(desk, a1), await agent_socket(desk, a2)
        agents.ready("1001", status="on_call")  # mobile: no chat while on a call
        cust = await customer(desk, http, {"phone": "0912000222"})
        chat_id = (await next_frame(cust, "welcome"))["chat_id"]
        assert await service.dispatch() == 0 and service.chats[chat_id].agent_id is None
        agents.ready("1001")
        assert (await next_frame(ws1, "chat.offer"))["chat"]["chat_id"] == chat_id

        status, body = await a1.send("POST", f"/api/chats/{chat_id}/transfer", {"target": "1003"})
        assert (status, body["error"]["code"]) == (409, "chat.transfer_refused")  # 1003 is not here
        agents.ready("1002")
        status, _ = await a1.send("POST", f"/api/chats/{chat_id}/transfer", {"target": "1002"})
        assert status == 200
        assert (await next_frame(ws1, "chat.gone"))["to"] == {"agent": "1002"}
        offer = (await next_frame(ws2, "chat.offer"))["chat"]
        assert (offer["chat_id"], offer["transferred_by"]) == (chat_id, "1001")
        status, _ = await a2.send("POST", f"/api/chats/{chat_id}/end", {"disposition": "sale"})
        assert status == 200
        for ws in (cust, ws1, ws2):
            await ws.close()
    for c in (a1, a2):
        await c.http.close()
    later = datetime.now(UTC) + timedelta(days=1)
    assert await store.purge_before(later, LegalHold(calls=[chat_id])) == 0  # under legal hold
    assert await store.purge_before(datetime.now(UTC) - timedelta(days=1), LegalHold()) == 0  # too young
    assert await store.purge_before(later, LegalHold()) == 1
    assert desk.ops is not None and "chat_transcripts" in desk.ops.retention.jobs


async def test_chat_service_level_report(desk: Bridge, agents: Agents) -> None:
    a1, sup = await logged_in(base(desk), "1001"), await logged_in(base(desk), "9000")
    today = datetime.now(VN_TZ).date()  # before the chats: a run across midnight stays in the period
    async with aiohttp.ClientSession() as http:
        gone = await customer(desk, http, {"phone": "0912000333"})  # leaves before anyone takes it
        gone_id = (await next_frame(gone, "welcome"))["chat_id"]
        await gone.close()
        service = desk.webchat.service  # type: ignore[union-attr]
        await eventually(lambda: gone_id not in service.chats, timeout=20)  # after resume_seconds
        ws1 = await agent_socket(desk, a1)
        agents.ready("1001")
        served = await customer(desk, http, {"phone": "0912000444"})
        chat_id = (await next_frame(ws1, "chat.offer"))["chat"]["chat_id"]
        status, _ = await a1.send("POST", f"/api/chats/{chat_id}/end", {"disposition": "resolved"})
        assert status == 200
        await served.close()
        await ws1.close()
    period = f"since={today.isoformat()}&until={(today + timedelta(days=2)).isoformat()}"
    status, report = await sup.send("GET", f"/api/reports/chat-service-level?{period}")
    assert status == 200, report
    total = report["total"]
    assert (total["offered"], total["answered"], total["abandoned"], total["answered_in_sl"]) == (2, 1, 1, 1)
    assert total["sl"] == 0.5 and report["queues"]["mobile"]["offered"] == 2
    assert sum(d["offered"] for d in report["days"].values()) == 2 and set(report["days"]) <= {
        today.isoformat(),
        (today + timedelta(days=1)).isoformat(),
    }
    status, body = await a1.send("GET", f"/api/reports/chat-service-level?{period}")
    assert (status, body["error"]["code"]) == (403, "access.supervisors_only")
    status, body = await sup.send("GET", "/api/reports/chat-service-level?since=2026-13-01&until=x")
    assert (status, body["error"]["code"]) == (400, "report.bad_period")
    status, board = await sup.send("GET", "/api/chats/board")
    idle = {"waiting": 0, "longest": 0.0}
    assert status == 200 and board == {"queues": {"mobile": idle, "internet": idle}, "agents": {}}
    for c in (a1, sup):
        await c.http.close()


async def test_a_chat_goes_back_to_the_queue_when_its_agent_s_desktop_is_gone(
    desk: Bridge, agents: Agents
) -> None:
    assert desk.webchat is not None
    service = desk.webchat.service
    service.cfg = service.cfg.model_copy(update={"agent_away_seconds": 0.3})
    a1, a2 = await logged_in(base(desk), "1001"), await logged_in(base(desk), "1002")
    async with aiohttp.ClientSession() as http:
        ws1 = await agent_socket(desk, a1)
        agents.ready("1001")
        cust = await customer(desk, http, {"phone": "0912000555"})
        chat_id = (await next_frame(ws1, "chat.offer"))["chat"]["chat_id"]
        await next_frame(cust, "agent")
        await ws1.close()  # the laptop is closed
        await next_frame(cust, "waiting")
        ws2 = await agent_socket(desk, a2)
        agents.ready("1002")
        back = (await next_frame(ws2, "chat.offer"))["chat"]
        assert (back["chat_id"], back["transferred_by"]) == (chat_id, "1001")
        status, _ = await a2.send("POST", f"/api/chats/{chat_id}/end", {"disposition": "resolved"})
        assert status == 200
        await next_frame(cust, "ended")
        closing = await cust.receive()  # the server closes the customer's socket after the end
        assert closing.type in (aiohttp.WSMsgType.CLOSE, aiohttp.WSMsgType.CLOSED)
        await ws2.close()
    for c in (a1, a2):
        await c.http.close()


async def test_a_reloaded_widget_takes_its_chat_up_again(desk: Bridge, agents: Agents) -> None:
    a1 = await logged_in(base(desk), "1001")
    async with aiohttp.ClientSession() as http:
        # Waiting, reloaded: back at its place.
        first = await customer(desk, http, {"phone": "0912000666"})
        hello = await next_frame(first, "welcome")
        await first.close()
        again = await http.ws_connect(f"{base(desk)}/chat/ws", headers={"Origin": SITE})
        await again.send_json({"type": "hello", "resume": hello["resume"]})
        back = await next_frame(again, "welcome")
        assert (back["chat_id"], back["position"], back["agent"]) == (hello["chat_id"], 1, False)
        # Answered, then away: the agent is told, writes anyway; the customer is back with it.
        ws1 = await agent_socket(desk, a1)
        agents.ready("1001")
        chat_id = (await next_frame(ws1, "chat.offer"))["chat"]["chat_id"]
        await again.send_json({"type": "message", "text": "alo"})
        await next_frame(ws1, "chat.message")
        await again.close()
        await next_frame(ws1, "chat.left")
        status, reply = await a1.send("POST", f"/api/chats/{chat_id}/send", {"text": "anh còn đó không?"})
        assert status == 200 and reply["state"] == "sent"
        third = await http.ws_connect(f"{base(desk)}/chat/ws", headers={"Origin": SITE})
        await third.send_json({"type": "hello", "resume": back["resume"]})
        w3 = await next_frame(third, "welcome")
        assert w3["agent"] is True and [m["text"] for m in w3["messages"]] == ["alo", "anh còn đó không?"]
        await next_frame(ws1, "chat.back")
        assert (await next_frame(ws1, "chat.delivery"))["state"] == "delivered"
        # The secret works once per absence: a second socket with it while this one is open is refused.
        thief = await http.ws_connect(f"{base(desk)}/chat/ws", headers={"Origin": SITE})
        await thief.send_json({"type": "hello", "resume": back["resume"]})
        assert (await next_frame(thief, "error"))["code"] == "chat.ended"
        wrong = await http.ws_connect(f"{base(desk)}/chat/ws", headers={"Origin": SITE})
        await wrong.send_json({"type": "hello", "resume": "not-a-secret"})
        assert (await next_frame(wrong, "error"))["code"] == "chat.ended"
        for ws in (third, thief, wrong, ws1):
            await ws.close()
    await a1.http.close()


async def test_the_demo_shop_page(tmp_path: Path) -> None:
    """`tongdai demo` turns web chat on for the desktop's own origin and serves a shop page with the
    widget (a gold customer's portal token signed on request). Only demo mode has it (a node refuses
    to start outside demo mode with the test suite's shipped secrets, so that half is not run here)."""
    import re

    from tongdai.demo import _with_webchat

    port = free_port()
    settings = _with_webchat(
        make_settings(
            demo=True,
            node={"name": "chat-demo", "data_dir": str(tmp_path / "demo")},
            database={"url": f"sqlite+aiosqlite:///{tmp_path / 'demo.db'}"},
            web={"port": port, "allowed_origins": [f"http://127.0.0.1:{port}"]},
            redis={"url": None},
            webchat={"queues": [{"name": "mobile"}]},
        )
    )
    assert settings.webchat.enabled and f"http://127.0.0.1:{port}" in settings.webchat.allowed_origins
    demo = Bridge(settings)
    await demo.start(connect_ami=False)
    try:
        async with aiohttp.ClientSession() as http:
            async with http.get(f"http://127.0.0.1:{port}/chat/demo?customer={GOLD}") as r:
                assert r.status == 200
                page = await r.text()
            token = re.search(r'data-token="([^"]+)"', page)
            assert token and 'src="/chat/widget.js"' in page
            secret = settings.webchat.portal_secret
            assert secret is not None
            assert portal_token.verify(token.group(1), secret.get_secret_value(), valid_id=bool) == GOLD
    finally:
        await demo.stop()
