"""The FastAGI route ``exit``: what a caller gets when Queue() returns at the queue's maximum wait.

The dialplan (extensions.conf.j2, label ``exit``) calls it instead of hanging up. The rule comes from
``queue_exits`` (acd/exits.py, pure); this module only reads the channel's facts, plays, collects the
key and hands the decision back in TONGDAI_ACTION (``queue`` / ``voicemail`` / ``hangup``). The wait
clock is TONGDAI_QSTART, set by the dialplan when the caller first entered a queue, so an overflowed
caller keeps both the time already waited and the priority that time earned.

What happened is put on the call record: ``ivr_path`` gains ``overflow:<from>`` / ``exit:<action>``
entries, an overflowed call's ``ivr_outcome`` becomes ``overflow`` and an exit's ``disposition``
``exit_callback`` / ``exit_voicemail`` / ``exit_goodbye`` (reports/service_level.py counts them apart
from abandons).
"""

from __future__ import annotations

import logging
import time
from typing import TYPE_CHECKING

from acd.exits import ExitDecision, decide_exit, exit_disposition
from acd.policy import AcdPolicy
from core.agi import AgiServer, AgiSession
from core.bus import BusEvent
from core.calls import CallTracker
from core.errors import AgiHangup
from core.phone import try_e164
from ivr.callbacks import CallbackStore
from ivr.prompts import prompt_sound

if TYPE_CHECKING:
    from tongdai.settings import Settings

log = logging.getLogger(__name__)
_OFFER_TRIES = 2
_OFFER_TIMEOUT_MS = 6000


class QueueExitRoute:
    def __init__(
        self,
        settings: Settings,
        tracker: CallTracker,
        policy: AcdPolicy,
        callbacks: CallbackStore | None,
    ) -> None:
        self.settings = settings
        self.tracker = tracker
        self.policy = policy
        self.callbacks = callbacks
        self._max_wait = {q.name: q.max_wait for q in settings.queues}
        self.exits_taken = 0

    def register(self, server: AgiServer) -> None:
        server.route("exit", self.handle)

    async def _var(self, agi: AgiSession, name: str) -> str:
        return (await agi.get_variable(name) or "").strip()

    async def handle(self, agi: AgiSession) -> None:
        queue = await self._var(agi, "TONGDAI_QUEUE")
        tier = await self._var(agi, "TONGDAI_TIER") or self.policy.tiers[-1].name
        lang = await self._var(agi, "TONGDAI_LANG") or self.settings.ivr.default_language
        visited = [q for q in (await self._var(agi, "TONGDAI_VISITED")).split("/") if q]
        call_id = await self._var(agi, "CHANNEL(linkedid)") or agi.request.uniqueid
        try:
            started = float(await self._var(agi, "TONGDAI_QSTART"))
        except ValueError:
            started = time.time()
        waited = max(0.0, time.time() - started)
        if queue not in self._max_wait:
            queue = self.settings.default_queue
        d = decide_exit(
            self.settings.queue_exits,
            self.policy,
            queue=queue,
            tier=tier,
            waited_seconds=waited,
            visited=visited,
            max_wait=self._max_wait,
        )
        self.exits_taken += 1
        log.info("queue exit %s after %.0f s in %s (tier %s): %s", call_id, waited, queue, tier, d.action)
        if d.action == "overflow":
            await self._overflow(agi, call_id, queue, visited=visited, d=d, lang=lang)
        elif d.action == "callback":
            await self._offer_callback(agi, call_id, queue, tier=tier, d=d, lang=lang)
        elif d.action == "voicemail":
            self._mark(call_id, "exit:voicemail", disposition=exit_disposition("voicemail"))
            await agi.stream_file(prompt_sound(lang, "queue_voicemail"))
            await agi.set_variable("TONGDAI_MAILBOX", d.mailbox)
            await agi.set_variable("TONGDAI_ACTION", "voicemail")
        else:
            await self._goodbye(agi, call_id, lang)

    async def _requeue(self, agi: AgiSession, d: ExitDecision) -> None:
        await agi.set_variable("TONGDAI_QUEUE", d.queue)
        await agi.set_variable("TONGDAI_PRIO", str(d.priority))
        await agi.set_variable("TONGDAI_MAXWAIT", str(d.max_wait))
        # Set last: the dialplan acts on TONGDAI_ACTION only once the rest is in place.
        await agi.set_variable("TONGDAI_ACTION", "queue")

    async def _overflow(
        self, agi: AgiSession, call_id: str, queue: str, *, visited: list[str], d: ExitDecision, lang: str
    ) -> None:
        await agi.stream_file(prompt_sound(lang, "queue_overflow"))
        await agi.set_variable("TONGDAI_VISITED", "/".join([*visited, queue]))
        self._mark(call_id, f"overflow:{queue}", ivr_outcome="overflow", priority=d.priority)
        self.tracker.bus_publish(
            BusEvent(
                "call.overflowed", call_id, {"from_queue": queue, "queue": d.queue, "priority": d.priority}
            ),
        )
        await self._requeue(agi, d)

    async def _offer_callback(
        self, agi: AgiSession, call_id: str, queue: str, *, tier: str, d: ExitDecision, lang: str
    ) -> None:
        number = agi.request.caller.national
        if self.callbacks is None or not number or try_e164(number) is None:
            # Nobody to call back: keep the caller waiting rather than end the call.
            self._mark(call_id, "exit:wait")
            await self._requeue(agi, d)
            return
        key = ""
        for _ in range(_OFFER_TRIES):
            key = await agi.stream_file(prompt_sound(lang, "queue_callback_offer"), "12") or ""
            if not key:
                wait = _OFFER_TIMEOUT_MS
                reply = await agi.command("WAIT FOR DIGIT", str(wait), timeout=wait / 1000 + 5)
                if reply.result_int < 0:
                    raise AgiHangup("WAIT FOR DIGIT: channel hung up")
                key = chr(reply.result_int) if reply.result_int > 0 else ""
            if key in ("1", "2"):
                break
        if key == "1":
            customer = await self._var(agi, "TONGDAI_CUSTOMER") or None
            # The aged priority goes with the request: the caller keeps the place they had earned.
            await self.callbacks.record(
                number, customer, call_id, acd_tier=tier, priority=d.priority, queue=queue
            )
            self.tracker.bus_publish(
                BusEvent("callback.requested", call_id, {"number": number, "customer_id": customer})
            )
            self._mark(call_id, "exit:callback", disposition=exit_disposition("callback"))
            await agi.stream_file(prompt_sound(lang, "callback_confirmed"))
            await agi.set_variable("TONGDAI_ACTION", "hangup")
        elif key == "2":
            self._mark(call_id, "exit:wait")
            await self._requeue(agi, d)
        else:
            await self._goodbye(agi, call_id, lang)

    async def _goodbye(self, agi: AgiSession, call_id: str, lang: str) -> None:
        self._mark(call_id, "exit:goodbye", disposition=exit_disposition("goodbye"))
        await agi.stream_file(prompt_sound(lang, "queue_goodbye"))
        await agi.set_variable("TONGDAI_ACTION", "hangup")

    def _mark(self, call_id: str, step: str, **fields: object) -> None:
        call = self.tracker.calls.get(call_id)
        path = [*(call.ivr_path if call is not None else []), step]
        self.tracker.annotate(call_id, ivr_path=path, **fields)
