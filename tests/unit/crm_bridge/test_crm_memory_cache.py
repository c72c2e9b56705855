"""The in-process profile cache: TTL, LRU bound, known-unknown numbers and tombstones on a fake clock."""

from __future__ import annotations

from crm_bridge.memory_cache import MemoryProfileCache
from crm_bridge.profile import CustomerProfile
from crm_bridge.tiering import TierDecision


def profile(cid: str) -> CustomerProfile:
    reason = TierDecision("standard", "test", {}, "thử", "test")
    return CustomerProfile(
        customer_id=cid,
        name=f"Khách {cid}",
        kind="individual",
        tier="standard",
        tier_reason=reason,
        care_card="none",
        loyalty_rank="",
        points=0,
        overdue_debt_vnd=0,
    )


async def put(c: MemoryProfileCache, cid: str, number: str) -> bool:
    return await c.put(profile(cid), extra_numbers=[number], extra_accounts=[f"acc-{cid}"])


class Clock:
    def __init__(self) -> None:
        self.t = 1000.0

    def __call__(self) -> float:
        return self.t


async def test_ttl_and_pointers() -> None:
    clock = Clock()
    c = MemoryProfileCache(ttl_seconds=60, clock=clock)
    assert await put(c, "KH1", "+84911000001")
    assert (await c.lookup("n", "+84911000001")).profile == profile("KH1")
    assert (await c.lookup("a", "acc-KH1")).customer_id == "KH1"
    clock.t += 61
    assert not (await c.lookup("n", "+84911000001")).hit
    assert await c.get("KH1") is None


async def test_lru_bound_keeps_the_recently_used() -> None:
    c = MemoryProfileCache(max_profiles=100)
    for i in range(150):
        await put(c, f"KH{i}", f"+8491100{i:04d}")
        await c.get("KH0")  # in use all along: never evicted
    assert len(c) == 100
    assert await c.get("KH0") is not None and await c.get("KH1") is None
    assert not (await c.lookup("n", "+84911000001")).hit  # a pointer to an evicted profile is a miss


async def test_unknown_number_then_invalidation_and_tombstone() -> None:
    clock = Clock()
    c = MemoryProfileCache(negative_ttl_seconds=30, tombstone_seconds=5, clock=clock)
    await c.put_unknown("n", "+84944000111")
    neg = await c.lookup("n", "+84944000111")
    assert neg.hit and neg.profile is None
    await c.forget("n", "+84944000111")
    assert not (await c.lookup("n", "+84944000111")).hit
    assert await put(c, "KH2", "+84944000111")
    await c.invalidate("KH2", ["+84944000111"], ["acc-KH2"])
    assert not (await c.lookup("n", "+84944000111")).hit
    assert not await put(c, "KH2", "+84944000111"), "a reader must not put back what a write invalidated"
    clock.t += 6
    assert await put(c, "KH2", "+84944000111")
