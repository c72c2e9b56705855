"""The ACD's AMI wiring: which Asterisk events drive the agent-state service and the wait aging.

One :func:`subscribe` call registers, on the bridge's :class:`AmiClient`, one handler mapping event
names to service calls, and the post-connect re-sync. It must be registered after the call tracker's
handler: the aging reads the caller's ACD tier from the tracker's call (annotated by the IVR before
the caller entered ``Queue()``), and records the caller's queue channel on it.
"""

from __future__ import annotations

import time

from acd.agents import MEMBER_EVENTS, AgentStateService
from acd.aging import QueueAger
from acd.phone_service import PhoneStateService
from core.ami import AmiClient, AmiEvent
from core.calls import CallTracker


def subscribe(
    ami: AmiClient,
    agents: AgentStateService,
    ager: QueueAger,
    tracker: CallTracker,
    phones: PhoneStateService,
) -> None:
    def tier_of_uniqueid(uniqueid: str) -> str:
        call = tracker.call_for_uniqueid(uniqueid)
        return call.acd_tier if call is not None else ""

    async def on_event(ev: AmiEvent) -> None:
        name = ev.name
        if name == "QueueCallerJoin":
            call = tracker.calls.get(ev.get("Linkedid")) or tracker.call_for_uniqueid(ev.get("Uniqueid"))
            # An unannotated caller (IVR fallback) ages as the lowest tier: the policy maps "" there.
            # An overflowed caller (acd/exits.py) keeps aging from their first queue's entry.
            waited = 0.0
            if call is not None and call.queued_at is not None and call.answered_at is None:
                waited = max(0.0, time.time() - call.queued_at)
            ager.caller_joined(
                ev.get("Queue"), ev.get("Channel"), call.acd_tier if call else "", waited=waited
            )
        elif name in ("QueueCallerLeave", "QueueCallerAbandon", "Hangup"):
            ager.caller_left(ev.get("Channel"))
        if name in MEMBER_EVENTS:
            await agents.handle(ev)
        elif name == "ContactStatus":
            await phones.handle(ev)

    agents.bind(ami.action, ami.wait_booted)
    ager.bind(ami.action)
    agents.attach_aging(ager, tier_of_uniqueid)
    ami.on_event(on_event)
    ami.on_connected(agents.on_connected)
    phones.bind(ami.action, ami.wait_booted)
    ami.on_connected(phones.on_connected)
