"""Events cross processes over Redis: each node receives the others' events once, never its own echo."""

from __future__ import annotations

import asyncio
import uuid

from core.bus import BusEvent, LocalBus, RedisBridge
from tests.conftest import REDIS_URL


async def test_events_cross_nodes_without_echo() -> None:
    channel = f"tongdai.test.{uuid.uuid4().hex}"
    a, b = LocalBus("node-a"), LocalBus("node-b")
    ra, rb = RedisBridge(a, REDIS_URL, channel), RedisBridge(b, REDIS_URL, channel)
    await ra.start()
    await rb.start()
    got_a: asyncio.Queue[BusEvent] = asyncio.Queue()
    got_b: asyncio.Queue[BusEvent] = asyncio.Queue()

    async def on_a(e: BusEvent) -> None:
        await got_a.put(e)

    async def on_b(e: BusEvent) -> None:
        await got_b.put(e)

    a.subscribe("call.", on_a)
    b.subscribe("call.", on_b)
    a.publish(BusEvent("call.ringing", "ast1-1.0", {"ringing_agent": "1001", "name": "Nguyễn Văn An"}))
    remote = await asyncio.wait_for(got_b.get(), 5)
    assert remote.origin == "node-a" and remote.data["name"] == "Nguyễn Văn An"
    local = await asyncio.wait_for(got_a.get(), 5)
    assert local.call_id == "ast1-1.0"
    # No echo: node A sees its own event once.
    b.publish(BusEvent("call.ended", "ast1-1.0", {}))
    assert (await asyncio.wait_for(got_a.get(), 5)).type == "call.ended"
    await asyncio.sleep(0.2)
    assert got_a.empty() and got_b.qsize() == 1
    for r in (ra, rb):
        await r.stop()
    for bus in (a, b):
        await bus.close()
