"""Call tracking: the channels of one call, correlated by Linkedid, folded into one :class:`Call`.

The tracker turns Asterisk's AMI events into call-level events on the bus (``call.*``) and CDR
events (``cdr.posted``). It holds no business rules: who the customer is and which queue the
caller chose arrive from the IVR through :meth:`CallTracker.annotate`.

Event facts relied on (field notes): ``AgentCalled`` means ringing (pop early; retract on
``AgentRingNoAnswer``), ``AgentConnect`` means answered; agents are identified by ``MemberName``/
``Interface``, not ``DestChannel``; unknown events (the Debian build's ``TestEvent``) are ignored.
"""

from __future__ import annotations

import logging
import re
import time
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from core.ami import AmiEvent
from core.bus import BusEvent, EventBus
from core.logs import call_context
from core.members import agent_from_member, base_queue
from core.phone import carrier_national, try_e164

log = logging.getLogger(__name__)


def _known(v: str) -> str:
    """Asterisk spells an absent caller ID "<unknown>"."""
    return "" if v in ("<unknown>", "unknown") else v


def _set_caller(call: Call, number: str) -> None:
    call.caller_number = number
    call.caller_e164 = (try_e164(number) or "") if number else ""


@dataclass
class Call:
    call_id: str  # the Linkedid: with systemname set it is unique across Asterisk nodes
    started_at: float
    caller_number: str = ""  # as the network sent it (display, records)
    caller_e164: str = ""  # normalised once, when the number arrives (lookups, the pop)
    caller_name: str = ""
    dialled: str = ""
    channels: set[str] = field(default_factory=set)
    ivr_path: list[str] = field(default_factory=list)
    ivr_path_text: str = ""
    ivr_outcome: str = ""
    language: str = ""
    customer_id: str = ""
    tier: str = ""
    acd_tier: str = ""
    choice: str = ""
    queue: str = ""
    queue_channel: str = ""  # the caller's channel in app_queue (QueueCallerJoin's Channel)
    priority: int | None = None
    queued_at: float | None = None
    agent_id: str = ""
    agent_channel: str = ""  # the agent leg of the bridge (MixMonitor runs on it)
    ringing_at: float | None = None
    answered_at: float | None = None
    ended_at: float | None = None
    hold_seconds: float | None = None
    talk_seconds: float | None = None
    disposition: str = ""
    rung_agents: list[str] = field(default_factory=list)
    recording: str = ""
    recovered: bool = False  # ended while the AMI link was down: times are approximate
    # An outbound campaign's call: what its pop shows (id, name, script, dispositions); empty inbound.
    campaign: dict[str, Any] = field(default_factory=dict)
    # The agent who served this customer last, offered the call first (acd/routing.py), and the Vietnam
    # date (ISO) of that call: the pop tells that agent.
    sticky_agent: str = ""
    sticky_served_on: str = ""

    def to_dict(self) -> dict[str, Any]:
        d = {k: v for k, v in self.__dict__.items() if k != "channels"}
        d["ivr_path"] = list(self.ivr_path)
        d["rung_agents"] = list(self.rung_agents)
        return d


