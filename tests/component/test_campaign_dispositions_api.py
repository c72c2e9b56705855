"""A campaign call's disposition through the API on a real bridge (aiohttp on 127.0.0.1, real SQLite
with the demo customers, no Asterisk): the dialler's rows are written by its own store calls (the
real-Asterisk test covers the dial), then the agent who took the call saves a disposition: stored on
the attempt and the contact, in the customer's history, audited; the campaign's rules schedule the
contact (a callback at the agent's time, a wrong number with no retry rule ends it); anything else is
refused with a translated error id and changes nothing."""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import select

from campaigns.models import CampaignAttempt
from campaigns.schedule import Next
from campaigns.store import CampaignStore
from core.models import AuditEntry
from crm_bridge.models import Interaction
from tests.component.test_campaigns_api import URL, Client, desk, people  # noqa: F401
from tongdai.app import Bridge

CAMPAIGN = {
    "name": "Gia hạn gói cước",
    "queue": "tv",
    "purpose": "care",
    "script": "Chào anh/chị…",
    "dispositions": ["renewed", "call back", "wrong person"],
    "disposition_rules": {"call back": "callback", "wrong person": "wrong_number"},
    "window_start": "08:00",
    "window_end": "20:00",
    "retry_minutes": {"no_answer": 30},
}


async def reached(store: CampaignStore, campaign_id: int, agent: str) -> dict[str, int]:
    """Each contact dialled and answered, as the dialler records it; ``agent`` took every call but
    the last contact's (1002's)."""
    campaign = await store.get(campaign_id)
    out = {}
    contacts = await store.contacts(campaign_id)
    for n, k in enumerate(contacts):
        assert await store.claim(k.id)
        who = agent if n < len(contacts) - 1 else "1002"
        await store.record_dial(
            k, campaign, "reached", connected=True, call_id=f"cmp-{k.id}-0000000{n}", nxt=Next("done"),
            at=dt.datetime.now(dt.UTC), agent_id=who,
        )  # fmt: skip
        out[k.number] = k.id
    return out


