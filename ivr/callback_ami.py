"""The callback dialler's AMI edge: one asynchronous Originate per dial, its outcome from AMI events.

The customer's channel is originated with our own ``ChannelId`` (so its Linkedid, the call's id, is
known before it exists) into ``tongdai-callback``, which puts the answered customer into the request's
queue with ``QUEUE_PRIO``. When Asterisk reports the new channel, the call is annotated on the tracker
like an IVR caller (customer, tier, priority, queue): the agent's screen pop shows the customer and the
ACD ages their priority by their tier.

``OriginateResponse`` (matched by our ``ActionID``) gives the outcome: ``Success`` = the customer
answered (``reached``), reason 5 = ``busy``, anything else (ring timeout, congestion, no channel) =
``no_answer``. The dial is *settled* when the customer's call reaches an agent (``AgentCalled``) or
ends.
"""

from __future__ import annotations

import asyncio
import logging
import re
import secrets
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from core.ami import AmiEvent, AmiResponse
from core.calls import CallTracker
from core.errors import AmiActionFailed, AmiNotConnected, AmiTimeout
from core.phone import try_e164
from core.protocol_safety import check_line_value
from ivr.callback_config import CallbackDiallerConfig
from ivr.callback_dialler import DialJob, DialNotPlaced, DialResult

log = logging.getLogger(__name__)

CONTEXT = "tongdai-callback"
# The outbound routes (trunks.outbound, rendered by asterisk_conf): the customer's leg leaves by them.
DIALOUT = "tongdai-dialout"
ActionFn = Callable[..., Awaitable[AmiResponse]]
_NUMBER = re.compile(r"^\+?[0-9]{3,15}$")
# Values that go into Originate's Variable headers, which Asterisk splits on ',' : a safe alphabet only.
_VAR_VALUE = re.compile(r"^[A-Za-z0-9_+.-]{0,64}$")
_BUSY = "5"  # OriginateResponse Reason: AST_CONTROL_BUSY


class InvalidCallbackNumber(ValueError):
    pass


@dataclass
class _Dial:
    job: DialJob
    channel_id: str
    answered: asyncio.Future[str] = field(default_factory=lambda: asyncio.get_running_loop().create_future())
    settled: asyncio.Future[None] = field(default_factory=lambda: asyncio.get_running_loop().create_future())


def _var(name: str, value: str) -> str:
    if not _VAR_VALUE.match(value):
        raise InvalidCallbackNumber(f"{name} value {value!r} is not safe to pass to Asterisk")
    return f"{name}={value}"


def originate_fields(
    job: DialJob, config: CallbackDiallerConfig, *, channel_id: str, caller_id: str, max_wait: int
) -> dict[str, Any]:
    """The Originate action for one dial (every value CR/LF-checked, variables to a safe alphabet)."""
    if not _NUMBER.match(job.number):
        raise InvalidCallbackNumber(f"callback number {job.number!r} is not 3-15 digits")
    fields: dict[str, Any] = {
        "Channel": f"Local/{job.number}@{DIALOUT}/n",
        "Context": job.context or CONTEXT,
        "Exten": "s",
        "Priority": "1",
        "CallerID": caller_id,
        "Timeout": str(config.ring_timeout * 1000),
        "ChannelId": channel_id,
        "ActionID": channel_id,
        "Async": "true",
        "Variable": [
            _var("TONGDAI_QUEUE", job.queue),
            _var("TONGDAI_PRIO", str(job.priority)),
            _var("TONGDAI_MAXWAIT", str(max_wait)),
            _var("TONGDAI_TIER", job.acd_tier),
            _var("TONGDAI_CUSTOMER", job.customer_id or ""),
            _var("TONGDAI_CALLBACK", str(job.request_id)),
            _var("TONGDAI_CB_NUMBER", job.number),
            *(_var(k, v) for k, v in job.variables),
        ],
    }
    for k, v in fields.items():
        for item in v if isinstance(v, list) else [v]:
            check_line_value(str(item), f"Originate {k}")
    return fields


