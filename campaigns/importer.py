"""A CSV list into a campaign: parsed and checked whole (campaigns/lists.py), each number linked to
its customer through the CRM directory, then stored in one transaction (all or nothing)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from campaigns.lists import parse_list
from campaigns.store import CampaignStore, ImportResult

# E.164 → the customer holding that number, or None (the CRM directory's by_e164).
CustomerOf = Callable[[str], Awaitable[str | None]]


async def import_csv(
    store: CampaignStore, customer_of: CustomerOf, campaign_id: int, text: str, *, max_rows: int
) -> ImportResult:
    await store.get(campaign_id)  # an unknown campaign: 404 before the list is read
    entries = parse_list(text, max_rows=max_rows)
    linked: dict[str, str] = {}
    for e in entries:
        if e.customer_id is None:
            cid = await customer_of(e.number)
            if cid is not None:
                linked[e.number] = cid
    return await store.import_list(campaign_id, entries, linked)
