"""The HA lease (core/lease.py) on a real Redis: two contenders never both hold it, each acquisition
has a larger fencing token, and a holder that cannot reach Redis stops acting before its lease can
lapse, so before anyone else can acquire it."""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import AsyncIterator

import pytest
import redis.asyncio as aioredis

from core.lease import LeaseKeeper, RedisLease
from tests.conftest import REDIS_URL
from tests.support.fake_net import HangingProxy

pytestmark = pytest.mark.redis


@pytest.fixture
async def key() -> AsyncIterator[str]:
    name = f"tongdai-test:ha:{uuid.uuid4().hex}"
    yield name
    client = aioredis.from_url(REDIS_URL)
    await client.delete(name, name + ":fence")
    await client.aclose()


@pytest.fixture
async def redis() -> AsyncIterator[aioredis.Redis]:
    client = aioredis.from_url(REDIS_URL, socket_timeout=2)
    yield client
    await client.aclose()


class Timeline:
    """When each node became active and passive (this process's monotonic clock)."""

    def __init__(self) -> None:
        self.events: list[tuple[float, str, str, int]] = []

    def keeper(self, lease: RedisLease, **kw: float) -> LeaseKeeper:
        node = lease.node_id

        async def active(token: int) -> None:
            self.events.append((time.monotonic(), node, "active", token))

        async def passive(token: int) -> None:
            self.events.append((time.monotonic(), node, "passive", token))

        return LeaseKeeper(lease, on_active=active, on_passive=passive, **kw)

    def never_two_active(self) -> None:
        holders: set[str] = set()
        for _, node, what, _token in sorted(self.events):
            if what == "active":
                assert not holders, f"{node} became active while {holders} held the lease: {self.events}"
                holders.add(node)
            else:
                holders.discard(node)

    def tokens(self) -> list[int]:
        return [t for _, _, what, t in sorted(self.events) if what == "active"]


async def test_contenders_never_both_hold_it_and_tokens_only_grow(redis: aioredis.Redis, key: str) -> None:
    a, b = RedisLease(redis, key, "node-a", 1.0), RedisLease(redis, key, "node-b", 1.0)
    # Many simultaneous attempts: exactly one wins.
    wins = [t for t in await asyncio.gather(*(x.acquire() for x in [a, b] * 20)) if t is not None]
    assert len(wins) == 1
    first = wins[0]
    holder = await a.holder()
    assert holder is not None
    winner, loser = (a, b) if holder.startswith("node-a:") else (b, a)
    assert holder == winner.value(first)
    assert not await loser.renew(first)  # same token, other node: not its lease
    assert await winner.renew(first)
    # The winner's restarted process (same node id) cannot renew or release its predecessor's lease.
    again = RedisLease(redis, key, winner.node_id, 1.0)
    assert await again.acquire() is None
    assert not await again.renew(first + 1)
    # Once it lapses, the next acquisition has a larger token and the old one is dead.
    await asyncio.sleep(1.1)
    second = await loser.acquire()
    assert second is not None and second > first
    assert not await winner.renew(first)
    assert not await winner.release(first)
    assert await loser.release(second)
    assert await a.holder() is None


async def test_a_stopping_holder_hands_over_at_once(redis: aioredis.Redis, key: str) -> None:
    line = Timeline()
    ka = line.keeper(RedisLease(redis, key, "node-a", 3.0), poll_interval=0.1)
    kb = line.keeper(RedisLease(redis, key, "node-b", 3.0), poll_interval=0.1)
    ka.start()
    await ka.wait_active(5)
    kb.start()
    try:
        await asyncio.sleep(1.0)  # several renewals: b stays passive
        assert ka.holding() and not kb.holding()
        stopped = time.monotonic()
        await ka.stop()
        await kb.wait_active(2)
        handover = time.monotonic() - stopped
        assert handover < 1.0, handover  # the lease was released, not left to lapse (3 s)
    finally:
        await kb.stop()
    line.never_two_active()
    assert line.tokens() == sorted(line.tokens()) and len(set(line.tokens())) == 2


async def test_a_holder_cut_from_redis_steps_down_before_the_standby_can_acquire(
    redis: aioredis.Redis, key: str
) -> None:
    ttl = 2.0
    proxy = HangingProxy("127.0.0.1", int(REDIS_URL.rsplit(":", 1)[1].split("/")[0]))
    await proxy.start()
    # A's Redis hangs rather than refuses, and its socket timeout is longer than the lease:
    # only the keeper's own deadline can end its renewal in time.
    cut = aioredis.from_url(f"redis://127.0.0.1:{proxy.port}/0", socket_timeout=30)
    line = Timeline()
    ka = line.keeper(RedisLease(cut, key, "node-a", ttl), poll_interval=0.1)
    kb = line.keeper(RedisLease(redis, key, "node-b", ttl), poll_interval=0.1)
    try:
        ka.start()
        await ka.wait_active(5)
        kb.start()
        await asyncio.sleep(0.8)
        assert ka.holding()
        last_renewed = time.monotonic()  # at the latest: the renewals so far succeeded
        proxy.hang()
        # By the time the lease can lapse on Redis, A no longer acts: holding() is A's own clock against
        # its own deadline, so a loaded machine that wakes this test late cannot make it pass or fail.
        await asyncio.sleep(max(0.0, last_renewed + ttl - time.monotonic()))
        assert not ka.holding(), line.events
        await kb.wait_active(ttl + 3)
        took_over = time.monotonic()
        passive_at = next(t for t, node, what, _ in line.events if node == "node-a" and what == "passive")
        # A's step-down ran without waiting for the hung Redis (30 s socket timeout), before B's acquisition.
        assert passive_at < took_over, (passive_at - last_renewed, line.events)
        assert not ka.holding() and kb.holding()
        # B acquired once the key lapsed: no earlier than ttl after A's last renewal went out.
        print(f"\nlease ttl {ttl} s: A stepped down, B active {took_over - last_renewed:.2f} s after the cut")
        proxy.release()  # A reaches Redis again: it stays passive, the lease is B's
        await asyncio.sleep(1.0)
        assert not ka.holding() and kb.holding()
    finally:
        await kb.stop()
        await ka.stop()
        await cut.aclose()
        await proxy.stop()
    line.never_two_active()
    assert line.tokens() == sorted(line.tokens())
