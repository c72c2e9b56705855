"""An agent's disposition for a campaign call, saved against the attempt and the contact.

The agent who took the call (the attempt's ``agent_id``, from app_queue's ``AgentConnect``; in
preview mode the agent who dialled) or a supervisor may save one disposition per answered call; it
must be one of the campaign's ``dispositions``. The campaign's ``disposition_rules`` say what it does
to the contact (campaigns/schedule.after_disposition): finished (the default), called back at the
time the agent gives, or treated as the outcome the call turned out to have (``wrong_number``: the
person who answered is not the customer), whose retry rule then applies.

In preview mode the agent also tells the call's outcome (the click-to-call leg is not followed by the
dialler): an attempt still ``dialled`` takes the outcome given, and only a ``reached`` one takes a
disposition.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from campaigns.models import Campaign, CampaignAttempt, CampaignContact
from campaigns.schedule import Next, after_dial, after_disposition
from campaigns.store import OUTCOMES, CampaignNotFound, CampaignView, _aware, _utc
from core.db import unit_of_work
from core.errors import BadRequest, Conflict, Forbidden, NotFound

ANSWERED = "reached"
# What an agent may tell of a preview call (``failed``: click-to-call could not place it: not an attempt).
PREVIEW_OUTCOMES = OUTCOMES


class ContactNotFound(NotFound):
    error_id = "campaign.contact_not_found"


class BadDisposition(BadRequest):
    """Not one of the campaign's dispositions (the message lists them)."""

    error_id = "campaign.bad_disposition"


class OutcomeRequired(BadRequest):
    error_id = "campaign.outcome_required"


class BadCallbackTime(BadRequest):
    error_id = "campaign.bad_callback_time"


class NoAnsweredCall(Conflict):
    """The contact has no answered call awaiting a disposition (not reached, or not recorded yet)."""

    error_id = "campaign.no_answered_call"


class DispositionExists(Conflict):
    error_id = "campaign.disposition_exists"


class NotYourCall(Forbidden):
    error_id = "campaign.not_your_call"


@dataclass(frozen=True)
class Saved:
    campaign_id: int
    contact_id: int
    attempt_id: int
    outcome: str
    disposition: str | None
    state: str  # the contact's, after the rules
    next_attempt_at: dt.datetime | None
    customer_id: str | None
    call_id: str

    def to_json(self) -> dict[str, Any]:
        return {
            "campaign_id": self.campaign_id,
            "contact_id": self.contact_id,
            "attempt_id": self.attempt_id,
            "outcome": self.outcome,
            "disposition": self.disposition,
            "state": self.state,
            "next_attempt_at": self.next_attempt_at.isoformat() if self.next_attempt_at else None,
        }


