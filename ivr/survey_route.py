"""The FastAGI route ``survey``: the post-call survey, run on the caller's channel after the agent
hung up (extensions.conf.j2: Queue's ``c`` option, then ``tongdai-survey,<queue>,1``).

It reads what the answers are stored against from the channel (the call's Linkedid, the queue, the
agent app_queue connected — ``MEMBERNAME``, set by ``setinterfacevar`` — the customer and language
the IVR set), decides with the keyed hash whether this call is one of the queue's sampled share
(ivr/survey.py ``is_sampled``: the key is derived from the node's session secret, so no agent can
tell or steer which calls are asked), then drives :class:`~ivr.survey.SurveySession`. Whatever
happens — answers, silence, a hang-up half way — the answers are stored once when it ends, and
``survey.finished`` is published for the wallboard.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
from typing import TYPE_CHECKING

from core.agi import AgiServer, AgiSession
from core.bus import BusEvent
from core.calls import CallTracker
from core.errors import AgiError
from core.survey_config import SurveyConfig
from ivr.machine import Collect, Digits, Hangup, Play, Played, Step, StepResult
from ivr.survey import SurveySession, is_sampled
from ivr.survey_store import SurveyContext, SurveyStore

if TYPE_CHECKING:
    from tongdai.settings import Settings

log = logging.getLogger(__name__)
DIGITS = "0123456789*#"
FINISHED = "survey.finished"


def sampling_key(secret: str) -> bytes:
    """The sampling key: derived from a deployment secret, never shown anywhere."""
    return hmac.new(secret.encode(), b"tongdai survey sampling", hashlib.sha256).digest()


class SurveyRoute:
    def __init__(self, settings: Settings, tracker: CallTracker, store: SurveyStore, key: bytes) -> None:
        self.settings = settings
        self.tracker = tracker
        self.store = store
        self._key = key
        self._surveys: dict[str, SurveyConfig] = {
            q.name: q.survey for q in settings.queues if q.survey.enabled
        }

    def register(self, server: AgiServer) -> None:
        server.route("survey", self.handle)

    async def _var(self, agi: AgiSession, name: str) -> str:
        return (await agi.get_variable(name) or "").strip()

    async def handle(self, agi: AgiSession) -> None:
        await agi.set_variable("TONGDAI_ACTION", "hangup")  # whatever happens next, the call then ends
        call_id = await self._var(agi, "CHANNEL(linkedid)") or agi.request.uniqueid
        queue = await self._var(agi, "TONGDAI_QUEUE")
        cfg = self._surveys.get(queue)
        if cfg is None or not is_sampled(call_id, cfg.sample_percent, self._key):
            return
        call = self.tracker.calls.get(call_id)
        agent = (call.agent_id if call else "") or await self._var(agi, "MEMBERNAME")
        customer = await self._var(agi, "TONGDAI_CUSTOMER") or (call.customer_id if call else "")
        lang = await self._var(agi, "TONGDAI_LANG") or (call.language if call else "")
        if lang not in self.settings.ivr.languages:
            lang = self.settings.ivr.default_language
        ctx = SurveyContext(call_id, queue, agent, customer or None, lang)
        session = SurveySession(cfg, lang)
        try:
            step = session.start()
            while not isinstance(step, Hangup):
                step = session.feed(await self._execute(agi, step))
        except AgiError:  # the caller hung up (or the channel went): what is not answered is no answer
            session.hung_up()
        finally:
            if not session.finished:  # cancelled mid-question: still recorded, never lost
                session.hung_up()
            await self._store(ctx, cfg, session)

    async def _store(self, ctx: SurveyContext, cfg: SurveyConfig, session: SurveySession) -> None:
        scores = {a.question: a.value for a in session.answers if a.status == "answered"}
        try:
            await self.store.record(ctx, cfg, session.answers)
        except Exception:
            # The database is away: the answers stay in the log (call id, queue, agent, keys; no
            # customer data), from where they can be re-entered.
            log.exception(
                "survey of call %s (queue %s, agent %s) not stored: answers %s",
                *(ctx.call_id, ctx.queue, ctx.agent_id, scores),
            )
            return
        self.tracker.bus_publish(
            BusEvent(
                FINISHED,
                ctx.call_id,
                {
                    "queue": ctx.queue,
                    "agent_id": ctx.agent_id,
                    "answers": scores,
                    "responded": bool(scores),
                    "csat": _csat(cfg, scores),
                },
            )
        )

    async def _execute(self, agi: AgiSession, step: Step) -> StepResult:
        if isinstance(step, Play):
            for sound in step.prompts:
                await agi.stream_file(sound, "")
            return Played()
        if isinstance(step, Collect):
            keys = ""
            for sound in step.prompts:  # a key interrupts the prompts: it is the answer
                digit = await agi.stream_file(sound, DIGITS)
                if digit:
                    keys = digit
                    break
            if not keys:
                reply = await agi.command(
                    "WAIT FOR DIGIT", str(step.timeout_ms), timeout=step.timeout_ms / 1000 + 5
                )
                if reply.result_int < 0:
                    raise AgiError("WAIT FOR DIGIT: channel hung up")
                keys = chr(reply.result_int) if reply.result_int > 0 else ""
            return Digits(keys or None)
        raise TypeError(f"unexpected survey step {step!r}")


def _csat(cfg: SurveyConfig, scores: dict[str, int | None]) -> dict[str, int] | None:
    """The CSAT answer (the first scale question) as {value, scale_max}, if it was answered."""
    q = next((q for q in cfg.questions if q.kind == "scale"), None)
    if q is None or scores.get(q.id) is None:
        return None
    return {"value": int(scores[q.id] or 0), "scale_max": q.scale_max}
