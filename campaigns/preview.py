"""Preview dialling: a ``preview`` campaign offers its next contact to a ready agent of its queue; the
agent reads the profile and the script, then dials (through the desktop's click-to-call, the same
outbound path as any agent's call) or skips.

- **Offer** (``offer``): the agent's own held contact if they have one; else, across the running
  preview campaigns of the agent's queues (in campaign order), the next due contact (priority, then
  list order) is held for the agent (``state = held``, ``held_by``; compare-and-set, so two agents
  never get one contact) and checked against the calling rules first, exactly as the progressive
  dialler checks before a dial (a refusal is recorded with its reason and the next contact tried).
  While the contact is held, the agent is reserved (``core/reservations.py``): no dialler counts them
  as free. A hold older than :data:`HOLD_MINUTES` goes back to the list.
- **Dial** (``dial``): the rules are checked again (time has passed), then an attempt is recorded with
  outcome ``dialled`` and the agent, the contact is ``dialling``; the desktop then places the call with
  click-to-call. After the call the agent tells the outcome (and, if answered, the disposition)
  through campaigns/dispositions.py, which schedules the contact.
- **Skip** (``skip``): the contact goes back to the list, due again after :data:`SKIP_MINUTES` (so the
  next offer is another contact).
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Awaitable, Callable
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from campaigns.models import CampaignAttempt, CampaignContact
from campaigns.rules import Refusal, refusal
from campaigns.schedule import after_refusal
from campaigns.store import CampaignStore, CampaignView, ContactView, _utc
from core.db import unit_of_work
from core.errors import Conflict
from core.phone import national
from core.reservations import AgentReservations

log = logging.getLogger(__name__)

OWNER = "preview"
HOLD_MINUTES = 30.0  # an offer nobody dialled or skipped (the agent left) goes back to the list
SKIP_MINUTES = 15.0
_BATCH = 20

# The queues of a ready agent (None: the agent is not ready: no offer).
ReadyQueues = Callable[[str], Awaitable[frozenset[str] | None]]
ConsentOf = Callable[[ContactView], Awaitable[bool]]
# The customer's profile as the pop shows it (None: no such customer), read for ``agent_id``.
ProfileOf = Callable[[str, str], Awaitable[dict[str, Any] | None]]


class AgentNotReady(Conflict):
    error_id = "campaign.agent_not_ready"


class NotHeld(Conflict):
    """The contact is not (any more) offered to this agent."""

    error_id = "campaign.not_held"


class CallRefused(Conflict):
    """The calling rules refuse the call now (recorded, with its reason)."""

    error_id = "campaign.call_refused"

    def __init__(self, message: str, reason: Refusal) -> None:
        super().__init__(message)
        self.reason = reason


class PreviewDesk:
    def __init__(
        self,
        store: CampaignStore,
        ready_queues: ReadyQueues,
        consent_of: ConsentOf,
        profile_of: ProfileOf,
        reservations: AgentReservations,
        *,
        clock: Callable[[], dt.datetime] | None = None,
    ) -> None:
        self.store = store
        self.sessions: async_sessionmaker[AsyncSession] = store.sessions
        self._ready_queues = ready_queues
        self._consent_of = consent_of
        self._profile_of = profile_of
        self.reservations = reservations
        self.clock = clock or store.clock
        self._tokens: dict[int, int] = {}  # held contact → the agent's reservation

    def _keep(self, agent_id: str, contact_id: int) -> None:
        if contact_id not in self._tokens:
            self._tokens[contact_id] = self.reservations.hold(OWNER, agent_id)

    def _let_go(self, contact_id: int) -> None:
        self.reservations.release(self._tokens.pop(contact_id, None))

    async def offer(self, agent_id: str) -> dict[str, Any] | None:
        """The contact offered to the agent (held for them), or None when no preview campaign of
        theirs has a contact that may be called now."""
        now = self.clock()
        await self._release_stale(now)
        mine = await self._held_by(agent_id)
        if mine is not None:
            campaign = await self.store.get(mine.campaign_id)
            return await self._offer(agent_id, campaign, mine)
        queues = await self._ready_queues(agent_id)
        if queues is None:
            raise AgentNotReady("only a ready agent is offered preview calls: set yourself ready")
        if self.reservations.kept(agent_id, except_owner=OWNER):
            raise AgentNotReady("a dial is already kept for you: take that call first")
        for campaign in await self.store.running():
            if campaign.mode != "preview" or not campaign.live(now) or campaign.queue not in queues:
                continue
            contact = await self._next_contact(agent_id, campaign, now)
            if contact is not None:
                return await self._offer(agent_id, campaign, contact)
        return None

    async def dial(self, agent_id: str, campaign_id: int, contact_id: int) -> dict[str, Any]:
        """Record the attempt and hand back the number the desktop dials (click-to-call)."""
        now = self.clock()
        campaign = await self.store.get(campaign_id)
        contact = await self._mine(agent_id, campaign_id, contact_id)
        reason = await self._refusal(campaign, contact, now)
        if reason is not None:
            self._let_go(contact_id)
            raise CallRefused(f"the calling rules refuse this call now: {reason}", reason)
        async with unit_of_work(self.sessions) as s:
            attempt = CampaignAttempt(
                campaign_id=campaign.id, contact_id=contact.id, number=contact.number,
                purpose=campaign.purpose, at=_utc(now), outcome="dialled", reason=None, connected=False,
                call_id="", agent_id=agent_id[:16],
            )  # fmt: skip
            s.add(attempt)
            await s.execute(
                update(CampaignContact)
                .where(CampaignContact.id == contact.id)
                .values(
                    state="dialling", held_by=None, held_at=None, last_outcome="dialled",
                    attempts=CampaignContact.attempts + 1,
                )
            )  # fmt: skip
            await s.flush()
            attempt_id = attempt.id
        self._let_go(contact_id)
        return {
            "campaign_id": campaign.id,
            "contact_id": contact.id,
            "attempt_id": attempt_id,
            "number": contact.number,
            "dial": national(contact.number),
        }

    async def skip(self, agent_id: str, campaign_id: int, contact_id: int) -> dict[str, Any]:
        now = self.clock()
        await self._mine(agent_id, campaign_id, contact_id)
        due = now + dt.timedelta(minutes=SKIP_MINUTES)
        async with unit_of_work(self.sessions) as s:
            await s.execute(
                update(CampaignContact)
                .where(CampaignContact.id == contact_id)
                .values(state="pending", held_by=None, held_at=None, next_attempt_at=_utc(due))
            )
        self._let_go(contact_id)
        return {"campaign_id": campaign_id, "contact_id": contact_id, "next_attempt_at": due.isoformat()}

    # --- inside -----------------------------------------------------------------------------------

    async def _next_contact(
        self, agent_id: str, campaign: CampaignView, now: dt.datetime
    ) -> ContactView | None:
        for _ in range(5):  # at most 100 contacts a rule refuses before this offer gives up for now
            batch = await self.store.ready(campaign.id, now, _BATCH)
            if not batch:
                return None
            for contact in batch:
                if not await self._hold(agent_id, contact.id, now):
                    continue  # another agent's offer took it
                reason = await self._refusal(campaign, contact, now)
                if reason is None:
                    return contact
        return None

    async def _hold(self, agent_id: str, contact_id: int, now: dt.datetime) -> bool:
        self._keep(agent_id, contact_id)  # at once: no dialler may count the agent meanwhile
        async with unit_of_work(self.sessions) as s:
            done = await s.execute(
                update(CampaignContact)
                .where(CampaignContact.id == contact_id, CampaignContact.state == "pending")
                .values(state="held", held_by=agent_id, held_at=_utc(now))
            )
        if not done.rowcount:  # type: ignore[attr-defined]
            self._let_go(contact_id)
            return False
        return True

    async def _refusal(
        self, campaign: CampaignView, contact: ContactView, now: dt.datetime
    ) -> Refusal | None:
        """The progressive dialler's check before a dial (campaigns/dialler.py ``_refused``); a refusal
        is recorded, the contact scheduled by the rule, and the agent's reservation released."""
        consent = campaign.purpose != "advertising" or await self._consent_of(contact)
        who = await self.store.recipient(contact, campaign.purpose, consent, now)
        reason = refusal(campaign.rules, who, await self.store.dnc_for(contact.number), now)
        if reason is None:
            return None
        nxt = after_refusal(reason, campaign.rules, last_call_at=who.last_call_at, now=now)
        await self.store.record_refusal(contact, campaign, reason, nxt, now)
        async with unit_of_work(self.sessions) as s:
            await s.execute(
                update(CampaignContact)
                .where(CampaignContact.id == contact.id)
                .values(held_by=None, held_at=None)
            )
        self._let_go(contact.id)
        log.info("campaign %d: preview contact %d refused (%s)", campaign.id, contact.id, reason)
        return reason

    async def _held_by(self, agent_id: str) -> ContactView | None:
        async with self.sessions() as s:
            row = await s.scalar(
                select(CampaignContact)
                .where(CampaignContact.state == "held", CampaignContact.held_by == agent_id)
                .order_by(CampaignContact.id)
                .limit(1)
            )
            if row is None:
                return None
        self._keep(agent_id, row.id)  # after a restart: kept again
        return ContactView.of(row)

    async def _mine(self, agent_id: str, campaign_id: int, contact_id: int) -> ContactView:
        async with self.sessions() as s:
            row = await s.get(CampaignContact, contact_id)
            if (
                row is None
                or row.campaign_id != campaign_id
                or row.state != "held"
                or row.held_by != agent_id
            ):
                raise NotHeld(f"contact {contact_id} is not offered to you (any more): ask for the next one")
            return ContactView.of(row)

    async def _release_stale(self, now: dt.datetime) -> None:
        cutoff = now - dt.timedelta(minutes=HOLD_MINUTES)
        async with unit_of_work(self.sessions) as s:
            stale = list(
                await s.scalars(
                    select(CampaignContact.id).where(
                        CampaignContact.state == "held", CampaignContact.held_at < _utc(cutoff)
                    )
                )
            )
            if stale:
                await s.execute(
                    update(CampaignContact)
                    .where(CampaignContact.id.in_(stale))
                    .values(state="pending", held_by=None, held_at=None)
                )
        for contact_id in stale:
            self._let_go(contact_id)

    async def _offer(self, agent_id: str, campaign: CampaignView, contact: ContactView) -> dict[str, Any]:
        customer = await self._profile_of(contact.customer_id, agent_id) if contact.customer_id else None
        return {
            "campaign": {
                "id": campaign.id, "name": campaign.name, "purpose": campaign.purpose,
                "script": campaign.script, "dispositions": campaign.dispositions,
            },
            "contact": {
                "id": contact.id, "number": contact.number, "national": national(contact.number),
                "name": contact.name, "priority": contact.priority, "attempts": contact.attempts,
                "customer_id": contact.customer_id, "last_outcome": contact.last_outcome,
            },
            "customer": customer,
        }  # fmt: skip
