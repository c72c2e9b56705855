"""The FastAGI route ``ivr``: drives the pure menu state machine (ivr/machine.py) over AGI.

The machine decides; this module only plays sounds, collects keys, asks crm_bridge who the caller is
(always within the configured decision budget: a slow database never holds a caller), and hands the
result to the dialplan in channel variables (TONGDAI_ACTION, TONGDAI_QUEUE, TONGDAI_PRIO). What the
caller did is recorded on the call through the tracker, whether the call ends in a queue, in
self-service or in a hangup mid-menu; each finished session is counted (ivr.metrics) and published
as ``ivr.finished``; callback requests are stored (ivr.callbacks) before the caller hears "confirmed".
Each session is handed the node's live outage notices (ivr.outage_board); those played to the caller
are counted as heard when the session ends.
"""

from __future__ import annotations

import asyncio
import logging
from typing import TYPE_CHECKING, Any

from acd.policy import AcdPolicy
from acd.routing import RoutingPlan, plan_from
from acd.sticky import StickyLookup
from core.agi import AgiServer, AgiSession
from core.bus import BusEvent
from core.calls import CallTracker
from core.errors import AgiHangup
from core.phone import CallerNumber, try_e164
from core.vietnam import now_vn
from crm_bridge.directory import CustomerDirectory
from crm_bridge.pop_profile import PopProfiles
from ivr.callbacks import CallbackStore
from ivr.lookup import CallerLookup, Directory, ivr_directory
from ivr.machine import (
    CallInfo,
    Collect,
    CustomerFacts,
    Digits,
    Done,
    Hangup,
    IvrSession,
    LookupCustomer,
    LookupResult,
    Play,
    Played,
    RequestCallback,
    Step,
    StepResult,
    Transfer,
)
from ivr.metrics import IvrMetrics, last_node
from ivr.outage_board import OutageBoard

if TYPE_CHECKING:  # the complete model is the composition root's; typing only, no import cycle
    from tongdai.settings import Settings

log = logging.getLogger(__name__)
DIGITS = "0123456789*#"