class CallTracker:
    """Folds AMI events into calls and publishes call events on the bus."""

    def __init__(
        self, bus: EventBus, hotline_context: str = "tongdai-hotline", now: Callable[[], float] = time.time
    ):
        self._bus = bus
        self._hotline_context = hotline_context
        self._now = now
        self.calls: dict[str, Call] = {}
        self._by_uniqueid: dict[str, str] = {}
        self._handlers: dict[str, Callable[[AmiEvent], None]] = {
            "Newchannel": self._newchannel,
            "Hangup": self._hangup,
            "QueueCallerJoin": self._queue_join,
            "AgentCalled": self._agent_called,
            "AgentRingNoAnswer": self._agent_noanswer,
            "AgentConnect": self._agent_connect,
            "AgentComplete": self._agent_complete,
            "QueueCallerAbandon": self._abandon,
            "QueueCallerLeave": self._queue_leave,
            "Cdr": self._cdr,
            "MixMonitorStart": self._mixmonitor,
        }

    async def handle(self, ev: AmiEvent) -> None:
        fn = self._handlers.get(ev.name)
        if fn is not None:
            # Every log line of this event's handling names its call (JSON logs: linkedid, uniqueid).
            with call_context(linkedid=ev.get("Linkedid"), uniqueid=ev.get("Uniqueid")):
                fn(ev)

    def now(self) -> float:
        """The tracker's clock (epoch seconds): what stamps every call's times, so figures derived
        from them (the wallboard's day, ages) read the same clock."""
        return self._now()

    def call_for_uniqueid(self, uniqueid: str) -> Call | None:
        cid = self._by_uniqueid.get(uniqueid)
        return self.calls.get(cid) if cid else None

    def bus_publish(self, event: BusEvent) -> None:
        self._bus.publish(event)

    def _emit(self, kind: str, call: Call, **extra: Any) -> None:
        data = call.to_dict()
        data.update(extra)
        self._bus.publish(BusEvent(f"call.{kind}", call.call_id, data))

    def _call(self, ev: AmiEvent) -> Call | None:
        cid = ev.get("Linkedid") or self._by_uniqueid.get(ev.get("Uniqueid"), "")
        return self.calls.get(cid) if cid else None

    # --- AMI event handlers --------------------------------------------------------------------

    def _newchannel(self, ev: AmiEvent) -> None:
        cid, uid = ev.get("Linkedid"), ev.get("Uniqueid")
        if not cid:
            return
        self._by_uniqueid[uid] = cid
        call = self.calls.get(cid)
        new = call is None
        if call is None:
            call = self.calls[cid] = Call(cid, self._now())
        call.channels.add(uid)
        context = ev.get("Context")
        # A carrier's call starts in its trunk's context (asterisk_conf), with the numbers in the
        # carrier's form (+84…): keep them in national form, as the IVR sees them.
        if (context == self._hotline_context or context.startswith("tongdai-trunk-")) and not call.dialled:
            call.dialled = carrier_national(ev.get("Exten"))
            _set_caller(call, carrier_national(_known(ev.get("CallerIDNum"))))
            call.caller_name = _known(ev.get("CallerIDName"))
        if new:
            self._emit("started", call)

    def _hangup(self, ev: AmiEvent) -> None:
        uid = ev.get("Uniqueid")
        cid = self._by_uniqueid.pop(uid, "") or ev.get("Linkedid")
        call = self.calls.get(cid)
        if call is None:
            return
        call.channels.discard(uid)
        if not call.channels:
            self._end(call)

    def _end(self, call: Call) -> None:
        call.ended_at = self._now()
        if not call.disposition:
            if call.answered_at:
                call.disposition = "answered"
            elif call.queued_at:
                call.disposition = "abandoned"
            elif call.ivr_outcome:
                call.disposition = f"ivr_{call.ivr_outcome}"
            else:
                call.disposition = "ended"
        self.calls.pop(call.call_id, None)
        self._emit("ended", call)

    def _queue_join(self, ev: AmiEvent) -> None:
        call = self._call(ev)
        if call is None:
            return
        call.queue = base_queue(ev.get("Queue"))  # a stage queue counts as its queue
        call.queue_channel = ev.get("Channel")
        # An overflow (acd/exits.py) re-enters a queue unanswered: the wait still counts from the first
        # queue. A call answered and then transferred back into a queue starts a new wait.
        if call.queued_at is None or call.answered_at is not None:
            call.queued_at = self._now()
        # app_queue reports a timeout as QueueCallerAbandon too; a caller who comes back into a queue
        # did not abandon.
        if call.disposition == "abandoned":
            call.disposition = ""
        # (The event's "Priority" header is the dialplan step, not the queue priority: the IVR
        # annotates the queue priority it chose.)
        if not call.caller_number:
            _set_caller(call, _known(ev.get("CallerIDNum")))
        self._emit("queued", call, position=ev.get("Position"))

    def _agent_called(self, ev: AmiEvent) -> None:
        call = self._call(ev)
        if call is None:
            return
        agent = agent_from_member(ev.get("MemberName"), ev.get("Interface"))
        call.ringing_at = self._now()
        call.rung_agents.append(agent)
        self._emit("ringing", call, ringing_agent=agent, queue=base_queue(ev.get("Queue")))

    def _agent_noanswer(self, ev: AmiEvent) -> None:
        call = self._call(ev)
        if call is None:
            return
        agent = agent_from_member(ev.get("MemberName"), ev.get("Interface"))
        # RingTime here is in milliseconds (unlike AgentConnect's seconds).
        self._emit("ring_noanswer", call, ringing_agent=agent, ring_ms=ev.get("RingTime"))

    def _agent_connect(self, ev: AmiEvent) -> None:
        call = self._call(ev)
        if call is None:
            return
        call.agent_id = agent_from_member(ev.get("MemberName"), ev.get("Interface"))
        call.agent_channel = ev.get("DestChannel")
        call.answered_at = self._now()
        try:
            call.hold_seconds = float(ev.get("HoldTime") or 0)  # seconds, despite the docs
        except ValueError:
            call.hold_seconds = None
        self._emit("answered", call)

    def _agent_complete(self, ev: AmiEvent) -> None:
        call = self._call(ev)
        if call is None:
            return
        try:
            call.talk_seconds = float(ev.get("TalkTime") or 0)
        except ValueError:
            call.talk_seconds = None
        self._emit("agent_complete", call, reason=ev.get("Reason"))

    def _abandon(self, ev: AmiEvent) -> None:
        call = self._call(ev)
        if call is None:
            return
        call.disposition = "abandoned"
        self._emit("abandoned", call)

    def _queue_leave(self, ev: AmiEvent) -> None:
        call = self._call(ev)
        if call is not None:
            self._emit("left_queue", call)

    def _mixmonitor(self, ev: AmiEvent) -> None:
        call = self._call(ev)
        if call is not None:
            self._emit("recording_started", call)

    def _cdr(self, ev: AmiEvent) -> None:
        data = dict(ev.headers)
        data.pop("Event", None)
        cid = data.get("LinkedID") or data.get("Linkedid") or data.get("UniqueID", "")
        self._bus.publish(BusEvent("cdr.posted", cid, data))

    # --- IVR annotations and re-sync -----------------------------------------------------------

    def annotate(self, call_id: str, **fields: Any) -> Call:
        """Record what the IVR learned (path, language, customer, choice, queue, priority).

        ``call_id`` is the linkedid; a channel's own uniqueid is accepted too and resolved to its call,
        so a caller whose linkedid could not be read still gets one record, not two half ones.
        """
        call_id = self._by_uniqueid.get(call_id, call_id)
        call = self.calls.get(call_id)
        if call is None:
            call = self.calls[call_id] = Call(call_id, self._now())
        for k, v in fields.items():
            if not hasattr(call, k):
                raise AttributeError(f"Call has no field {k!r}")
            setattr(call, k, v)
        self._emit("ivr", call)
        return call

    def resync(self, live_channels: Iterable[tuple[str, str]]) -> None:
        """After a reconnect: ``live_channels`` are (uniqueid, linkedid) pairs Asterisk still has.

        Calls whose channels all vanished while we were away are ended (marked ``recovered``);
        channels we never saw are adopted so their hangups are not lost.
        """
        live = list(live_channels)
        live_uids = {u for u, _ in live}
        for call in list(self.calls.values()):
            call.channels &= live_uids
            if not call.channels:
                call.recovered = True
                self._end(call)
        for uid, cid in live:
            self._by_uniqueid[uid] = cid
            known = self.calls.get(cid)
            if known is None:
                known = self.calls[cid] = Call(cid, self._now(), recovered=True)
                self._emit("started", known)
            known.channels.add(uid)

    def resync_queued(self, entries: Iterable[tuple[str, str, str, str]]) -> None:
        """After :meth:`resync`: (uniqueid, queue, channel, seconds waited) of callers Asterisk still
        has in a queue. A call we did not know was queued is marked so (``call.queued``)."""
        for uid, queue, channel, wait in entries:
            call = self.call_for_uniqueid(uid)
            if call is None or call.queued_at is not None or call.answered_at is not None:
                continue
            call.queue, call.queue_channel = base_queue(queue), channel
            try:
                call.queued_at = self._now() - float(wait or 0)
            except ValueError:
                call.queued_at = self._now()
            self._emit("queued", call)

    def resync_answered(self, legs: Iterable[tuple[str, str, str, float]]) -> None:
        """After :meth:`resync`: (linkedid, queue, agent channel, seconds up) of calls Asterisk has
        bridged to a queue member now. An adopted call learns who serves it, so its record names the
        agent; its answer time is the agent leg's start (approximate, as ``recovered`` says)."""
        for cid, queue, channel, up in legs:
            call = self.calls.get(cid)
            m = _AGENT_LEG.match(channel)
            if call is None or call.agent_id or m is None:
                continue
            call.agent_id, call.agent_channel = m.group(1), channel
            call.queue = call.queue or base_queue(queue)
            call.answered_at = self._now() - up
            self._emit("answered", call)


