"""The vertical slice on the real Asterisk: hotline → IVR → tier queue → agent rings → screen pop
on the agent's websocket (before answer) → hangup → call record and CDRs stored."""

from __future__ import annotations

from typing import Any

import aiohttp
import pytest
from sqlalchemy import select

from billing.models import CdrRecord
from core.ami import AmiClient
from core.models import CallRecord
from tests.asterisk.conftest import eventually, place_call
from tests.support.desktop import login, next_frame
from tongdai.app import Bridge

pytestmark = pytest.mark.asterisk


async def test_call_pops_profile_before_answer_and_leaves_cdr(bridge: Bridge, ami: AmiClient) -> None:
    base = f"http://127.0.0.1:{bridge.web_port}"
    # unsafe=True: aiohttp's client otherwise ignores cookies set by an IP-address host.
    async with aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True)) as http:
        await login(http, base, "1001", "demo-1001")
        async with http.ws_connect(f"{base}/ws", origin=base) as ws:
            assert (await next_frame(ws, "hello"))["agent_id"] == "1001"

            # Nguyễn Văn An calls from his mobile and presses 1 (mobile).
            await place_call(ami, "0912345678", dtmf="1", stay=4)

            pop = await next_frame(ws, "pop")
            customer = pop["customer"]
            assert customer["customer_id"] == "KH0000000001"
            assert customer["name"] == "Nguyễn Văn An"
            assert customer["tier"] == "large"
            assert customer["tier_reason"]["explanation_vi"]
            assert {s["service"] for s in customer["services"]} == {"mobile_postpaid", "internet", "tv"}
            assert pop["queue"] == "mobile"
            assert pop["ivr_path_text"] == "Di động"
            # The pop comes while it rings: "answered" follows it on the same socket.
            answered = await next_frame(ws, "answered")
            assert answered["call_id"] == pop["call_id"]
            ended = await next_frame(ws, "ended")
            assert ended["call_id"] == pop["call_id"]

    call_id = pop["call_id"]
    assert bridge.sessions is not None

    async def stored() -> tuple[CallRecord | None, list[CdrRecord]]:
        async with bridge.sessions() as s:  # type: ignore[misc]
            rec = await s.get(CallRecord, call_id)
            cdrs = list(await s.scalars(select(CdrRecord).where(CdrRecord.linkedid == call_id)))
        return rec, cdrs

    async def ready() -> Any:
        rec, cdrs = await stored()
        return rec is not None and any(c.lastapp == "Queue" for c in cdrs)

    await eventually(ready, timeout=15)
    rec, cdrs = await stored()
    assert rec is not None
    assert rec.customer_id == "KH0000000001"
    assert rec.queue == "mobile" and rec.agent_id == "1001"
    assert rec.acd_tier == "vip" and rec.priority == bridge.policy.initial_priority("vip")
    assert rec.disposition == "answered"
    assert rec.ivr_path == ["main:1", "mobile"]
    # One CDR is the caller's leg through the hotline; it names the caller and the queue.
    hotline_leg = [c for c in cdrs if c.lastapp == "Queue"]
    assert len(hotline_leg) == 1
    leg = hotline_leg[0]
    assert leg.src == "0912345678" and leg.disposition == "ANSWERED"
    assert leg.system_name == "tdtest" and leg.billsec_exact is not None and leg.billsec_exact > 0
