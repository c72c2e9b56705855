"""Origin filtering: a ``local_only`` subscriber (the writers of calls, CDRs, recordings) sees only the
events its own node published; every other subscriber sees every node's."""

from __future__ import annotations

from core.bus import BusEvent, LocalBus


async def test_local_only_subscribers_skip_other_nodes_events() -> None:
    bus = LocalBus("node-a")
    everything: list[BusEvent] = []
    own: list[BusEvent] = []

    async def all_of(e: BusEvent) -> None:
        everything.append(e)

    async def own_of(e: BusEvent) -> None:
        own.append(e)

    bus.subscribe("call.", all_of, name="wallboard")
    bus.subscribe("call.", own_of, name="call-store", local_only=True)
    bus.publish(BusEvent("call.ended", "a-1", {}))  # ours: stamped with our origin
    bus._deliver(BusEvent("call.ended", "b-1", {}, origin="node-b"))  # as the Redis bridge delivers it
    await bus.drain()
    assert [e.call_id for e in everything] == ["a-1", "b-1"]
    assert [(e.call_id, e.origin) for e in own] == [("a-1", "node-a")]
    await bus.close()
