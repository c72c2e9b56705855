"""The campaign dialler: progressive dialling of the running campaigns, every call checked against
Việt Nam's rules (campaigns/rules.py) just before it is placed.

Each round (every ``poll_seconds``, or sooner when an agent's state changes): for each running
campaign inside its start/end, in campaign order, one dial per ready agent of its queue not already
held by a dial in progress (an agent is counted once across campaigns and queues). Contacts are taken
highest priority first. Before each dial the rules decide; a refusal is recorded with its reason (the
report counts them) and the contact waits for the moment the rule allows, or is refused for good
(campaigns/schedule.py). The customer's leg is dialled first through the outbound routes and, once
answered, put into the campaign's queue ahead of inbound callers (an agent was kept for them): the
agent is never rung for a customer who did not answer. ``preview`` campaigns are not dialled here
(the agent dials from the pop). ``predictive`` ones (with a :class:`~campaigns.predictive.PredictivePacing`)
dial as many legs as the pacing says for their ready agents, none of them kept: an answered customer
who finds no agent within ``connect_seconds`` hears the message and is counted abandoned. With AMD
on, a machine's attempt is ``machine`` (retried by its rule) and AMD's verdict is stored on it.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Iterable
from datetime import UTC, datetime

from campaigns.amd import outcome_after_amd
from campaigns.calls_ami import CampaignCalls
from campaigns.predictive import CONTEXT, CampaignLegs, PredictivePacing
from campaigns.rules import refusal
from campaigns.schedule import after_dial, after_refusal
from campaigns.store import CampaignStore, CampaignView, ContactView
from core.dial_loop import DialLoop
from core.phone import national
from core.reservations import AgentReservations
from ivr.callback_dialler import Dialer, DialJob, DialNotPlaced, ReadyAgent

log = logging.getLogger(__name__)

OUTBOUND_PRIORITY = 900  # QUEUE_PRIO of an answered campaign customer: ahead of inbound callers
CONNECT_SECONDS = 60.0  # how long an answered customer may wait in the queue for the kept agent

# Whether the contact consented to advertising calls (the profile's consent flags).
ConsentOf = Callable[[ContactView], Awaitable[bool]]


def _utcnow() -> datetime:
    return datetime.now(UTC)


class ProgressiveDialler(DialLoop):
    def __init__(
        self,
        store: CampaignStore,
        dialer: Dialer,
        calls: CampaignCalls,
        ready_agents: Callable[[], Awaitable[Iterable[ReadyAgent]]],
        consent_of: ConsentOf,
        *,
        poll_seconds: float,
        clock: Callable[[], datetime] = _utcnow,
        reservations: AgentReservations | None = None,
        legs: CampaignLegs | None = None,
        pacing: PredictivePacing | None = None,
        connect_seconds: int = 1,
    ) -> None:
        self.store = store
        self._dialer = dialer
        self._calls = calls
        self._ready_agents = ready_agents
        self._consent_of = consent_of
        super().__init__("campaign-dialler", reservations)
        self._poll_seconds = poll_seconds
        self.clock = clock
        self.in_flight: dict[str, int] = {}  # dials in progress per queue (each holds an agent)
        self.legs = legs  # AMD verdicts and predictive outcomes, from AMI
        self.pacing = pacing  # None: predictive campaigns are dialled progressively
        self._connect_seconds = connect_seconds

    @property
    def poll_seconds(self) -> float:
        return self._poll_seconds

    async def release_stale(self) -> None:
        released = await self.store.release_dialling()
        if released:
            log.warning("campaign dialler: %d contact(s) left mid-dial by a previous run released", released)

    async def tick(self) -> list[int]:
        """One round: the ids of the contacts it started dialling (refused ones are recorded)."""
        async with self._tick_lock:
            now = self.clock()
            campaigns = [c for c in await self.store.running() if c.live(now) and c.mode != "preview"]
            if not campaigns:
                return []
            free = self.free_agents(await self._ready_agents())
            # Agents on predictive calls are busy even while the ACD still says ready.
            used: set[str] = self.legs.busy_agents() if self.legs is not None else set()

            def take(queue: str) -> str | None:
                # Counted again at each take: another dialler may have kept an agent since.
                for a in self.free_agents(free):
                    if a.agent_id not in used and queue in a.queues:
                        used.add(a.agent_id)
                        return a.agent_id
                return None

            for queue, n in self.in_flight.items():  # agents already kept for dials in progress
                for _ in range(n):
                    take(queue)
            started: list[int] = []
            for campaign in campaigns:
                started += await self._campaign_round(campaign, take, now)
            return started

    async def _campaign_round(
        self, campaign: CampaignView, take: Callable[[str], str | None], now: datetime
    ) -> list[int]:
        if self._paced(campaign):
            return await self._predictive_round(campaign, take, now)
        started: list[int] = []
        while (agent := take(campaign.queue)) is not None:
            token = self.keep(agent, campaign.queue)  # at once: no other dialler counts them now
            contact = await self._next_contact(campaign, now)
            if contact is None:
                self.let_go(token)
                break  # the agent stays free: nobody on this list may be called now
            self._dial(campaign, contact, token)
            started.append(contact.id)
        return started

    async def _predictive_round(
        self, campaign: CampaignView, take: Callable[[str], str | None], now: datetime
    ) -> list[int]:
        assert self.pacing is not None
        if not self.pacing.known(campaign.id):  # first round on this node: the stored counts
            st = await self.store.stats(campaign.id)
            self.pacing.resume(
                campaign.id, dialled=st["dialled"], answered=st["answered"], abandoned=st["abandoned"]
            )
        ready = 0
        while take(campaign.queue):  # counted for this campaign only, but not kept per dial
            ready += 1
        started: list[int] = []
        for _ in range(self.pacing.dials(campaign.id, campaign.queue, ready)):
            contact = await self._next_contact(campaign, now)
            if contact is None:
                break
            self.pacing.placed(campaign.id, contact.id)
            self.spawn(self._work(campaign, contact), name=f"campaign-dial-{contact.id}")
            started.append(contact.id)
        return started

    def _paced(self, campaign: CampaignView) -> bool:
        return campaign.mode == "predictive" and self.pacing is not None and self.legs is not None

    async def _next_contact(self, campaign: CampaignView, now: datetime) -> ContactView | None:
        """The next contact that may be called now, claimed; refusals on the way are recorded."""
        for contact in await self.store.ready(campaign.id, now, 20):
            if not await self.store.claim(contact.id):
                continue  # another node's dialler took it
            if await self._refused(campaign, contact, now):
                continue
            return contact
        return None

    async def _refused(self, campaign: CampaignView, contact: ContactView, now: datetime) -> bool:
        consent = campaign.purpose != "advertising" or await self._consent_of(contact)
        who = await self.store.recipient(contact, campaign.purpose, consent, now)
        reason = refusal(campaign.rules, who, await self.store.dnc_for(contact.number), now)
        if reason is None:
            return False
        nxt = after_refusal(reason, campaign.rules, last_call_at=who.last_call_at, now=now)
        await self.store.record_refusal(contact, campaign, reason, nxt, now)
        log.info("campaign %d: contact %d refused (%s)", campaign.id, contact.id, reason)
        return True

    def _dial(self, campaign: CampaignView, contact: ContactView, token: int | None = None) -> None:
        self.in_flight[campaign.queue] = self.in_flight.get(campaign.queue, 0) + 1
        self.spawn(self._work(campaign, contact, token), name=f"campaign-dial-{contact.id}")

    async def _work(self, campaign: CampaignView, contact: ContactView, token: int | None = None) -> None:
        at = self.clock()
        pop = {
            "id": campaign.id,
            "name": campaign.name,
            "purpose": campaign.purpose,
            "script": campaign.script,
            "dispositions": campaign.dispositions,
            "contact_id": contact.id,
        }
        predictive = self._paced(campaign)
        variables = [
            ("TONGDAI_CAMPAIGN", str(campaign.id)),
            ("TONGDAI_CMP_MODE", "predictive" if predictive else "progressive"),
            ("TONGDAI_CONNECT", str(self._connect_seconds)),
        ]
        if campaign.amd is not None and self.legs is not None:
            variables.append(("TONGDAI_AMD", campaign.amd.dialplan_value()))
        job = DialJob(
            contact.id, national(contact.number), campaign.queue, OUTBOUND_PRIORITY, "", contact.customer_id,
            context=CONTEXT, variables=tuple(variables),
        )  # fmt: skip
        self._calls.expect(contact.id, pop)
        if self.legs is not None:
            self.legs.expect(contact.id, campaign.id)
        result = None
        try:
            try:
                outcome = (await self._dialer.dial(job)).outcome
            except DialNotPlaced as err:
                log.warning("campaign %d: contact %d not dialled: %s", campaign.id, contact.id, err)
                outcome = "failed"
            if predictive:
                outcome, connected, result = await self._predictive_outcome(campaign, contact, outcome)
            else:
                connected = outcome == "reached" and await self._calls.connected(contact.id, CONNECT_SECONDS)
            amd = self.legs.amd(contact.id) if self.legs is not None else None
            if outcome == "reached" and amd is not None and not connected:
                outcome = outcome_after_amd(amd[0]) or outcome
            attempts = contact.attempts + (outcome != "failed")
            nxt = after_dial(
                outcome,
                attempts,
                max_attempts=campaign.max_attempts,
                retry_minutes=campaign.retry_minutes,
                now=self.clock(),
            )
            await self.store.record_dial(
                contact, campaign, outcome, connected=connected, call_id=self._calls.call_id(contact.id),
                nxt=nxt, at=at, agent_id=self._calls.agent_of(contact.id), amd=amd,
            )  # fmt: skip
            if result == "connected" and self.legs is not None and self.pacing is not None:
                # Its agent is busy until the call ends: the pacing estimates when they will be free.
                await self.legs.ended(contact.id, 4 * 3600)
                self.pacing.ended(campaign.id, contact.id)
        except Exception:
            # Left "dialling": released at the dialler's next start.
            log.exception("campaign %d: contact %d: dial failed", campaign.id, contact.id)
        finally:
            self._calls.forget(contact.id)
            if self.legs is not None:
                self.legs.forget(contact.id)
            if not predictive:
                self.in_flight[campaign.queue] -= 1
            self.let_go(token)
            self.wake()  # an agent is free again, or the pacing learnt something

    async def _predictive_outcome(
        self, campaign: CampaignView, contact: ContactView, outcome: str
    ) -> tuple[str, bool, str | None]:
        """(outcome, connected, what became of the answered call) of a predictive dial."""
        assert self.pacing is not None and self.legs is not None
        self.pacing.answered(
            campaign.id, contact.id, reached=outcome == "reached", placed=outcome != "failed"
        )
        if outcome != "reached":
            return outcome, False, None
        self.wake()  # an answer changes the count of customers waiting for an agent
        # AMD listens up to its total analysis time, then the queue; the message is a few seconds.
        limit = (campaign.amd.total_analysis_time / 1000 if campaign.amd else 0) + self._connect_seconds + 30
        result = await self.legs.result(contact.id, limit)
        self.pacing.settled(campaign.id, contact.id, result)
        return ("machine" if result == "machine" else "reached"), result == "connected", result
