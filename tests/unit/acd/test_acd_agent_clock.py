"""AgentStateService times status periods with Asterisk's event stamps (manager.conf timestampevents)."""

from __future__ import annotations

import asyncio
import copy

from acd.agents import AgentStateService
from core.ami import AmiEvent
from core.bus import LocalBus
from tests.support.settings import TEST_QUEUES, make_settings

IFACE = "Local/1001@tongdai-agents/n"


class Clock:
    def __init__(self, t: float) -> None:
        self.t = t

    def __call__(self) -> float:
        return self.t


def service(clock: Clock, bus: LocalBus | None = None) -> AgentStateService:
    queues = copy.deepcopy(TEST_QUEUES)
    queues[0]["wrapup"] = 3  # mobile
    return AgentStateService(make_settings(queues=queues), bus or LocalBus(), now=clock)


def ev(name: str, stamp: str | None = None, **headers: str) -> AmiEvent:
    h = {"Queue": "mobile", "MemberName": "1001", "Interface": IFACE, "Linkedid": "c1", **headers}
    if stamp is not None:
        h["Timestamp"] = stamp
    return AmiEvent(name, h)


async def test_periods_start_at_asterisks_stamp_not_at_arrival() -> None:
    clock = Clock(1000.0)
    svc = service(clock)
    await svc.handle(ev("QueueMemberAdded", "990.250000", Paused="0", Status="1"))
    st = svc.snapshot("1001")
    assert st is not None and (st.status, st.since) == ("ready", 990.25)
    await svc.handle(ev("AgentCalled", "991.5"))
    await svc.handle(ev("AgentConnect", "993.0"))
    st = svc.snapshot("1001")
    assert st is not None and (st.status, st.since) == ("on_call", 993.0)


async def test_a_late_agent_complete_still_ends_wrap_up_wrapuptime_after_the_call() -> None:
    clock = Clock(1000.0)
    bus = LocalBus()
    svc = service(clock, bus)
    ready = asyncio.Event()

    async def on_state(e: object) -> None:
        st = svc.snapshot("1001")
        if st is not None and st.status == "ready" and st.since > 990:
            ready.set()

    bus.subscribe("agent.state", on_state, name="test")
    await svc.handle(ev("QueueMemberAdded", "980.0", Paused="0"))
    await svc.handle(ev("AgentConnect", "985.0"))
    # The call ended at 990 by Asterisk's clock; the event reaches the bridge 10 s later (a backlog):
    # app_queue has offered calls again since 993, so the wrap-up ends then, not at 1003.
    await svc.handle(ev("AgentComplete", "990.0"))
    await asyncio.wait_for(ready.wait(), 2)
    st = svc.snapshot("1001")
    assert st is not None and (st.status, st.since) == ("ready", 993.0)
    await svc.stop()


async def test_missing_or_implausible_stamps_fall_back_to_the_bridge_clock() -> None:
    clock = Clock(1000.0)
    svc = service(clock)
    assert svc.event_time(ev("QueueMemberAdded")) == 1000.0
    assert svc.event_time(ev("QueueMemberAdded", "not-a-time")) == 1000.0
    assert svc.event_time(ev("QueueMemberAdded", "5000.0")) == 1000.0  # a remote clock an hour off
    assert svc.event_time(ev("QueueMemberAdded", "1030.5")) == 1030.5