# A queue member's leg: app_queue dials it, so CoreShowChannels lists it running "AppQueue".
_AGENT_LEG = re.compile(r"^(?:Local/|PJSIP/|SIP/)(\d{3,6})(?:@|-)")


def _seconds(duration: str) -> float:
    """CoreShowChannel's ``Duration`` (HH:MM:SS) in seconds; 0 when unreadable."""
    try:
        h, m, sec = (int(x) for x in duration.split(":"))
    except ValueError:
        return 0.0
    return float(h * 3600 + m * 60 + sec)


def answered_legs(channels: Iterable[AmiEvent]) -> list[tuple[str, str, str, float]]:
    """(linkedid, queue, agent channel, seconds up) of each call whose caller is in ``Queue()`` and
    bridged to a member, from CoreShowChannel events."""
    queue_of: dict[str, str] = {}
    agents: list[tuple[str, str, float]] = []
    for e in channels:
        cid = e.get("Linkedid") or e.get("Uniqueid")
        if e.get("Application") == "Queue":
            queue_of[cid] = e.get("ApplicationData").split(",", 1)[0]
        elif e.get("Application") == "AppQueue":
            agents.append((cid, e.get("Channel"), _seconds(e.get("Duration"))))
    return [(cid, queue_of.get(cid, ""), chan, up) for cid, chan, up in agents]


async def resync_from_ami(tracker: CallTracker, action: Callable[..., Awaitable[Any]]) -> None:
    """Fetch the live channels with CoreShowChannels and re-sync the tracker."""
    resp = await action("CoreShowChannels", multi=True, timeout=10)
    pairs = [
        (e.get("Uniqueid"), e.get("Linkedid") or e.get("Uniqueid"))
        for e in resp.events
        if e.name == "CoreShowChannel"
    ]
    tracker.resync(pairs)
    tracker.resync_answered(answered_legs(e for e in resp.events if e.name == "CoreShowChannel"))
    # Callers still waiting in a queue: without this, a restarted bridge (or one back from an AMI
    # outage) counts them nowhere until they are answered, and the wallboard shows empty queues.
    status = await action("QueueStatus", multi=True, timeout=10)
    entries = [e for e in status.events if e.name == "QueueEntry"]
    tracker.resync_queued(
        (e.get("Uniqueid"), e.get("Queue"), e.get("Channel"), e.get("Wait")) for e in entries
    )
    log.info("call state re-synced: %d live channels, %d callers queued", len(pairs), len(entries))
