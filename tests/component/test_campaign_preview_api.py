"""Preview dialling through the API on a real bridge (aiohttp on 127.0.0.1, real SQLite with the demo
customers, no Asterisk: the agents' state comes from app_queue's member events handed to the ACD's
real handler): a ready agent is offered the next contact of a preview campaign of their queue, with
the customer's profile and the script (the view audited), held for them alone and kept from the
diallers; skip gives it back; dial records the attempt and returns the number for click-to-call; then
the agent tells the outcome and disposition. A number on the do-not-call list is refused before it is
ever offered."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import select

from campaigns.models import CampaignAttempt
from core.ami import AmiEvent
from core.models import AuditEntry
from tests.component.test_campaigns_api import URL, Client, desk, people  # noqa: F401
from tongdai.app import Bridge

PREVIEW = {
    "name": "Gọi xem trước",
    "queue": "tv",
    "purpose": "care",
    "mode": "preview",
    "script": "Chào anh/chị, em gọi từ tổng đài…",
    "dispositions": ["renewed", "declined"],
    "window_start": "00:00",
    "window_end": "23:59",
    "retry_minutes": {"busy": 10},
}


async def ready(b: Bridge, agent: str, queue: str = "tv") -> None:
    iface = f"Local/{agent}@tongdai-agents/n"
    await b.agents.handle(
        AmiEvent(
            "QueueMemberAdded",
            {"Queue": queue, "MemberName": agent, "Interface": iface, "Paused": "0", "Status": "1"},
        )
    )


async def test_a_ready_agent_previews_skips_dials_and_records_the_outcome(
    desk: Bridge,  # noqa: F811
    people: dict[str, Client],  # noqa: F811
) -> None:
    boss, agent = people["9000"], people["1001"]
    nxt = f"{URL}/preview/next"
    status, c = await boss.send("POST", URL, PREVIEW)
    assert status == 200, c
    cid = c["id"]
    csv = "number,priority\n0912345678,9\n0987654321,5\n0333333333,1\n"
    status, _ = await boss.send("POST", f"{URL}/{cid}/contacts", {"csv": csv})
    assert status == 200
    assert desk.campaigns is not None and desk.campaigns.preview is not None and desk.sessions is not None
    store, reservations = desk.campaigns.store, desk.campaigns.preview.reservations
    await store.replace_dnc("operator", ["+84912345678"])

    # Not ready: no offer; a draft campaign offers nothing either.
    status, err = await agent.send("POST", nxt)
    assert (status, err["error"]["code"]) == (409, "campaign.agent_not_ready"), err
    await ready(desk, "1001")
    status, r = await agent.send("POST", nxt)
    assert (status, r) == (200, {"offer": None})
    status, _ = await boss.send("POST", f"{URL}/{cid}/start")
    assert status == 200

    # The first by priority is on the do-not-call list: refused and counted, never offered; then Bình.
    status, r = await agent.send("POST", nxt)
    assert status == 200, r
    offer = r["offer"]
    assert offer["campaign"] == {
        "id": cid, "name": PREVIEW["name"], "purpose": "care", "script": PREVIEW["script"],
        "dispositions": ["renewed", "declined"],
    }  # fmt: skip
    assert (offer["contact"]["national"], offer["contact"]["customer_id"]) == ("0987654321", "KH0000000002")
    assert offer["customer"]["name"] == "Trần Thị Bình" and offer["customer"]["overdue_debt_vnd"] == 120_000
    binh = offer["contact"]["id"]
    # Asked again: the same contact (held for this agent), and the agent is kept from the diallers.
    status, again = await agent.send("POST", nxt)
    assert again["offer"]["contact"]["id"] == binh
    assert [(h.owner, h.agent_id) for h in reservations.holds()] == [("preview", "1001")]
    assert reservations.free([_Ready("1001"), _Ready("1002")], "campaign-dialler") == [_Ready("1002")]
    # Someone else cannot dial or skip it.
    status, err = await boss.send("POST", f"{URL}/{cid}/contacts/{binh}/dial")
    assert (status, err["error"]["code"]) == (409, "campaign.not_held")

    # Skip: back to the list (due later); the next offer is Cường.
    status, skipped = await agent.send("POST", f"{URL}/{cid}/contacts/{binh}/skip")
    assert status == 200, skipped
    status, r = await agent.send("POST", nxt)
    cuong = r["offer"]["contact"]["id"]
    assert r["offer"]["contact"]["national"] == "0333333333"

    # Dial: the attempt recorded for the agent, the number handed back for click-to-call.
    status, d = await agent.send("POST", f"{URL}/{cid}/contacts/{cuong}/dial")
    assert status == 200, d
    assert (d["number"], d["dial"]) == ("+84333333333", "0333333333")
    assert reservations.holds() == []
    # The outcome first: a preview call needs it; busy is retried in 10 minutes, no disposition.
    status, err = await agent.send(
        "POST", f"{URL}/{cid}/contacts/{cuong}/disposition", {"disposition": "renewed"}
    )
    assert (status, err["error"]["code"]) == (400, "campaign.outcome_required")
    status, saved = await agent.send("POST", f"{URL}/{cid}/contacts/{cuong}/disposition", {"outcome": "busy"})
    assert (status, saved["outcome"], saved["state"]) == (200, "busy", "pending"), saved

    # Nothing else is due now (Bình skipped, Cường to retry later).
    status, r = await agent.send("POST", nxt)
    assert r == {"offer": None}

    # Bình again later: answered, renewed.
    desk.campaigns.preview.clock = lambda: store.clock() + dt.timedelta(minutes=20)
    status, r = await agent.send("POST", nxt)
    first = r["offer"]["contact"]["id"]
    assert first == binh  # both due again: the higher priority first
    status, d = await agent.send("POST", f"{URL}/{cid}/contacts/{first}/dial")
    assert status == 200, d
    body = {"outcome": "reached", "disposition": "renewed", "note": "đồng ý"}
    status, saved = await agent.send("POST", f"{URL}/{cid}/contacts/{first}/disposition", body)
    assert (status, saved["state"], saved["disposition"]) == (200, "done", "renewed"), saved

    async with desk.sessions() as s:
        attempts = [
            (a.contact_id, a.outcome, a.reason, a.agent_id, a.disposition)
            for a in await s.scalars(
                select(CampaignAttempt).where(CampaignAttempt.campaign_id == cid).order_by(CampaignAttempt.id)
            )
        ]
        views = [
            (a.actor, a.subject_id, a.detail)
            for a in await s.scalars(
                select(AuditEntry).where(AuditEntry.action == "profile.view").order_by(AuditEntry.id)
            )
        ]
    an = next(k.id for k in await store.contacts(cid) if k.number == "+84912345678")
    assert attempts[:2] == [(an, "refused", "dnc_operator", "", None), (cuong, "busy", None, "1001", None)]
    assert attempts[2] == (first, "reached", None, "1001", "renewed")
    assert ("1001", "KH0000000002", f"campaign {cid} preview") in views
    assert ("1001", "KH0000000003", f"campaign {cid} preview") in views


class _Ready:
    def __init__(self, agent_id: str) -> None:
        self.agent_id, self.queues = agent_id, frozenset({"tv"})

    def __eq__(self, other: object) -> bool:
        return isinstance(other, _Ready) and other.agent_id == self.agent_id

    def __hash__(self) -> int:
        return hash(self.agent_id)
