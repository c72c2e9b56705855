"""The callback worklist on SQLite and PostgreSQL: order by tier priority then age, one winner per
claim even under concurrent claims, outcomes, retries that keep the caller's place, releases."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import pytest

from core.db import create_engine, session_factory
from core.errors import Conflict, NotFound
from ivr.callbacks import CallbackStore, InvalidOutcome
from tongdai.schema import upgrade_to_head


class Clock:
    def __init__(self) -> None:
        self.now = datetime(2026, 11, 30, 2, 0, tzinfo=UTC)

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **kw: float) -> None:
        self.now += timedelta(**kw)


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
async def store(db_url: str, clock: Clock) -> AsyncIterator[CallbackStore]:
    engine = create_engine(db_url)
    await upgrade_to_head(engine)
    yield CallbackStore(
        session_factory(engine), max_attempts=2, retry_delay=timedelta(minutes=10), clock=clock
    )
    await engine.dispose()


async def record(store: CallbackStore, clock: Clock, number: str, tier: str, prio: int) -> int:
    clock.advance(seconds=1)
    return await store.record(number, None, f"call-{number}", acd_tier=tier, priority=prio)


async def test_worklist_orders_by_tier_priority_then_age(store: CallbackStore, clock: Clock) -> None:
    s1 = await record(store, clock, "0911000001", "standard", 10)
    g1 = await record(store, clock, "0911000002", "gold", 25)
    v1 = await record(store, clock, "0911000003", "vip", 300)
    s2 = await record(store, clock, "0911000004", "standard", 10)
    v2 = await record(store, clock, "0911000005", "vip", 300)
    assert [v.id for v in await store.pending()] == [v1, v2, g1, s1, s2]
    first = (await store.pending())[0]
    assert (first.acd_tier, first.priority, first.attempts, first.status) == ("vip", 300, 0, "pending")
    assert first.requested_at.tzinfo is not None


async def test_only_one_of_many_concurrent_claims_wins(store: CallbackStore, clock: Clock) -> None:
    rid = await record(store, clock, "0911000001", "standard", 10)
    agents = [f"10{i:02d}" for i in range(8)]
    results = await asyncio.gather(*(store.claim(rid, a) for a in agents), return_exceptions=True)
    won = [r for r in results if not isinstance(r, BaseException)]
    lost = [r for r in results if isinstance(r, BaseException)]
    assert len(won) == 1 and len(lost) == 7
    assert all(isinstance(e, Conflict) and "claimed by agent" in str(e) for e in lost)
    row = await store.get(rid)
    assert row.status == "claimed" and row.claimed_by == won[0].claimed_by and row.claimed_at == clock.now
    assert await store.pending() == []


async def test_claim_again_by_the_same_agent_is_a_no_op(store: CallbackStore, clock: Clock) -> None:
    rid = await record(store, clock, "0911000001", "standard", 10)
    first = await store.claim(rid, "1001")
    assert await store.claim(rid, "1001") == first


async def test_unknown_ids_are_not_found(store: CallbackStore) -> None:
    for op in (store.claim(999, "1001"), store.release(999, "1001"), store.complete(999, "1001", "reached")):
        with pytest.raises(NotFound):
            await op


async def test_reached_closes_the_request(store: CallbackStore, clock: Clock) -> None:
    rid = await record(store, clock, "0911000001", "gold", 25)
    await store.claim(rid, "1001")
    done = await store.complete(rid, "1001", "reached")
    assert (done.status, done.outcome, done.attempts, done.completed_at) == ("done", "reached", 1, clock.now)
    with pytest.raises(Conflict, match="already done"):
        await store.claim(rid, "1002")
    with pytest.raises(Conflict, match="already done"):
        await store.complete(rid, "1001", "reached")


async def test_no_answer_retries_in_place_after_the_delay_then_gives_up(
    store: CallbackStore, clock: Clock
) -> None:
    old = await record(store, clock, "0911000001", "standard", 10)
    await store.claim(old, "1001")
    later = await record(store, clock, "0911000002", "standard", 10)
    back = await store.complete(old, "1001", "no_answer")
    assert (back.status, back.attempts, back.outcome, back.claimed_by) == ("pending", 1, "no_answer", None)
    assert back.not_before == clock.now + timedelta(minutes=10)
    # Resting: not offered, not claimable.
    assert [v.id for v in await store.pending()] == [later]
    with pytest.raises(Conflict, match="waits until"):
        await store.claim(old, "1002")
    clock.advance(minutes=10)
    # Its place is its original request time: ahead of the request that came after it.
    assert [v.id for v in await store.pending()] == [old, later]
    await store.claim(old, "1002")
    final = await store.complete(old, "1002", "busy")  # max_attempts=2: this was the last try
    assert (final.status, final.attempts, final.outcome) == ("done", 2, "busy")
    assert [v.id for v in await store.pending()] == [later]


async def test_complete_needs_my_claim_and_a_known_outcome(store: CallbackStore, clock: Clock) -> None:
    rid = await record(store, clock, "0911000001", "standard", 10)
    with pytest.raises(Conflict, match="not claimed"):
        await store.complete(rid, "1001", "reached")
    await store.claim(rid, "1001")
    with pytest.raises(Conflict, match="claimed by agent 1001"):
        await store.complete(rid, "1002", "reached")
    with pytest.raises(InvalidOutcome, match="unknown outcome 'maybe'"):
        await store.complete(rid, "1001", "maybe")
    assert (await store.get(rid)).attempts == 0


async def test_release_gives_the_request_back_with_its_place(store: CallbackStore, clock: Clock) -> None:
    first = await record(store, clock, "0911000001", "standard", 10)
    second = await record(store, clock, "0911000002", "standard", 10)
    await store.claim(first, "1001")
    assert [v.id for v in await store.pending()] == [second]
    with pytest.raises(Conflict, match="claimed by agent 1001"):
        await store.release(first, "1002")
    back = await store.release(first, "1001")
    assert (back.status, back.claimed_by, back.attempts) == ("pending", None, 0)
    assert [v.id for v in await store.pending()] == [first, second]
    with pytest.raises(Conflict, match="not claimed"):
        await store.release(first, "1001")
    # A supervisor frees the claim of an agent who went home.
    await store.claim(first, "1001")
    assert (await store.release(first, "9000", any_claim=True)).status == "pending"


async def test_worklist_shows_my_claims_then_pending(store: CallbackStore, clock: Clock) -> None:
    a = await record(store, clock, "0911000001", "standard", 10)
    b = await record(store, clock, "0911000002", "vip", 300)
    c = await record(store, clock, "0911000003", "gold", 25)
    await store.claim(a, "1001")
    await store.claim(b, "1002")
    assert [v.id for v in await store.worklist("1001")] == [a, c]
    assert [v.id for v in await store.worklist("1002")] == [b, c]
    assert [v.id for v in await store.worklist("9000", every_claim=True)] == [b, a, c]
