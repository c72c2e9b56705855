"""HTTP edge of preview dialling (campaigns/preview.py), for agents (and supervisors taking calls):
``POST /api/campaigns/preview/next`` offers the next contact (held for the agent), ``POST
/api/campaigns/{id}/contacts/{contact_id}/dial`` records the attempt and returns the number the
desktop then dials with click-to-call, ``…/skip`` gives the contact back. Each profile shown with an
offer is audited (``profile.view``, Decree 13/2023)."""

from __future__ import annotations

from typing import Any

from pydantic import Field

from campaigns.http import CampaignRef
from campaigns.preview import PreviewDesk
from core.audit import Audit
from core.http import Access, Args, Call, Route


class ContactRef(CampaignRef):
    contact_id: int = Field(ge=1, lt=10**18)


_OFFER: dict[str, Any] = {
    "type": "object",
    "required": ["offer"],
    "properties": {
        "offer": {
            "type": ["object", "null"],
            "properties": {
                "campaign": {"type": "object"},
                "contact": {"type": "object"},
                "customer": {"type": ["object", "null"]},
            },
        }
    },
}
_DIAL: dict[str, Any] = {
    "type": "object",
    "required": ["campaign_id", "contact_id", "attempt_id", "number", "dial"],
    "properties": {
        "campaign_id": {"type": "integer"},
        "contact_id": {"type": "integer"},
        "attempt_id": {"type": "integer"},
        "number": {"type": "string"},
        "dial": {"type": "string"},
    },
}
_SKIP: dict[str, Any] = {
    "type": "object",
    "required": ["campaign_id", "contact_id", "next_attempt_at"],
    "properties": {
        "campaign_id": {"type": "integer"},
        "contact_id": {"type": "integer"},
        "next_attempt_at": {"type": "string"},
    },
}


def preview_routes(desk: PreviewDesk, audit: Audit) -> list[Route]:
    async def offer(c: Call[Args]) -> Any:
        got = await desk.offer(c.who.agent_id)
        if got is not None and got["customer"] is not None:
            cid = str(got["contact"]["customer_id"])
            detail = f"campaign {got['campaign']['id']} preview"
            await audit(c.who.agent_id, "profile.view", "customer", cid, detail=detail)
        return {"offer": got}

    async def dial(c: Call[ContactRef]) -> Any:
        return await desk.dial(c.who.agent_id, c.args.id, c.args.contact_id)

    async def skip(c: Call[ContactRef]) -> Any:
        return await desk.skip(c.who.agent_id, c.args.id, c.args.contact_id)

    tag, people = "campaigns", Access.PEOPLE
    return [
        Route(
            "POST", "/api/campaigns/preview/next",
            "Preview dialling: the next contact of the agent's preview campaigns, held for them "
            "(profile and script; the profile view audited)",
            offer, access=people, result=_OFFER, tag=tag, errors=(409,), name="campaign.preview_next",
        ),
        Route(
            "POST", "/api/campaigns/{id}/contacts/{contact_id}/dial",
            "Preview dialling: the calling rules checked again, the attempt recorded; returns the number "
            "for click-to-call", dial, ContactRef, access=people, result=_DIAL, tag=tag,
            errors=(404, 409), name="campaign.preview_dial",
        ),
        Route(
            "POST", "/api/campaigns/{id}/contacts/{contact_id}/skip",
            "Preview dialling: give the offered contact back (due again later)", skip, ContactRef,
            access=people, result=_SKIP, tag=tag, errors=(404, 409), name="campaign.preview_skip",
        ),
    ]  # fmt: skip