class IvrRoute:
    def __init__(
        self,
        settings: Settings,
        tracker: CallTracker,
        directory: CustomerDirectory | Directory,
        policy: AcdPolicy,
        *,
        callbacks: CallbackStore | None = None,
        metrics: IvrMetrics | None = None,
        pop_profiles: PopProfiles | None = None,
        plan: RoutingPlan | None = None,
        sticky: StickyLookup | None = None,
        outages: OutageBoard | None = None,
    ) -> None:
        """``directory``: the CRM's (the IVR then reads its light facts from the same database) or any
        IVR :class:`Directory`. ``pop_profiles``: where the full profile loaded for the pop is handed
        over, so the pop does not fetch it again. ``outages``: the live outage notices read to callers
        of their area (and counted once heard)."""
        self.settings = settings
        self.tracker = tracker
        # An identified caller's full profile is loaded once, off the decision path, while the caller
        # is still in the menu: handed to the pop in this process, and put in the profile cache for
        # the other nodes' desktops.
        self._warm: CustomerDirectory | None = None
        self._pop_profiles = pop_profiles
        if isinstance(directory, CustomerDirectory):
            if directory.cache is not None or pop_profiles is not None:
                self._warm = directory
            directory = ivr_directory(directory)
        self._warming: set[asyncio.Task[object]] = set()
        self.lookup = CallerLookup(
            directory, settings.asterisk.agi.decision_budget, settings.crm.customer_id.format()
        )
        self.policy = policy
        self.plan = plan or plan_from(settings)
        self.sticky = sticky
        self.callbacks = callbacks
        self.metrics = metrics or IvrMetrics()
        self.outages = outages
        self.sessions = 0

    def register(self, server: AgiServer) -> None:
        server.route("ivr", self.handle)

    async def handle(self, agi: AgiSession) -> None:
        self.sessions += 1
        req = agi.request
        # Caller ID is untrusted network data: only a plausible phone number is ever looked up. It was
        # normalised once, at the FastAGI edge: the national form for the menu, E.164 for lookups.
        caller, e164 = req.caller.national, req.caller.e164
        name = req.caller_name  # display-safe: a name with newlines arrives as one line of text
        # The lookup runs while Asterisk answers the linkedid question (a round trip on a real link).
        pending = asyncio.ensure_future(self.lookup.by_caller(e164)) if e164 else None
        try:
            call_id = await agi.get_variable("CHANNEL(linkedid)") or ""
        except BaseException:
            if pending is not None:
                pending.cancel()
            raise
        if not call_id:
            # The tracker maps the channel to its call (linkedid) once it has seen the channel.
            log.warning("FastAGI: no linkedid for channel %s; using its uniqueid", req.uniqueid)
            call_id = req.uniqueid
        profile: CustomerFacts | None = None
        by_number: tuple[CustomerFacts | None, bool] | None = None
        if pending is not None:
            by_number = await pending
            profile = by_number[0]
            self._warm_profile(call_id, profile)
        info = CallInfo(
            caller=caller,
            caller_name=name or None,
            dialled=req.env.get("dnid") or req.env.get("extension", ""),
            now=now_vn(),
            customer=profile,
            outages=self.outages.notices() if self.outages is not None else (),
        )
        ivr = IvrSession(self.settings.ivr, info)
        heard: set[int] = set()  # outage notices played to this caller
        self._annotate(call_id, ivr, profile, req.caller, name)
        decided: Step | None = None
        try:
            step = ivr.start()
            while True:
                if isinstance(step, Transfer | Hangup):
                    decided = step
                    break
                if isinstance(step, LookupCustomer) and step.by == "number" and by_number is not None:
                    # Already asked at the start: never spend the budget twice on one question.
                    result: StepResult = LookupResult(None, by_number[1])
                else:
                    result, found = await self._execute(agi, call_id, ivr, step, heard)
                    profile = found or profile
                step = ivr.feed(result)
            await self._hand_over(agi, call_id, decided, profile, ivr.summary()["language"] or "")
        except AgiHangup:
            ivr.on_hangup()
            raise
        finally:
            if heard and self.outages is not None:
                self.outages.heard(heard)
            self._annotate(call_id, ivr, profile, req.caller, name)
            self._finished(call_id, ivr)

    def _warm_profile(self, call_id: str, facts: CustomerFacts | None) -> None:
        if self._warm is None or facts is None:
            return
        task = asyncio.ensure_future(self._load_for_pop(self._warm, call_id, facts.customer_id))
        self._warming.add(task)
        task.add_done_callback(self._warmed)

    async def _load_for_pop(self, directory: CustomerDirectory, call_id: str, customer_id: str) -> None:
        profile = await directory.by_customer_id(customer_id)  # fills the cache on the way
        if profile is not None and self._pop_profiles is not None:
            self._pop_profiles.remember(call_id, profile)

    def _warmed(self, task: asyncio.Task[object]) -> None:
        self._warming.discard(task)
        if not task.cancelled() and task.exception() is not None:
            log.warning("profile cache warm-up failed: %s", task.exception())

    def _finished(self, call_id: str, ivr: IvrSession) -> None:
        summary = ivr.summary()
        path = self._path(summary)
        self.metrics.observe(summary["outcome"] or "", path)
        data = {
            "outcome": summary["outcome"] or "",
            "path": path,
            "path_text": summary["path_text"],
            "last_node": last_node(path),
            "queue": summary["queue"] or "",
            "customer_id": summary["customer_id"],
            "self_served": summary["self_served"],
        }
        self.tracker.bus_publish(BusEvent("ivr.finished", call_id, data))

    async def _execute(
        self, agi: AgiSession, call_id: str, ivr: IvrSession, step: Step, heard: set[int]
    ) -> tuple[StepResult, CustomerFacts | None]:
        if isinstance(step, Play):
            for sound in step.prompts:
                await self._play(agi, sound, "", ivr, heard)
            return Played(), None
        if isinstance(step, Collect):
            return Digits(await self._collect(agi, step, ivr, heard)), None
        if isinstance(step, LookupCustomer):
            if step.by == "number":
                profile, failed = await self.lookup.by_caller(try_e164(step.value))
            else:
                profile, failed = await self.lookup.by_keys(step.value)
                self._warm_profile(call_id, profile)
            return LookupResult(profile, failed), profile
        if isinstance(step, RequestCallback):
            customer_id = ivr.customer.customer_id if ivr.customer else None
            if self.callbacks is not None:
                # The tier's queue priority goes with the request: the callback keeps the caller's place.
                acd_tier = self._acd_tier(ivr.customer)
                await self.callbacks.record(
                    step.number,
                    customer_id,
                    call_id,
                    acd_tier=acd_tier,
                    priority=self.policy.initial_priority(acd_tier),
                    # No transfer has chosen a queue yet (it would have ended the IVR): the node's own
                    # queue, else the default one, is where the customer is called back into.
                    queue=step.queue or self.settings.default_queue,
                )
            self.tracker.bus_publish(
                BusEvent("callback.requested", call_id, {"number": step.number, "customer_id": customer_id})
            )
            return Done(), None
        raise TypeError(f"unexpected IVR step {step!r}")

    @staticmethod
    async def _play(agi: AgiSession, sound: str, escape: str, ivr: IvrSession, heard: set[int]) -> str | None:
        """Play one prompt. A notice played (or cut short by a key: the caller chose to skip it)
        counts as heard; one whose own file Asterisk lacks is read with the generic notice instead,
        and counts only if that one played."""
        digit = await agi.stream_file(sound, escape)
        notices = ivr.outage_sounds.get(sound)
        if not notices:
            return digit
        if sound in agi.missing and ivr.outage_fallback and sound != ivr.outage_fallback:
            digit = await agi.stream_file(ivr.outage_fallback, escape)
            if ivr.outage_fallback in agi.missing:
                return digit
        elif sound in agi.missing:
            return digit
        heard.update(notices)
        return digit

    async def _collect(self, agi: AgiSession, step: Collect, ivr: IvrSession, heard: set[int]) -> str | None:
        """Play the prompts (a key interrupts them), then wait for up to ``max_digits`` keys."""
        keys = ""
        for sound in step.prompts:
            digit = await self._play(agi, sound, DIGITS, ivr, heard)
            if digit:
                keys = digit
                break
        wait = step.timeout_ms
        while len(keys) < step.max_digits:
            if step.terminator and keys.endswith(step.terminator):
                break
            reply = await agi.command("WAIT FOR DIGIT", str(wait), timeout=wait / 1000 + 5)
            if reply.result_int < 0:
                raise AgiHangup("WAIT FOR DIGIT: channel hung up")
            if reply.result_int == 0:
                break
            keys += chr(reply.result_int)
            wait = step.inter_digit_ms
        if step.terminator and keys.endswith(step.terminator):
            keys = keys[: -len(step.terminator)]
        return keys or None

    async def _hand_over(
        self,
        agi: AgiSession,
        call_id: str,
        decided: Step | None,
        profile: CustomerFacts | None,
        language: str = "",
    ) -> None:
        if isinstance(decided, Transfer):
            acd_tier = self._acd_tier(profile)
            prio = self.policy.initial_priority(acd_tier)
            queue = self.settings.queue(decided.queue)
            await agi.set_variable("TONGDAI_QUEUE", queue.name)
            await agi.set_variable("TONGDAI_PRIO", str(prio))
            # Queue()'s timeout: the wait after which the queue's exit (acd/exits.py) is taken.
            limit = self.settings.queue_exits.wait_limit(queue.name, acd_tier, queue.max_wait)
            await agi.set_variable("TONGDAI_MAXWAIT", str(limit))
            await agi.set_variable("TONGDAI_TIER", acd_tier)
            if language:  # the exit's prompts and the announcements speak the caller's language
                await agi.set_variable("TONGDAI_LANG", language)
            if profile is not None:
                await agi.set_variable("TONGDAI_CUSTOMER", profile.customer_id)
            sticky = await self._route(
                agi, queue.name, decided.skill or "", tier=acd_tier, language=language, profile=profile
            )
            await agi.set_variable("TONGDAI_ACTION", "queue")
            self.tracker.annotate(call_id, acd_tier=acd_tier, priority=prio, queue=queue.name, **sticky)
        else:
            await agi.set_variable("TONGDAI_ACTION", "hangup")

    async def _route(
        self,
        agi: AgiSession,
        queue: str,
        skill: str,
        *,
        tier: str,
        language: str,
        profile: CustomerFacts | None,
    ) -> dict[str, str]:
        """Stages and skill window (acd/routing.py) into channel variables; the sticky agent's fields
        for the call when there is one."""
        last = None
        sticky_cfg = self.plan.config.sticky_for(queue)
        if self.sticky is not None and profile is not None and sticky_cfg.seconds:
            last = await self.sticky.last_agent(profile.customer_id, sticky_cfg.days, now_vn())
        route = self.plan.route(
            queue, skill=skill, tier=tier, language=language, sticky_agent=last.agent_id if last else ""
        )
        # Always set, even empty: an earlier route's values must not linger on the channel.
        await agi.set_variable("TONGDAI_STAGES", route.stages_var())
        w = route.window
        await agi.set_variable("QUEUE_MIN_PENALTY", str(w.min_penalty) if w else "")
        await agi.set_variable("QUEUE_MAX_PENALTY", str(w.max_penalty) if w else "")
        await agi.set_variable("TONGDAI_QRULE", w.rule if w else "")
        if skill:
            await agi.set_variable("TONGDAI_SKILL", skill)
        if last is not None and route.sticky_agent:
            return {"sticky_agent": last.agent_id, "sticky_served_on": last.served_on}
        return {}

    def _acd_tier(self, profile: CustomerFacts | None) -> str:
        crm_tier = (profile.tier if profile else None) or "standard"
        return self.settings.tier_map.get(crm_tier, self.policy.tiers[-1].name)

    @staticmethod
    def _path(summary: dict[str, Any]) -> list[str]:
        """``["main:1", "mobile"]``: each node visited, with the keys pressed there."""
        return [e["node"] + (":" + "".join(e["digits"]) if e["digits"] else "") for e in summary["path"]]

    def _annotate(
        self,
        call_id: str,
        ivr: IvrSession,
        profile: CustomerFacts | None,
        caller: CallerNumber,
        name: str = "",
    ) -> None:
        summary: dict[str, Any] = ivr.summary()
        fields: dict[str, Any] = {
            "ivr_path": self._path(summary),
            "ivr_path_text": summary["path_text"],
            "ivr_outcome": summary["outcome"] or "",
            "language": summary["language"],
            "choice": summary.get("queue") or "",
        }
        if caller.national:
            fields["caller_number"] = caller.national
            fields["caller_e164"] = caller.e164 or ""
        if name:
            fields["caller_name"] = name
        if profile is not None:
            fields["customer_id"] = profile.customer_id
            fields["tier"] = profile.tier or ""
        self.tracker.annotate(call_id, **fields)
