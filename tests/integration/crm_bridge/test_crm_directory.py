"""CustomerDirectory on SQLite and PostgreSQL, with and without the Redis cache."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from datetime import UTC, date, datetime

import pytest
from redis.asyncio import Redis
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine

from core.db import Base, create_engine, session_factory
from core.errors import NotFound
from crm_bridge.cache import ProfileCache, ProfileCacheLike
from crm_bridge.demo_data import DEMO_CUSTOMERS, load_demo
from crm_bridge.directory import CustomerDirectory
from crm_bridge.memory_cache import MemoryProfileCache
from crm_bridge.models import Customer, Subscription

TODAY = date(2026, 5, 15)
AN, BINH, CUONG, DAI_PHAT, DUNG = DEMO_CUSTOMERS
REDIS_URL = "redis://127.0.0.1:6379/15"


@pytest.fixture
async def engine(db_url: str) -> AsyncIterator[AsyncEngine]:
    eng = create_engine(db_url)
    async with eng.begin() as conn:
        await conn.run_sync(Base.metadata.create_all)
    await load_demo(eng, 200, seed=7, today=TODAY)
    yield eng
    await eng.dispose()


@pytest.fixture(params=["redis", "memory"])
async def cache(request: pytest.FixtureRequest) -> AsyncIterator[ProfileCacheLike]:
    """Both caches honour one contract: Redis (several nodes) and in-process (one node, no Redis)."""
    if request.param == "memory":
        yield MemoryProfileCache(ttl_seconds=60)
        return
    redis = Redis.from_url(REDIS_URL)
    prefix = f"test:crm:{uuid.uuid4().hex}:"
    yield ProfileCache(redis, prefix=prefix, ttl_seconds=60)
    keys = [k async for k in redis.scan_iter(match=prefix + "*")]
    if keys:
        await redis.delete(*keys)
    await redis.aclose()


async def end_tombstone(cache: ProfileCacheLike, customer_id: str) -> None:
    if isinstance(cache, ProfileCache):
        await cache.redis.delete(cache.prefix + "x:" + customer_id)
    else:
        assert isinstance(cache, MemoryProfileCache)
        cache._tombstones.pop(customer_id)


def directory(engine: AsyncEngine, cache: ProfileCacheLike | None = None) -> CustomerDirectory:
    return CustomerDirectory(session_factory(engine), cache=cache, today=lambda: TODAY)


@pytest.mark.parametrize(
    "dialled", ["0912345678", "+84912345678", "84912345678", "912 345 678", "091.234.5678"]
)
async def test_lookup_by_any_number_format_finds_owner(engine: AsyncEngine, dialled: str) -> None:
    p = await directory(engine).by_number(dialled)
    assert p is not None
    assert p.customer_id == "KH0000000001"
    assert p.name == "Nguyễn Văn An"


async def test_profile_unifies_all_services_with_tier_reason(engine: AsyncEngine) -> None:
    d = directory(engine)
    p = await d.by_number(AN.number)
    assert p is not None
    assert {s.service for s in p.services} == {"mobile_postpaid", "internet", "tv"}
    assert p.tier == "large" and p.care_card == "red"
    # 450,000 - 50,000 (other carriers' VoIP) + 650,000
    assert p.tier_reason.inputs["monthly_revenue_vnd"] == 1_050_000
    assert p.tier_reason.inputs["excluded_voip_vnd_per_month"] == 50_000
    assert "1,050,000 VND" in p.tier_reason.explanation_en
    assert p.points == 12_500 and p.loyalty_rank == "gold"
    assert p.id_number_masked == "*********345"
    # the same owner through its internet account and its customer ID
    by_acc = await d.by_account("hni_ftth_nvan01")
    by_id = await d.by_customer_id("KH0000000001")
    assert by_acc == p == by_id


async def test_every_demo_customer_gets_its_tier(engine: AsyncEngine) -> None:
    d = directory(engine)
    for c in DEMO_CUSTOMERS:
        p = await d.by_number(c.number)
        assert p is not None, c.customer_id
        assert (p.customer_id, p.tier) == (c.customer_id, c.tier)
    binh = await d.by_number(BINH.number)
    assert binh is not None and binh.overdue_debt_vnd == 120_000
    assert binh.tier_reason.inputs["monthly_revenue_vnd"] == 500_000  # debt not counted


async def test_fixed_line_and_contact_number_lookup(engine: AsyncEngine) -> None:
    d = directory(engine)
    p = await d.by_number("024 3826 1234")
    assert p is not None and p.customer_id == DAI_PHAT.customer_id and p.kind == "organisation"
    via_contact = await d.by_number("0903000001")  # Nguyễn Văn An's other-carrier mobile
    assert via_contact is not None and via_contact.customer_id == AN.customer_id


async def test_unknown_and_garbage_numbers(engine: AsyncEngine) -> None:
    d = directory(engine)
    assert await d.by_number("0999999999") is None
    assert await d.by_number("anonymous") is None
    assert await d.by_customer_id("KH9999999999") is None
    assert await d.by_account("nope") is None


async def test_terminated_number_no_longer_matches(engine: AsyncEngine) -> None:
    d = directory(engine)
    async with session_factory(engine)() as s:
        sub_id = await s.scalar(select(Subscription.id).where(Subscription.number_e164 == CUONG.number))
    assert sub_id is not None
    await d.set_subscription_status(sub_id, "suspended")
    p = await d.by_number(CUONG.number)
    assert p is not None and p.services[0].status == "suspended"  # suspended callers are still known
    await d.set_subscription_status(sub_id, "terminated")
    assert await d.by_number(CUONG.number) is None
    assert await d.by_customer_id(CUONG.customer_id) is not None  # the customer ID is permanent


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("nguyen van an", "KH0000000001"),
        ("NGUYỄN VĂN AN", "KH0000000001"),
        ("Nguyen  Van", "KH0000000001"),
        ("van an", "KH0000000001"),
        ("tran thi binh", "KH0000000002"),
        ("dai phat", "KH0000000004"),  # đ folds to d
        ("Đại Phát", "KH0000000004"),
        ("0987654321", "KH0000000002"),
        ("kh0000000005", "KH0000000005"),
    ],
)
async def test_search_ignores_diacritics_and_case(engine: AsyncEngine, query: str, expected: str) -> None:
    found = await directory(engine).search(query, limit=50)
    assert expected in [s.customer_id for s in found]


async def test_search_limit_and_no_match(engine: AsyncEngine) -> None:
    d = directory(engine)
    assert len(await d.search("nguyen", limit=3)) == 3
    assert await d.search("zzzz qqqq") == []
    assert await d.search("   ") == []


@pytest.mark.parametrize(
    "query",
    [
        "van an",
        "thi",
        "an",
        "ng",
        "ng thi",
        "nguyen ng",
        "an an",
        "cong 12",
        "h t",
        "tran thi hoa",
        "hoa tran",
    ],
)
async def test_search_by_words_finds_exactly_what_a_scan_of_every_name_finds(
    engine: AsyncEngine, query: str
) -> None:
    """Each query word must start a word of the name, in any order; whole-name prefix matches come first."""
    async with session_factory(engine)() as s:
        names = (await s.execute(select(Customer.customer_id, Customer.name_search))).all()
    words = query.split()
    expected = {cid for cid, ns in names if all(any(nw.startswith(w) for nw in ns.split()) for w in words)}
    found = [r.customer_id for r in await directory(engine).search(query, limit=1000)]
    assert len(found) == len(set(found))
    assert set(found) == expected
    prefixed = {cid for cid, ns in names if ns.startswith(query)}
    assert set(found[: len(prefixed)]) == prefixed


async def test_search_limit_counts_each_customer_once(engine: AsyncEngine) -> None:
    # "ng" starts two words of "nguyen ngoc ...": the word index holds such a customer twice.
    found = [r.customer_id for r in await directory(engine).search("ng", limit=7)]
    assert len(found) == 7 and len(set(found)) == 7


async def test_renamed_customer_is_found_by_the_new_name_only(
    engine: AsyncEngine, cache: ProfileCacheLike
) -> None:
    d = directory(engine, cache)
    before = await d.by_customer_id(AN.customer_id)  # cached under the old name
    assert before is not None and before.name == "Nguyễn Văn An"
    await d.rename(AN.customer_id, "  Hoàng Thị Xuyến ")
    assert [r.customer_id for r in await d.search("xuyen")] == [AN.customer_id]
    assert [r.customer_id for r in await d.search("THỊ XUYẾN")] == [AN.customer_id]
    assert AN.customer_id not in [r.customer_id for r in await d.search("van an", limit=1000)]
    assert AN.customer_id not in [r.customer_id for r in await d.search("nguyen van an", limit=1000)]
    await end_tombstone(cache, AN.customer_id)
    after = await d.by_number(AN.number)
    assert after is not None and after.name == "Hoàng Thị Xuyến"
    with pytest.raises(NotFound):
        await d.rename("KH0999999999", "Lê An")
    with pytest.raises(ValueError, match="full_name"):
        await d.rename(AN.customer_id, "   ")


async def test_interactions_and_points(engine: AsyncEngine) -> None:
    d = directory(engine)
    t0 = datetime(2026, 5, 1, 9, 0, tzinfo=UTC)
    await d.add_interaction(AN.customer_id, "call", "Hỏi cước", agent_id="1001", call_id="1700.1", at=t0)
    await d.add_interaction(
        AN.customer_id, "complaint", "Mạng chậm", agent_id="1002", at=datetime(2026, 5, 2, tzinfo=UTC)
    )
    recent = await d.recent_interactions(AN.customer_id)
    assert [i.kind for i in recent] == ["complaint", "call"]
    assert recent[1].at == t0 and recent[1].call_id == "1700.1"
    assert await d.add_points(AN.customer_id, 8_000, "Tặng điểm") == 20_500
    p = await d.by_customer_id(AN.customer_id)
    assert p is not None and p.loyalty_rank == "diamond"
    assert [i.summary for i in p.recent_interactions] == ["Mạng chậm", "Hỏi cước"]
    with pytest.raises(NotFound):
        await d.add_interaction("KH9999999999", "note", "x")


async def test_cache_serves_and_is_invalidated_on_write(engine: AsyncEngine, cache: ProfileCacheLike) -> None:
    d = directory(engine, cache)
    first = await d.by_number("0912345678")
    assert first is not None
    hit = await cache.lookup("n", "+84912345678")
    assert hit.hit and hit.profile == first
    # every number and account of the owner points to the cached profile
    assert (await cache.lookup("a", "hni_ftth_nvan01")).profile == first
    await d.add_interaction(AN.customer_id, "note", "VIP")
    assert not (await cache.lookup("n", "+84912345678")).hit
    assert not (await cache.lookup("a", "hni_ftth_nvan01")).hit
    assert await cache.get(AN.customer_id) is None
    again = await d.by_number("0912345678")
    assert again is not None and again.recent_interactions[0].summary == "VIP"
    # within the tombstone window a reader cannot put a possibly stale profile back
    assert not (await cache.lookup("n", "+84912345678")).hit
    await end_tombstone(cache, AN.customer_id)
    await d.prefetch("0912345678")
    warm = await cache.lookup("n", "+84912345678")
    assert warm.hit and warm.profile is not None and warm.profile.recent_interactions[0].summary == "VIP"


async def test_cache_remembers_unknown_number_until_assigned(
    engine: AsyncEngine, cache: ProfileCacheLike
) -> None:
    d = directory(engine, cache)
    assert await d.by_number("0944000111") is None
    neg = await cache.lookup("n", "+84944000111")
    assert neg.hit and neg.profile is None
    await d.add_subscription(BINH.customer_id, "mobile_prepaid", "VNP0944000111", number="0944000111")
    p = await d.by_number("0944000111")
    assert p is not None and p.customer_id == BINH.customer_id


async def test_directory_works_when_redis_is_down(engine: AsyncEngine) -> None:
    dead = ProfileCache(Redis.from_url("redis://127.0.0.1:1/0", socket_connect_timeout=0.2), prefix="x:")
    d = directory(engine, dead)
    p = await d.by_number(AN.number)
    assert p is not None and p.customer_id == AN.customer_id
    await d.add_interaction(AN.customer_id, "note", "still works")
    await dead.redis.aclose()


async def test_profile_json_round_trip(engine: AsyncEngine) -> None:
    import json

    p = await directory(engine).by_number(AN.number)
    assert p is not None
    data = json.loads(json.dumps(p.to_json()))
    assert data["services"][0]["started_on"].count("-") == 2
    assert type(p).from_json(data) == p
