"""An overflow as the call tracker and the wallboard see it: one offer, its wait from the first queue.

app_queue reports a queue timeout as QueueCallerAbandon, then the dialplan's exit re-enters another
queue; neither the call record nor the wallboard may keep that as an abandon of the first queue.
"""

from __future__ import annotations

from typing import Any

from agent_desktop.wallboard import Wallboard
from core.ami import AmiEvent
from core.bus import BusEvent, LocalBus
from core.calls import CallTracker


class Clock:
    def __init__(self) -> None:
        self.t = 1_796_000_000.0

    def __call__(self) -> float:
        return self.t


def ev(name: str, **h: str) -> AmiEvent:
    return AmiEvent(name, {"Linkedid": "L1", "Uniqueid": "U1", "Channel": "Local/x;2", **h})


async def test_overflow_keeps_the_first_wait_and_is_no_abandon() -> None:
    clock = Clock()
    bus = LocalBus()
    tracker = CallTracker(bus, now=clock)
    board = Wallboard(
        _noop, queues={"tv": "TV", "care": "Care"}, agents={}, queue_sl=60, tier_sl={}, now=clock
    )
    await tracker.handle(
        ev("Newchannel", Context="tongdai-hotline", Exten="18001090", CallerIDNum="0333333333")
    )
    tracker.annotate("L1", acd_tier="standard", queue="tv")
    await tracker.handle(ev("QueueCallerJoin", Queue="tv", Position="1"))
    clock.t += 300
    await tracker.handle(ev("QueueCallerAbandon", Queue="tv", HoldTime="300"))  # the timeout
    await tracker.handle(ev("QueueCallerLeave", Queue="tv"))
    clock.t += 5  # the exit route's prompt
    await tracker.handle(ev("QueueCallerJoin", Queue="care", Position="1"))
    call = tracker.calls["L1"]
    assert call.queue == "care" and call.disposition == ""
    assert call.queued_at == clock.t - 305  # still the first queue's entry
    # The wallboard, fed the same call events, shows one waiting call in care, no abandon in tv.
    for e in _call_events(tracker):
        await board.on_call_event(e)
    snap = board.snapshot()
    queues = {q["name"]: q for q in snap["queues"]}
    assert queues["care"]["waiting"] == 1 and queues["care"]["longest_wait"] == 305
    assert queues.get("tv", {}).get("abandoned", 0) == 0


async def _noop(_: dict[str, Any]) -> None:
    return None


def _call_events(tracker: CallTracker) -> list[BusEvent]:
    """The call events the tracker published for this call, in order, as the wallboard receives them."""
    c = tracker.calls["L1"]
    d = c.to_dict()
    return [
        BusEvent("call.queued", "L1", {**d, "queue": "tv"}),
        BusEvent("call.abandoned", "L1", {**d, "queue": "tv", "ended_at": c.queued_at + 300}),
        BusEvent("call.queued", "L1", d),
    ]
