"""Call tracking folds channel events into one call by Linkedid and re-syncs after a reconnect."""

from __future__ import annotations

from core.ami import AmiEvent
from core.bus import BusEvent, LocalBus
from core.calls import CallTracker, answered_legs
from core.members import agent_from_member


class Clock:
    def __init__(self) -> None:
        self.t = 1000.0

    def __call__(self) -> float:
        self.t += 1
        return self.t


def ev(name: str, **h: str) -> AmiEvent:
    return AmiEvent(name, {"Event": name, **h})


async def collect(bus: LocalBus) -> list[BusEvent]:
    got: list[BusEvent] = []

    async def on(e: BusEvent) -> None:
        got.append(e)

    bus.subscribe("call.", on)
    return got


async def test_one_call_from_many_channels() -> None:
    bus = LocalBus()
    got = await collect(bus)
    t = CallTracker(bus, now=Clock())
    lid = "ast1-100.0"
    await t.handle(ev("Newchannel", Linkedid=lid, Uniqueid=lid, Context="tongdai-callsim", Exten="s"))
    await t.handle(
        ev(
            "Newchannel",
            Linkedid=lid,
            Uniqueid="ast1-100.1",
            Context="tongdai-hotline",
            Exten="18001090",
            CallerIDNum="<unknown>",
        )
    )
    t.annotate(lid, caller_number="0912345678", customer_id="KH1", tier="large", queue="mobile", priority=300)
    await t.handle(ev("QueueCallerJoin", Linkedid=lid, Uniqueid="ast1-100.1", Queue="mobile", Priority="11"))
    await t.handle(
        ev("Newchannel", Linkedid=lid, Uniqueid="ast1-100.2", Context="tongdai-agents", Exten="1001")
    )
    await t.handle(
        ev(
            "AgentCalled",
            Linkedid=lid,
            MemberName="1001",
            Interface="Local/1001@tongdai-agents/n",
            Queue="mobile",
        )
    )
    await t.handle(
        ev(
            "AgentConnect",
            Linkedid=lid,
            MemberName="1001",
            Interface="Local/1001@tongdai-agents/n",
            HoldTime="2",
        )
    )
    for uid in (lid, "ast1-100.1", "ast1-100.2"):
        await t.handle(ev("Hangup", Linkedid=lid, Uniqueid=uid))
    await bus.drain()
    kinds = [e.type for e in got]
    assert kinds[0] == "call.started" and kinds[-1] == "call.ended"
    assert kinds.count("call.started") == 1 and kinds.count("call.ended") == 1
    assert kinds.index("call.ringing") < kinds.index("call.answered")
    end = got[-1].data
    assert end["caller_number"] == "0912345678" and end["agent_id"] == "1001"
    assert end["priority"] == 300  # the IVR's queue priority, not the event's dialplan step
    assert end["disposition"] == "answered" and end["hold_seconds"] == 2.0
    assert t.calls == {}
    await bus.close()


async def test_an_annotation_by_a_channels_uniqueid_lands_on_its_call() -> None:
    """The IVR names a call by its channel's uniqueid when the linkedid could not be read: the
    tracker files the path on the call itself, so the call's one record carries it."""
    bus = LocalBus()
    got = await collect(bus)
    t = CallTracker(bus, now=Clock())
    lid, ivr_leg = "ast1-200.0", "ast1-200.1"
    await t.handle(ev("Newchannel", Linkedid=lid, Uniqueid=lid, Context="tongdai-callsim", Exten="s"))
    await t.handle(ev("Newchannel", Linkedid=lid, Uniqueid=ivr_leg, Context="tongdai-hotline", Exten="1"))
    t.annotate(ivr_leg, ivr_path=["main:1", "mobile"], queue="mobile")
    for uid in (lid, ivr_leg):
        await t.handle(ev("Hangup", Linkedid=lid, Uniqueid=uid))
    await bus.drain()
    ended = [e for e in got if e.type == "call.ended"]
    assert [e.call_id for e in ended] == [lid]
    assert ended[0].data["ivr_path"] == ["main:1", "mobile"]
    assert t.calls == {}
    await bus.close()


