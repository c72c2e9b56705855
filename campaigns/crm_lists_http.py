"""HTTP edge of lists built from a CRM query (campaigns/crm_lists.py), for supervisors:
``POST /api/campaigns/{id}/contacts/query`` with the filters; audited ``campaign.import``."""

from __future__ import annotations

import datetime as dt
from typing import Any, Literal

from pydantic import Field, field_validator
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from campaigns.crm_lists import CrmQuery, TierAndDebt, build_from_crm
from campaigns.http import _IMPORTED, _LINE, CampaignRef
from campaigns.lists import MAX_PRIORITY
from campaigns.store import CampaignStore
from core.audit import Audit
from core.errors import BadRequest
from core.http import Access, Call, Route

Tier = Literal["large", "sme", "other", "standard"]  # crm_bridge.config.TIERS
Service = Literal[
    "mobile_prepaid", "mobile_postpaid", "fixed", "gphone", "internet", "tv"
]  # crm_bridge.models
Segment = Literal["vip", "potential", "new", "churn_risk"]


class QueryArgs(CampaignRef):
    tiers: list[Tier] = Field(default_factory=list, max_length=4, description="the pop's tier")
    services: list[Service] = Field(
        default_factory=list, max_length=6, description="an active subscription of"
    )
    provinces: list[str] = Field(default_factory=list, max_length=63, description="the customer's province")
    segments: list[Segment] = Field(default_factory=list, max_length=4)
    min_debt_vnd: int | None = Field(None, ge=0, le=10**12, description="overdue debt at least (the pop's)")
    contract_ends_from: dt.date | None = Field(None, description="a subscription's contract ends on or after")
    contract_ends_until: dt.date | None = Field(None, description="… and on or before")
    priority: int = Field(0, ge=-MAX_PRIORITY, le=MAX_PRIORITY, description="of every contact added")

    @field_validator("provinces")
    @classmethod
    def _names(cls, v: list[str]) -> list[str]:
        import re

        out = [p.strip() for p in v]
        if any(not p or len(p) > 64 or not re.match(_LINE, p) for p in out):
            raise ValueError("each province: 1 to 64 characters, no control characters")
        return out


_RESULT: dict[str, Any] = {
    "type": "object",
    "required": [*_IMPORTED["required"], "matched", "skipped"],
    "properties": {
        **_IMPORTED["properties"],
        "matched": {"type": "integer"},
        "skipped": {"type": "object", "additionalProperties": {"type": "integer"}},
    },
}


def crm_list_routes(
    store: CampaignStore,
    sessions: async_sessionmaker[AsyncSession],
    tier_and_debt: TierAndDebt,
    audit: Audit,
    *,
    max_rows: int,
) -> list[Route]:
    async def from_query(c: Call[QueryArgs]) -> Any:
        a = c.args
        if a.contract_ends_from and a.contract_ends_until and a.contract_ends_until < a.contract_ends_from:
            raise BadRequest("contract_ends_until must not be before contract_ends_from")
        q = CrmQuery(
            tiers=a.tiers, services=a.services, provinces=a.provinces, segments=a.segments,
            min_debt_vnd=a.min_debt_vnd, contract_ends_from=a.contract_ends_from,
            contract_ends_until=a.contract_ends_until, priority=a.priority,
        )  # fmt: skip
        r = await build_from_crm(store, sessions, tier_and_debt, a.id, q, max_rows=max_rows)
        res = r.result
        detail = f"CRM query ({q.describe()}): {r.matched} matched, {res.added} added, {res.merged} merged"
        await audit(c.who.agent_id, "campaign.import", "campaign", str(a.id), detail=detail[:1000])
        return r.to_json()

    return [
        Route(
            "POST", "/api/campaigns/{id}/contacts/query",
            "Build a campaign's contacts from a CRM query: tier, service, province, segment, debt, "
            "contract end (linked to the customers; audited)",
            from_query, QueryArgs, access=Access.SUPERVISOR, result=_RESULT, tag="campaigns",
            errors=(404, 409),
        ),
    ]  # fmt: skip
