"""Predictive mode on the real dialler, and what AMI says about each campaign leg after the answer.

:class:`CampaignLegs` follows every campaign call past the customer's answer (the dialplan is
``tongdai-campaign``, asterisk_conf): AMD's verdict (``UserEvent TongdaiCampaign`` step ``amd``), the
customer connected to an agent (``AgentConnect``), abandoned (step ``abandoned``: no agent within
``campaigns.connect_seconds``, they hear ``campaign_no_agent``), the end of the call. Calls are tied to
contacts by our channel ids ``cmp-<contact>-<hex>`` (campaigns/calls_ami.py) and the ``Contact``
header of the user events.

:class:`PredictivePacing` keeps one :class:`~campaigns.pacing.Pacer` per predictive campaign, fed by
those outcomes: how many of its dials are ringing, how many answered customers wait for an agent,
which agents hold its calls and when they should be free again (the measured mean talk time plus
the queue's wrap-up). Each round it says how many customer legs to dial for the campaign's ready
agents. Its counts start from the campaign's stored attempts (campaigns/store.py ``stats``), so the
abandoned rate is held over the whole campaign, across restarts, not only since the node started.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import re
import time
from collections import deque
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Literal

from campaigns.pacing import Pacer, PacingConfig, Snapshot
from core.ami import AmiEvent
from core.members import agent_from_member

log = logging.getLogger(__name__)

CONTEXT = "tongdai-campaign"
USER_EVENT = "TongdaiCampaign"
_ID = re.compile(r"^cmp-([0-9]+)-[0-9a-f]{8}$")

Result = Literal["connected", "abandoned", "machine", "gone"]


def _contact_of(channel_id: str) -> int | None:
    m = _ID.match(channel_id)
    return int(m.group(1)) if m else None


@dataclass
class _Leg:
    campaign_id: int
    amd: tuple[str, str] | None = None  # (AMDSTATUS, AMDCAUSE)
    message_delay: float | None = None  # seconds from the answer to the abandoned message
    agent_id: str = ""  # the agent who took the call (AgentConnect)
    result: asyncio.Future[Result] = field(default_factory=lambda: asyncio.get_running_loop().create_future())
    ended: asyncio.Future[None] = field(default_factory=lambda: asyncio.get_running_loop().create_future())


class CampaignLegs:
    """Register :meth:`handle` on the AMI client; the dialler :meth:`expect`\\ s each dial."""

    def __init__(self) -> None:
        self._legs: dict[int, _Leg] = {}

    def expect(self, contact_id: int, campaign_id: int) -> None:
        self._legs[contact_id] = _Leg(campaign_id)

    def forget(self, contact_id: int) -> None:
        self._legs.pop(contact_id, None)

    def amd(self, contact_id: int) -> tuple[str, str] | None:
        leg = self._legs.get(contact_id)
        return leg.amd if leg is not None else None

    def busy_agents(self) -> set[str]:
        """Agents talking on a campaign call, from its AgentConnect to its end. The ACD reports an
        agent busy a moment after Asterisk connected them: counted ready meanwhile, a predictive round
        would dial a batch ahead for agents already talking (seen on the sandbox: five abandons in a
        second)."""
        return {leg.agent_id for leg in self._legs.values() if leg.agent_id and not leg.ended.done()}

    def message_delay(self, contact_id: int) -> float | None:
        leg = self._legs.get(contact_id)
        return leg.message_delay if leg is not None else None

    async def result(self, contact_id: int, timeout: float) -> Result:
        """How the answered call went: to an agent, abandoned, a machine, or gone (hung up first)."""
        leg = self._legs.get(contact_id)
        if leg is None:
            return "gone"
        try:
            async with asyncio.timeout(timeout):
                return await asyncio.shield(leg.result)
        except TimeoutError:
            return "gone"

    async def ended(self, contact_id: int, timeout: float) -> None:
        """Until the call ends (the agent's AgentComplete, or the customer's leg hung up)."""
        leg = self._legs.get(contact_id)
        if leg is not None:
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(timeout):
                    await asyncio.shield(leg.ended)

    def _settle(self, leg: _Leg, result: Result) -> None:
        if not leg.result.done():
            leg.result.set_result(result)

    async def handle(self, ev: AmiEvent) -> None:
        name = ev.name
        if name == "UserEvent" and ev.get("UserEvent") == USER_EVENT:
            self._user_event(ev)
        elif name == "AgentConnect":
            contact = _contact_of(ev.get("Linkedid"))
            leg = self._legs.get(contact) if contact is not None else None
            if leg is not None:
                leg.agent_id = agent_from_member(ev.get("MemberName"), ev.get("Interface")) or ""
                self._settle(leg, "connected")
        elif name in ("AgentComplete", "Hangup"):
            key = ev.get("Linkedid") if name == "AgentComplete" else ev.get("Uniqueid")
            contact = _contact_of(key)
            leg = self._legs.get(contact) if contact is not None else None
            if leg is None:
                return
            self._settle(leg, "gone")
            if not leg.ended.done():
                leg.ended.set_result(None)

    def _user_event(self, ev: AmiEvent) -> None:
        try:
            contact = int(ev.get("Contact"))
        except ValueError:
            return
        leg = self._legs.get(contact)
        if leg is None:
            return
        step = ev.get("Step")
        if step == "amd":
            leg.amd = (ev.get("AmdStatus"), ev.get("AmdCause"))
            if leg.amd[0] == "MACHINE":
                self._settle(leg, "machine")
        elif step == "abandoned":
            with contextlib.suppress(ValueError):
                leg.message_delay = float(ev.get("MessageAt")) - float(ev.get("AnsweredAt"))
            self._settle(leg, "abandoned")


@dataclass
class _CampaignPace:
    pacer: Pacer
    ringing: int = 0  # placed, not answered yet
    waiting: int = 0  # answered, not yet with an agent (nor abandoned, nor a machine)
    busy: dict[int, float] = field(default_factory=dict)  # contact → connected at (monotonic)
    mean_talk: float = 60.0  # seconds, measured (EWMA) once calls end
    answer_delays: deque[float] = field(default_factory=lambda: deque(maxlen=50))  # dial → answer, s
    placed_at: dict[int, float] = field(default_factory=dict)  # contact → dialled at (monotonic)


class PredictivePacing:
    """The pacing state of each predictive campaign (see the module's docstring)."""

    def __init__(
        self,
        cfg: PacingConfig,
        *,
        wrapup: Mapping[str, float],
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.cfg = cfg
        self._wrapup = dict(wrapup)
        self._clock = clock
        self._campaigns: dict[int, _CampaignPace] = {}

    def known(self, campaign_id: int) -> bool:
        return campaign_id in self._campaigns

    def resume(self, campaign_id: int, *, dialled: int, answered: int, abandoned: int) -> None:
        """Start a campaign's pacer from its stored counts (dials, answered by a person, abandoned)."""
        pacer = Pacer(self.cfg)
        pacer.answered, pacer.abandoned = answered, abandoned
        if dialled:
            pacer.outcomes = dialled
            pacer.answer_rate = answered / dialled
        self._campaigns[campaign_id] = _CampaignPace(pacer)

    def pacer(self, campaign_id: int) -> Pacer:
        return self._state(campaign_id).pacer

    def _state(self, campaign_id: int) -> _CampaignPace:
        if campaign_id not in self._campaigns:
            self.resume(campaign_id, dialled=0, answered=0, abandoned=0)
        return self._campaigns[campaign_id]

    def dials(self, campaign_id: int, queue: str, ready: int) -> int:
        """How many customer legs to dial now for ``ready`` agents of the campaign's queue."""
        st = self._state(campaign_id)
        now = self._clock()
        hold = st.mean_talk + self._wrapup.get(queue, 0.0)
        free_in = tuple(max(0.0, t0 + hold - now) for t0 in st.busy.values())
        # Busy agents count as available if they should be free by the time a call placed now is
        # answered: the lookahead is the measured dial-to-answer time (1-3 s on the sandbox, 10-20 s on
        # real networks), its low fifth rather than its mean, since the early answers are the ones
        # that find the agent still talking.
        d = sorted(st.answer_delays)
        lookahead = d[len(d) // 5] if d else None
        return st.pacer.dials(Snapshot(ready, free_in, st.ringing, st.waiting, lookahead))

    def placed(self, campaign_id: int, contact_id: int) -> None:
        st = self._state(campaign_id)
        st.ringing += 1
        st.placed_at[contact_id] = self._clock()

    def answered(self, campaign_id: int, contact_id: int, *, reached: bool, placed: bool = True) -> None:
        """The dial's OriginateResponse: answered (by someone) or not; ``placed`` False: it never left
        (no AMI link), which says nothing about the answer rate."""
        st = self._state(campaign_id)
        st.ringing = max(0, st.ringing - 1)
        t0 = st.placed_at.pop(contact_id, None)
        if reached:
            st.waiting += 1
            if t0 is not None:
                st.answer_delays.append(self._clock() - t0)
        elif placed:
            st.pacer.record_dial_outcome(False)

    def settled(self, campaign_id: int, contact_id: int, result: Result) -> None:
        """What became of an answered call (:meth:`CampaignLegs.result`)."""
        st = self._state(campaign_id)
        st.waiting = max(0, st.waiting - 1)
        st.pacer.record_dial_outcome(result != "machine")
        if result == "connected":
            st.busy[contact_id] = self._clock()
            st.pacer.record_answered(abandoned=False)
        elif result != "machine":
            # Abandoned, or hung up before an agent took them: both count against the cap (the
            # report's "abandoned" is every answered call no agent took).
            st.pacer.record_answered(abandoned=True)
            log.info(
                "campaign %d: contact %d abandoned (%s); rate %.2f%% of %d answered",
                campaign_id, contact_id, result, 100 * st.pacer.abandon_rate, st.pacer.answered,
            )  # fmt: skip

    def ended(self, campaign_id: int, contact_id: int) -> None:
        """A connected call ended: its agent is in wrap-up, the talk time is measured."""
        st = self._campaigns.get(campaign_id)
        if st is None:
            return
        t0 = st.busy.pop(contact_id, None)
        if t0 is not None:
            st.mean_talk += 0.2 * (self._clock() - t0 - st.mean_talk)