async def test_the_agent_saves_a_disposition_and_the_rules_schedule_the_contact(
    desk: Bridge,  # noqa: F811
    people: dict[str, Client],  # noqa: F811
) -> None:
    boss, agent = people["9000"], people["1001"]
    status, c = await boss.send("POST", URL, CAMPAIGN)
    assert status == 200, c
    assert c["disposition_rules"] == CAMPAIGN["disposition_rules"]
    cid = c["id"]
    csv = "number,priority\n0912345678,9\n0333333333,5\n0881234567,3\n0987654321,1\n"
    status, _ = await boss.send("POST", f"{URL}/{cid}/contacts", {"csv": csv})
    assert status == 200
    assert desk.campaigns is not None and desk.sessions is not None
    store = desk.campaigns.store
    ids = await reached(store, cid, "1001")
    an, cuong, stranger, other = (
        ids[n] for n in ("+84912345678", "+84333333333", "+84881234567", "+84987654321")
    )

    def path(contact: int) -> str:
        return f"{URL}/{cid}/contacts/{contact}/disposition"

    # Not one of the campaign's: refused, translated id, nothing stored.
    status, err = await agent.send("POST", path(an), {"disposition": "sold"})
    assert (status, err["error"]["code"]) == (400, "campaign.bad_disposition"), err
    assert "renewed" in err["error"]["message"]
    status, err = await agent.send("POST", path(an), {})
    assert (status, err["error"]["code"]) == (400, "campaign.bad_disposition")
    # Another agent's call.
    status, err = await agent.send("POST", path(other), {"disposition": "renewed"})
    assert (status, err["error"]["code"]) == (403, "campaign.not_your_call")
    # A callback needs its time, in the future.
    status, err = await agent.send("POST", path(cuong), {"disposition": "call back"})
    assert (status, err["error"]["code"]) == (400, "campaign.bad_callback_time")
    status, err = await agent.send(
        "POST", path(cuong), {"disposition": "call back", "callback_at": "2020-01-01T10:00:00"}
    )
    assert (status, err["error"]["code"]) == (400, "campaign.bad_callback_time")
    status, err = await agent.send(
        "POST", f"{URL}/{cid}/contacts/999999/disposition", {"disposition": "renewed"}
    )
    assert (status, err["error"]["code"]) == (404, "campaign.contact_not_found")
    assert all(k.disposition is None and k.state == "done" for k in await store.contacts(cid))

    # renewed: done, on the attempt, the contact and the customer's history.
    status, saved = await agent.send("POST", path(an), {"disposition": "renewed", "note": "gói 12 tháng"})
    assert status == 200, saved
    assert (saved["outcome"], saved["disposition"], saved["state"], saved["next_attempt_at"]) == (
        "reached", "renewed", "done", None,
    )  # fmt: skip
    status, err = await agent.send("POST", path(an), {"disposition": "call back"})
    assert (status, err["error"]["code"]) == (409, "campaign.disposition_exists")

    # call back at 15:00 Việt Nam time tomorrow: pending then, whatever max_attempts says.
    tomorrow = (dt.datetime.now(dt.UTC) + dt.timedelta(days=1)).date()
    at = f"{tomorrow.isoformat()}T15:00:00"
    status, saved = await agent.send("POST", path(cuong), {"disposition": "call back", "callback_at": at})
    assert status == 200, saved
    want = dt.datetime.combine(tomorrow, dt.time(8, 0), tzinfo=dt.UTC)  # 15:00 +07:00
    assert (saved["state"], dt.datetime.fromisoformat(saved["next_attempt_at"])) == ("pending", want)

    # wrong person: the wrong_number outcome, which has no retry rule here: the contact is ended.
    status, saved = await agent.send("POST", path(stranger), {"disposition": "wrong person"})
    assert (status, saved["state"]) == (200, "exhausted"), saved
    # The supervisor may record the other agent's call.
    status, saved = await boss.send("POST", path(other), {"disposition": "renewed"})
    assert (status, saved["state"]) == (200, "done"), saved

    by_number = {k.number: k for k in await store.contacts(cid)}
    assert {n: (k.state, k.disposition, k.last_outcome) for n, k in by_number.items()} == {
        "+84912345678": ("done", "renewed", "reached"),
        "+84333333333": ("pending", "call back", "reached"),
        "+84881234567": ("exhausted", "wrong person", "reached"),
        "+84987654321": ("done", "renewed", "reached"),
    }
    async with desk.sessions() as s:
        attempts = {
            a.contact_id: (a.disposition, a.note, a.agent_id)
            for a in await s.scalars(select(CampaignAttempt).where(CampaignAttempt.campaign_id == cid))
        }
        audit = [
            (r.actor, r.subject_id, r.detail)
            for r in await s.scalars(
                select(AuditEntry).where(AuditEntry.action == "campaign.disposition").order_by(AuditEntry.id)
            )
        ]
        history = [
            (i.customer_id, i.summary, i.disposition, i.call_id)
            for i in await s.scalars(select(Interaction).where(Interaction.agent_id == "1001"))
        ]
    assert attempts[an] == ("renewed", "gói 12 tháng", "1001")
    assert attempts[other] == ("renewed", "", "1002")
    assert audit[0] == ("1001", str(an), f"campaign {cid}: renewed → done")
    assert audit[1][2].startswith(f"campaign {cid}: call back → pending at ")
    assert audit[2:] == [
        ("1001", str(stranger), f"campaign {cid}: wrong person → exhausted"),
        ("9000", str(other), f"campaign {cid}: renewed → done"),
    ]
    # An and Cường are demo customers: the disposition is in their history, linked to the call.
    assert (
        "KH0000000001",
        "Gia hạn gói cước: renewed · gói 12 tháng",
        "renewed",
        f"cmp-{an}-00000000",
    ) in history
    assert any(h[0] == "KH0000000003" and h[2] == "call back" for h in history)


async def test_rules_for_dispositions_the_campaign_lacks_are_refused(
    desk: Bridge,  # noqa: F811
    people: dict[str, Client],  # noqa: F811
) -> None:
    boss = people["9000"]
    bad: dict[str, Any] = {**CAMPAIGN, "disposition_rules": {"sold": "done"}}
    status, err = await boss.send("POST", URL, bad)
    assert (status, err["error"]["code"]) == (400, "campaign.invalid"), err
    assert "sold" in err["error"]["message"]
    status, err = await boss.send("POST", URL, {**CAMPAIGN, "disposition_rules": {"renewed": "later"}})
    assert (status, err["error"]["code"]) == (400, "request.invalid")
