"""A campaign's contact list built from a CRM query: the customers table filtered by tier, service,
province, segment, overdue debt and contract end, each customer one contact linked to them.

- The query narrows in SQL first (province, segment, an active subscription of the services, a
  subscription whose contract ends in the range; for an advertising campaign, marketing consent —
  the dialler checks consent again before each call); tier and debt are what the screen pop computes
  (crm_bridge's profile: revenue over the tier window, the latest bill's debt), so when either is
  asked each remaining customer's profile is read (the query then costs a profile read per
  candidate; narrow it with the other fields).
- The number called: the customer's active mobile line, else any of their lines with a number, else a
  contact number they gave; numbers are checked as E.164 again (``core/phone.py``). A customer
  without one is skipped and counted.
- Then the same store step as a CSV list (``CampaignStore.import_list``): one transaction, a number
  given twice (two customers sharing it) is one contact, a number already on the campaign keeps its
  contact and attempts.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from campaigns.lists import ListEntry
from campaigns.store import BadCampaign, CampaignStore, ImportResult
from core.phone import InvalidNumber, to_e164
from crm_bridge.models import ContactNumber, Customer, Subscription

MOBILE = ("mobile_postpaid", "mobile_prepaid")

# customer id → (tier, overdue debt in VND), as the pop's profile computes them; None: no customer.
TierAndDebt = Callable[[str], Awaitable[tuple[str, int] | None]]


class QueryTooBroad(BadCampaign):
    error_id = "campaign.query_too_broad"


@dataclass(frozen=True)
class CrmQuery:
    tiers: Sequence[str] = ()
    services: Sequence[str] = ()
    provinces: Sequence[str] = ()
    segments: Sequence[str] = ()
    min_debt_vnd: int | None = None
    contract_ends_from: dt.date | None = None
    contract_ends_until: dt.date | None = None
    consent_required: bool = False  # advertising: only customers who consented to marketing calls
    priority: int = 0

    def describe(self) -> str:
        """For the audit log: the fields given."""
        parts = [
            f"{k}={','.join(v) if isinstance(v, (list, tuple)) else v}"
            for k, v in self.__dict__.items()
            if v and k != "priority"
        ]
        return " ".join(parts) or "every customer"


@dataclass
class CrmImport:
    result: ImportResult
    matched: int  # customers the query selected
    skipped: dict[str, int] = field(default_factory=dict)  # why a matched customer got no contact

    def to_json(self) -> dict[str, Any]:
        return {**self.result.to_json(), "matched": self.matched, "skipped": self.skipped}


def _candidates(q: CrmQuery) -> Any:
    c, sub = Customer, Subscription
    stmt = select(c.customer_id, c.full_name)
    if q.provinces:
        stmt = stmt.where(c.province.in_(list(q.provinces)))
    if q.segments:
        stmt = stmt.where(c.segment.in_(list(q.segments)))
    if q.consent_required:
        stmt = stmt.where(c.consent_marketing.is_(True))
    if q.services or q.contract_ends_from or q.contract_ends_until:
        lines = select(sub.customer_id).where(sub.status != "terminated")
        if q.services:
            lines = lines.where(sub.service.in_(list(q.services)))
        if q.contract_ends_from:
            lines = lines.where(sub.ended_on >= q.contract_ends_from)
        if q.contract_ends_until:
            lines = lines.where(sub.ended_on <= q.contract_ends_until)
        stmt = stmt.where(c.customer_id.in_(lines))
    return stmt.order_by(c.customer_id)


async def _numbers(s: AsyncSession, ids: list[str]) -> dict[str, list[str]]:
    """Per customer, the numbers to try in order of preference."""
    ranked: dict[str, list[tuple[int, int, str]]] = {}
    for i in range(0, len(ids), 500):
        chunk = ids[i : i + 500]
        subs = await s.execute(
            select(Subscription.customer_id, Subscription.service, Subscription.status, Subscription.id,
                   Subscription.number_e164)
            .where(Subscription.customer_id.in_(chunk), Subscription.number_e164.is_not(None))
        )  # fmt: skip
        for cid, service, status, sid, number in subs:
            rank = (0 if service in MOBILE else 1) + (0 if status == "active" else 2)
            ranked.setdefault(cid, []).append((rank, sid, str(number)))
        contacts = await s.execute(
            select(ContactNumber.customer_id, ContactNumber.id, ContactNumber.number_e164).where(
                ContactNumber.customer_id.in_(chunk)
            )
        )
        for cid, nid, number in contacts:
            ranked.setdefault(cid, []).append((9, nid, number))
    return {cid: [n for _, _, n in sorted(v)] for cid, v in ranked.items()}


async def build_from_crm(
    store: CampaignStore,
    sessions: async_sessionmaker[AsyncSession],
    tier_and_debt: TierAndDebt,
    campaign_id: int,
    q: CrmQuery,
    *,
    max_rows: int,
) -> CrmImport:
    campaign = await store.get(campaign_id)  # 404 first
    consent = q.consent_required or campaign.purpose == "advertising"
    q = CrmQuery(**{**q.__dict__, "consent_required": consent})
    async with sessions() as s:
        found = (await s.execute(_candidates(q).limit(max_rows + 1))).all()
        if len(found) > max_rows:
            raise QueryTooBroad(f"the query selects more than {max_rows} customers: narrow it")
        skipped: dict[str, int] = {}
        chosen: list[tuple[str, str]] = []
        for cid, name in found:
            if q.tiers or q.min_debt_vnd is not None:
                facts = await tier_and_debt(cid)
                if facts is None:
                    continue
                tier, debt = facts
                if (q.tiers and tier not in q.tiers) or (
                    q.min_debt_vnd is not None and debt < q.min_debt_vnd
                ):
                    continue
            chosen.append((cid, name))
        numbers = await _numbers(s, [cid for cid, _ in chosen])
    entries: dict[str, ListEntry] = {}
    for n, (cid, name) in enumerate(chosen):
        number = None
        for raw in numbers.get(cid, []):
            try:
                number = to_e164(raw)
                break
            except InvalidNumber:
                continue
        if number is None:
            skipped["no_number"] = skipped.get("no_number", 0) + 1
            continue
        prev = entries.get(number)
        if prev is None:
            entries[number] = ListEntry(number, q.priority, name[:120], cid, (n + 1,))
        else:  # two customers on one number: one contact, the first customer's
            entries[number] = ListEntry(
                number, prev.priority, prev.name, prev.customer_id, (*prev.rows, n + 1)
            )
    result = await store.import_list(campaign_id, list(entries.values()), {})
    return CrmImport(result, len(chosen), skipped)
