"""The rendered manager.conf lets through every AMI event tongdai folds (an include-only filter
drops the rest silently, so a handler whose event is missing would simply never run)."""

from __future__ import annotations

from acd.agents import MEMBER_EVENTS
from asterisk_conf.render import AMI_EVENTS
from core.bus import LocalBus
from core.calls import CallTracker


def test_every_consumed_event_passes_the_filter() -> None:
    tracker_events = set(CallTracker(LocalBus())._handlers)
    consumed = tracker_events | set(MEMBER_EVENTS) | {"ContactStatus", "FullyBooted"}
    assert consumed - set(AMI_EVENTS) == set()
