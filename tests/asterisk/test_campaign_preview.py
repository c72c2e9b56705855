"""Preview dialling on the real Asterisk: agent 1001 (a simulated agent, ready in its queue) asks
for the next contact of a preview campaign and gets Nguyễn Văn An with his profile and the script;
Dial records the attempt and hands back his number, which the desktop's click-to-call dials (the
agent's phone first, then the customer through the outbound routes: the simulated customer
answers); after the call the agent records the outcome and disposition, and the contact is done."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from sqlalchemy import select

from campaigns.lists import ListEntry
from campaigns.models import CampaignAttempt
from campaigns.store import NewCampaign
from core.ami import AmiClient
from tests.asterisk.conftest import eventually
from tests.asterisk.test_desktop_telephony import channels, client, csrf_of
from tests.support.desktop import login
from tongdai.app import Bridge

pytestmark = pytest.mark.asterisk

AN = "0912345678"
SCRIPT = "Chào anh An, VNPT gọi để giới thiệu gói Internet mới."


async def test_a_preview_call_is_offered_dialled_by_click_to_call_and_recorded(
    bridge: Bridge, ami: AmiClient
) -> None:
    assert bridge.campaigns is not None and bridge.sessions is not None
    store = bridge.campaigns.store

    async def one_ready() -> Any:
        return next(
            (a for a in await bridge.agents.states() if a.agent_id == "1001" and a.status == "ready"), None
        )

    me = await eventually(one_ready, timeout=20)
    queue = sorted(me.queues)[0]
    c = await store.create(
        NewCampaign(
            name="Giới thiệu Internet", queue=queue, purpose="care", mode="preview", script=SCRIPT,
            dispositions=["interested", "declined"], window_start=dt.time(0, 0), window_end=dt.time(23, 59),
        ),
        "9000",
    )  # fmt: skip
    await store.import_list(c.id, [ListEntry("+84912345678", 0, "", "KH0000000001", (2,))], {})
    await store.control(c.id, "start")
    base = f"http://127.0.0.1:{bridge.web_port}"
    async with client() as http:
        await login(http, base, "1001", "demo-1001")
        headers = {"X-CSRF-Token": await csrf_of(http, base)}

        async def post(path: str, body: dict[str, Any] | None = None) -> Any:
            async with http.post(f"{base}{path}", json=body, headers=headers) as r:
                got = await r.json()
                assert r.status == 200, (path, got)
                return got

        offer = (await post("/api/campaigns/preview/next"))["offer"]
        assert offer["contact"]["national"] == AN and offer["campaign"]["script"] == SCRIPT
        assert offer["customer"]["customer_id"] == "KH0000000001"
        contact = offer["contact"]["id"]
        dial = await post(f"/api/campaigns/{c.id}/contacts/{contact}/dial")
        placed = await post("/api/calls/dial", {"number": dial["dial"]})
        assert placed["dialling"] == AN

        async def customer_leg() -> list[dict[str, str]]:
            return [
                ch
                for ch in await channels(ami)
                if ch.get("Context") == "tongdai-simcustomer"
                and ch.get("Exten") == AN
                and ch.get("ChannelStateDesc") == "Up"
            ]

        leg = (await eventually(customer_leg, timeout=15))[0]
        same_call = [ch for ch in await channels(ami) if ch.get("Linkedid") == leg.get("Linkedid")]
        assert any(ch["Channel"].startswith("Local/1001@tongdai-agents") for ch in same_call), same_call
        for ch in await channels(ami):
            await ami.action("Hangup", {"Channel": ch["Channel"]}, check=False)

        saved = await post(
            f"/api/campaigns/{c.id}/contacts/{contact}/disposition",
            {"outcome": "reached", "disposition": "interested", "note": "gửi báo giá"},
        )
        assert (saved["outcome"], saved["disposition"], saved["state"]) == ("reached", "interested", "done")
    async with bridge.sessions() as s:
        rows = [
            (a.outcome, a.agent_id, a.disposition, a.note)
            for a in await s.scalars(select(CampaignAttempt).where(CampaignAttempt.campaign_id == c.id))
        ]
    assert rows == [("reached", "1001", "interested", "gửi báo giá")]
    assert bridge.campaigns.preview is not None and bridge.campaigns.preview.reservations.holds() == []
