"""Campaign lists built from a CRM query through the API on a real bridge (aiohttp on 127.0.0.1, real
SQLite with the demo customers): by province, tier, debt, service and contract end; contacts linked
to their customers with their best number in E.164, numbers already on the list merged, consent
required for advertising, audited; bad queries refused with clear JSON."""

from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import select, update

from campaigns.crm_lists import CrmQuery, QueryTooBroad, build_from_crm
from core.models import AuditEntry
from crm_bridge.models import Customer, Subscription
from tests.component.test_campaigns_api import URL, Client, desk, people  # noqa: F401
from tongdai.app import Bridge

CARE = {"name": "Chăm sóc khách hàng", "queue": "tv", "purpose": "care", "window_end": "20:00"}


async def test_lists_from_crm_queries_link_customers_and_merge_numbers(
    desk: Bridge,  # noqa: F811
    people: dict[str, Client],  # noqa: F811
) -> None:
    boss, agent = people["9000"], people["1001"]
    status, c = await boss.send("POST", URL, CARE)
    assert status == 200, c
    cid = c["id"]
    q = f"{URL}/{cid}/contacts/query"
    assert desk.campaigns is not None and desk.sessions is not None
    store = desk.campaigns.store

    # Hà Nội: Nguyễn Văn An (by his mobile line, not his internet or other carrier's number) and
    # Đại Phát (a company: its fixed line, the first of its lines).
    status, r = await boss.send("POST", q, {"provinces": ["Hà Nội"], "priority": 5})
    assert status == 200, r
    assert r == {"added": 2, "merged": 0, "linked": 2, "matched": 2, "skipped": {}}
    # Tier "other": Đại Phát again (merged) and Phạm Thị Dung.
    status, r = await boss.send("POST", q, {"tiers": ["other"]})
    assert (status, r["added"], r["merged"], r["matched"]) == (200, 1, 1, 2), r
    # Overdue debt of at least 100,000 VND: Trần Thị Bình (120,000).
    status, r = await boss.send("POST", q, {"min_debt_vnd": 100_000, "priority": 9})
    assert (status, r["added"], r["matched"]) == (200, 1, 1), r
    # A prepaid line whose contract ends next week: Lê Văn Cường.
    ends = dt.date.today() + dt.timedelta(days=7)
    async with desk.sessions() as s, s.begin():
        await s.execute(
            update(Subscription).where(Subscription.customer_id == "KH0000000003").values(ended_on=ends)
        )
    body = {
        "services": ["mobile_prepaid"],
        "contract_ends_from": dt.date.today().isoformat(),
        "contract_ends_until": (ends + dt.timedelta(days=1)).isoformat(),
    }
    status, r = await boss.send("POST", q, body)
    assert (status, r["added"], r["matched"]) == (200, 1, 1), r
    status, r = await boss.send("POST", q, {**body, "services": ["mobile_postpaid"]})
    assert (status, r["added"], r["matched"]) == (200, 0, 0), r

    contacts = [(k.number, k.customer_id, k.name, k.priority) for k in await store.contacts(cid)]
    assert contacts == [
        ("+84987654321", "KH0000000002", "Trần Thị Bình", 9),
        ("+84912345678", "KH0000000001", "Nguyễn Văn An", 5),
        ("+842438261234", "KH0000000004", "Công ty TNHH Đại Phát", 5),
        ("+84889990005", "KH0000000005", "Phạm Thị Dung", 0),
        ("+84333333333", "KH0000000003", "Lê Văn Cường", 0),
    ]

    # Advertising: only customers who consented (An, once he does).
    async with desk.sessions() as s, s.begin():
        await s.execute(
            update(Customer).where(Customer.customer_id == "KH0000000001").values(consent_marketing=True)
        )
    ad = {**CARE, "name": "Gói cước mới", "purpose": "advertising", "window_end": "17:00"}
    status, a = await boss.send("POST", URL, ad)
    assert status == 200, a
    status, r = await boss.send("POST", f"{URL}/{a['id']}/contacts/query", {"provinces": ["Hà Nội"]})
    assert (status, r["added"], r["matched"]) == (200, 1, 1), r
    assert [k.customer_id for k in await store.contacts(a["id"])] == ["KH0000000001"]

    # Refused: bad fields, an agent, an unknown campaign; more customers than a list may hold.
    status, err = await boss.send("POST", q, {"tiers": ["gold"]})
    assert (status, err["error"]["code"]) == (400, "request.invalid")
    status, err = await boss.send(
        "POST", q, {"contract_ends_from": "2027-01-02", "contract_ends_until": "2027-01-01"}
    )
    assert (status, err["error"]["code"]) == (400, "request.invalid")
    status, err = await agent.send("POST", q, {"provinces": ["Hà Nội"]})
    assert (status, err["error"]["code"]) == (403, "access.supervisors_only")
    status, err = await boss.send("POST", f"{URL}/999999/contacts/query", {})
    assert (status, err["error"]["code"]) == (404, "campaign.not_found")

    async def nothing(customer_id: str) -> tuple[str, int] | None:
        return None

    with pytest.raises(QueryTooBroad):
        await build_from_crm(store, desk.sessions, nothing, cid, CrmQuery(), max_rows=4)
    assert len(await store.contacts(cid)) == 5

    async with desk.sessions() as s:
        audit = [
            (r.actor, r.subject_id, r.detail)
            for r in await s.scalars(select(AuditEntry).where(AuditEntry.action == "campaign.import"))
        ]
    assert audit[0] == ("9000", str(cid), "CRM query (provinces=Hà Nội): 2 matched, 2 added, 0 merged")
    assert len(audit) == 6