def outcome_of(ev: AmiEvent) -> str:
    if ev.get("Response") == "Success":
        return "reached"
    return "busy" if ev.get("Reason") == _BUSY else "no_answer"


class AmiDialer:
    """:class:`~ivr.callback_dialler.Dialer` over AMI. Register :meth:`handle` after the call tracker's
    handler (``AmiClient.on_event``), so the tracker knows the call when it is annotated."""

    def __init__(
        self,
        action: ActionFn,
        tracker: CallTracker,
        config: CallbackDiallerConfig,
        *,
        caller_id: str,
        max_wait: Mapping[str, int],
        prefix: str = "cb",
    ) -> None:
        self._action = action
        self._tracker = tracker
        self.config = config
        self.caller_id = caller_id
        self._max_wait = dict(max_wait)
        self._prefix = prefix
        self._by_action: dict[str, _Dial] = {}
        self._by_channel: dict[str, _Dial] = {}

    async def dial(self, job: DialJob) -> DialResult:
        channel_id = f"{self._prefix}-{job.request_id}-{secrets.token_hex(4)}"
        try:
            fields = originate_fields(
                job,
                self.config,
                channel_id=channel_id,
                caller_id=self.caller_id,
                max_wait=self._max_wait.get(job.queue, 600),
            )
        except InvalidCallbackNumber as err:
            log.warning("callback %s: %s", job.request_id, err)
            return DialResult("wrong_number")
        d = _Dial(job, channel_id)
        self._by_action[channel_id] = self._by_channel[channel_id] = d
        try:
            try:
                await self._action("Originate", fields, timeout=10)
            except (AmiNotConnected, AmiActionFailed) as err:
                raise DialNotPlaced(str(err)) from err
            except AmiTimeout:
                # Perhaps sent: the outcome event still decides below (never dial twice).
                log.warning("callback %s: no reply to Originate; waiting for its outcome", job.request_id)
            try:
                async with asyncio.timeout(self.config.ring_timeout + 15):
                    outcome = await asyncio.shield(d.answered)
            except TimeoutError:
                # The link dropped or Asterisk never said: count an attempt rather than lose the request.
                log.warning("callback %s: no OriginateResponse; counted as no answer", job.request_id)
                outcome = "no_answer"
                self._settle(d)
        finally:
            self._by_action.pop(channel_id, None)
        return DialResult(outcome, d.settled)

    def _settle(self, d: _Dial) -> None:
        self._by_channel.pop(d.channel_id, None)
        if not d.settled.done():
            d.settled.set_result(None)

    async def handle(self, ev: AmiEvent) -> None:
        name = ev.name
        if name == "Newchannel":
            d = self._by_channel.get(ev.get("Uniqueid"))
            if d is not None:
                j = d.job
                fields: dict[str, Any] = {
                    "caller_number": j.number,
                    "caller_e164": try_e164(j.number) or "",  # normalised once, as for an IVR caller
                    "acd_tier": j.acd_tier,
                    "priority": j.priority,
                    "queue": j.queue,
                    "choice": j.queue,
                }
                if j.customer_id:
                    fields["customer_id"] = j.customer_id
                self._tracker.annotate(d.channel_id, **fields)
        elif name == "OriginateResponse":
            d = self._by_action.get(ev.get("ActionID"))
            if d is not None and not d.answered.done():
                outcome = outcome_of(ev)
                d.answered.set_result(outcome)
                if outcome != "reached":
                    self._settle(d)
        elif name in ("AgentCalled", "AgentConnect"):
            d = self._by_channel.get(ev.get("Linkedid"))
            if d is not None:
                self._settle(d)
        elif name == "Hangup":
            d = self._by_channel.get(ev.get("Uniqueid"))
            if d is not None:
                self._settle(d)