class Dispositions:
    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        *,
        clock: Callable[[], dt.datetime] = lambda: dt.datetime.now(dt.UTC),
    ) -> None:
        self.sessions = sessions
        self.clock = clock

    async def save(
        self,
        campaign_id: int,
        contact_id: int,
        *,
        agent_id: str,
        supervisor: bool,
        disposition: str | None,
        note: str = "",
        callback_at: dt.datetime | None = None,
        outcome: str | None = None,
    ) -> Saved:
        """Save the disposition (and, for a preview call still ``dialled``, its ``outcome``) on the
        contact's last attempt and apply the campaign's rules to the contact, in one transaction."""
        now = self.clock()
        async with unit_of_work(self.sessions) as s:
            row = await s.get(Campaign, campaign_id)
            if row is None:
                raise CampaignNotFound(f"no campaign {campaign_id}")
            campaign = CampaignView.of(row)
            contact = await s.get(CampaignContact, contact_id, with_for_update=True)
            if contact is None or contact.campaign_id != campaign_id:
                raise ContactNotFound(f"campaign {campaign_id} has no contact {contact_id}")
            attempt = await s.scalar(
                select(CampaignAttempt)
                .where(
                    CampaignAttempt.contact_id == contact_id,
                    CampaignAttempt.outcome.not_in(("refused", "failed")),
                )
                .order_by(CampaignAttempt.id.desc())
                .limit(1)
            )
            if attempt is None:
                raise NoAnsweredCall(f"contact {contact_id} has no call recorded yet")
            if attempt.agent_id != agent_id and not supervisor:
                raise NotYourCall(f"contact {contact_id}'s last call was taken by another agent")
            final = _checked(campaign, attempt, disposition, outcome)
            told = final != attempt.outcome
            nxt = _next(campaign, final, disposition, contact.attempts, now=now, callback_at=callback_at)
            if told and final not in PREVIEW_OUTCOMES:
                raise OutcomeRequired(f"a preview call's outcome is one of {list(PREVIEW_OUTCOMES)}")
            if told:
                attempt.outcome = final
                if final == "failed":
                    contact.attempts = max(0, contact.attempts - 1)
            if disposition is not None:
                attempt.disposition = disposition
                attempt.note = note
                attempt.disposition_at = _utc(now)
                contact.disposition = disposition
            elif told:
                attempt.disposition_at = _utc(now)
            contact.state = nxt.state
            contact.next_attempt_at = _utc(nxt.at)
            contact.last_outcome = final
            contact.held_by = None
            contact.held_at = None
            await s.flush()
            return Saved(
                campaign_id, contact_id, attempt.id, final, disposition, nxt.state, _aware(_utc(nxt.at)),
                contact.customer_id, attempt.call_id,
            )  # fmt: skip


def _checked(
    campaign: CampaignView, attempt: CampaignAttempt, disposition: str | None, outcome: str | None
) -> str:
    """The call's outcome once this save is applied; raises what the save may not do."""
    if attempt.disposition is not None:
        raise DispositionExists(f"this call already has the disposition {attempt.disposition!r}")
    if attempt.outcome == "dialled":  # a preview call: the agent tells what became of it
        if outcome is None:
            raise OutcomeRequired(f"a preview call needs its outcome: one of {list(PREVIEW_OUTCOMES)}")
        final = outcome
    elif outcome is not None and outcome != attempt.outcome:
        raise NoAnsweredCall(f"the call's outcome is already recorded: {attempt.outcome}")
    else:
        final = attempt.outcome
    if final != ANSWERED:
        if attempt.outcome != "dialled":
            raise NoAnsweredCall(f"the call was not answered ({final}): the dialler already scheduled it")
        if disposition is not None:
            raise NoAnsweredCall(f"a disposition is for an answered call, this one was {final}")
        return final
    if disposition is None or disposition not in campaign.dispositions:
        given = (
            f"{disposition!r} is not a disposition of"
            if disposition
            else "an answered call needs a disposition in"
        )
        raise BadDisposition(f"{given} campaign {campaign.name!r}: one of {campaign.dispositions}")
    return final


def _next(
    campaign: CampaignView,
    outcome: str,
    disposition: str | None,
    attempts: int,
    *,
    now: dt.datetime,
    callback_at: dt.datetime | None,
) -> Next:
    if outcome != ANSWERED:
        return after_dial(
            outcome, attempts, max_attempts=campaign.max_attempts,
            retry_minutes=campaign.retry_minutes, now=now,
        )  # fmt: skip
    effect = campaign.disposition_rules.get(disposition or "", "done")
    if effect == "callback":
        if callback_at is None:
            raise BadCallbackTime(f"{disposition!r} is a callback: give callback_at, when to call back")
        if callback_at <= now:
            raise BadCallbackTime("callback_at must be in the future")
        if campaign.ends_at is not None and callback_at >= campaign.ends_at:
            raise BadCallbackTime(
                f"callback_at must be before the campaign ends ({campaign.ends_at:%Y-%m-%d %H:%M} UTC)"
            )
    return after_disposition(
        effect, attempts, max_attempts=campaign.max_attempts, retry_minutes=campaign.retry_minutes,
        now=now, callback_at=callback_at,
    )  # fmt: skip
