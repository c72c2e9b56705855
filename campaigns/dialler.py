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
(the agent dials from the pop); ``predictive`` ones are dialled progressively for now.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Iterable
from datetime import UTC, datetime

from campaigns.calls_ami import CampaignCalls
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
            used: set[str] = set()

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
        started: list[int] = []
        batch = 20
        while (agent := take(campaign.queue)) is not None:
            token = self.keep(agent, campaign.queue)  # at once: no other dialler counts them now
            placed = False
            for contact in await self.store.ready(campaign.id, now, batch):
                if not await self.store.claim(contact.id):
                    continue  # another node's dialler took it
                if await self._refused(campaign, contact, now):
                    continue
                self._dial(campaign, contact, token)
                started.append(contact.id)
                placed = True
                break
            if not placed:
                self.let_go(token)
                break  # the agent stays free: nobody on this list may be called now
        return started

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
        job = DialJob(
            contact.id, national(contact.number), campaign.queue, OUTBOUND_PRIORITY, "", contact.customer_id
        )
        self._calls.expect(contact.id, pop)
        try:
            try:
                outcome = (await self._dialer.dial(job)).outcome
            except DialNotPlaced as err:
                log.warning("campaign %d: contact %d not dialled: %s", campaign.id, contact.id, err)
                outcome = "failed"
            connected = outcome == "reached" and await self._calls.connected(contact.id, CONNECT_SECONDS)
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
                nxt=nxt, at=at, agent_id=self._calls.agent_of(contact.id),
            )  # fmt: skip
        except Exception:
            # Left "dialling": released at the dialler's next start.
            log.exception("campaign %d: contact %d: dial failed", campaign.id, contact.id)
        finally:
            self._calls.forget(contact.id)
            self.in_flight[campaign.queue] -= 1
            self.let_go(token)
            self.wake()  # an agent is free again