async def test_abandoned_call_and_resync_after_reconnect() -> None:
    bus = LocalBus()
    got = await collect(bus)
    t = CallTracker(bus, now=Clock())
    await t.handle(ev("Newchannel", Linkedid="a-1.0", Uniqueid="a-1.0"))
    await t.handle(ev("QueueCallerJoin", Linkedid="a-1.0", Uniqueid="a-1.0", Queue="mobile"))
    await t.handle(ev("Newchannel", Linkedid="b-2.0", Uniqueid="b-2.0"))
    # The AMI link dropped; meanwhile call a-1 ended and an unseen call c-3 started.
    t.resync([("b-2.0", "b-2.0"), ("c-3.0", "c-3.0")])
    await bus.drain()
    ended = [e for e in got if e.type == "call.ended"]
    assert [e.call_id for e in ended] == ["a-1.0"]
    assert ended[0].data["recovered"] is True and ended[0].data["disposition"] == "abandoned"
    assert set(t.calls) == {"b-2.0", "c-3.0"}
    await t.handle(ev("Hangup", Uniqueid="c-3.0", Linkedid="c-3.0"))
    await bus.drain()
    assert "c-3.0" not in t.calls
    await bus.close()


async def test_an_adopted_call_learns_its_agent_and_queue_from_the_live_channels() -> None:
    """A bridge that takes over (or restarts) mid-call never saw the AgentConnect: CoreShowChannels'
    AppQueue leg tells who serves the call, so its record names the agent."""
    bus = LocalBus()
    got = await collect(bus)
    clock = Clock()
    t = CallTracker(bus, now=clock)
    t.resync([("x-1.0", "x-1.0"), ("x-1.1", "x-1.0"), ("y-2.0", "y-2.0")])
    channels = [
        ev(
            "CoreShowChannel",
            Channel="PJSIP/trunk-0001",
            Uniqueid="x-1.0",
            Linkedid="x-1.0",
            Application="Queue",
            ApplicationData="mobile.vip,tT,,,300",
            Duration="00:01:05",
        ),
        ev(
            "CoreShowChannel",
            Channel="Local/1002@tongdai-agents-0000001a;1",
            Uniqueid="x-1.1",
            Linkedid="x-1.0",
            Application="AppQueue",
            ApplicationData="(Outgoing Line)",
            Duration="00:00:40",
        ),
        # Waiting, not bridged: nothing to learn.
        ev(
            "CoreShowChannel",
            Channel="PJSIP/trunk-0002",
            Uniqueid="y-2.0",
            Linkedid="y-2.0",
            Application="Queue",
            ApplicationData="internet,tT",
            Duration="00:00:09",
        ),
    ]
    legs = answered_legs(channels)
    assert legs == [("x-1.0", "mobile.vip", "Local/1002@tongdai-agents-0000001a;1", 40.0)]
    t.resync_answered(legs)
    call = t.calls["x-1.0"]
    assert (call.agent_id, call.queue, call.answered_at) == ("1002", "mobile", clock.t - 40)
    assert t.calls["y-2.0"].agent_id == ""
    await t.handle(ev("Hangup", Uniqueid="x-1.1", Linkedid="x-1.0"))
    await t.handle(ev("Hangup", Uniqueid="x-1.0", Linkedid="x-1.0"))
    await bus.drain()
    ended = [e.data for e in got if e.type == "call.ended" and e.call_id == "x-1.0"]
    assert len(ended) == 1
    assert (ended[0]["agent_id"], ended[0]["queue"], ended[0]["disposition"]) == (
        "1002",
        "mobile",
        "answered",
    )
    assert ended[0]["recovered"] is True
    await bus.close()


def test_agent_from_member() -> None:
    assert agent_from_member("1001", "Local/1001@tongdai-agents/n") == "1001"
    assert agent_from_member("Lan", "PJSIP/1002") == "1002"
