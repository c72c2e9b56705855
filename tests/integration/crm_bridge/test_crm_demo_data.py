"""Demo data: realistic, covering every tier, loadable on SQLite and PostgreSQL."""

from __future__ import annotations

from collections import Counter
from collections.abc import AsyncIterator
from datetime import date

import pytest
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncEngine

from core.db import Base, create_engine, session_factory
from core.errors import Conflict
from core.phone import to_e164
from crm_bridge.demo_data import DEMO_CUSTOMERS, generate, load_demo
from crm_bridge.directory import CustomerDirectory
from crm_bridge.models import Customer, Subscription
from crm_bridge.textfold import fold

TODAY = date(2026, 5, 15)


@pytest.fixture
async def engine(db_url: str) -> AsyncIterator[AsyncEngine]:
    eng = create_engine(db_url)
    async with eng.begin() as conn:
        await conn.run_sync(Base.metadata.create_all)
    yield eng
    await eng.dispose()


def test_generated_rows_are_realistic_and_unique() -> None:
    batches = list(generate(3000, seed=5, today=TODAY, batch_size=1000))
    assert [len(b.customers) for b in batches] == [1000, 1000, 1000]
    customers = [c for b in batches for c in b.customers]
    subs = [s for b in batches for s in b.subscriptions]
    assert len({c[0] for c in customers}) == 3000
    assert any("ễ" in c[2] or "ư" in c[2] or "Đ" in c[2] for c in customers)  # diacritics kept
    assert all(c[3] == fold(c[2]) for c in customers)
    numbers = [s[3] for s in subs if s[3]]
    assert len(numbers) == len(set(numbers))
    assert all(to_e164(n) == n for n in numbers)  # every generated number is valid E.164
    assert not {c.number for c in DEMO_CUSTOMERS} & set(numbers)
    assert len({s[4] for s in subs}) == len(subs)  # accounts unique
    assert set(Counter(s[2] for s in subs)) == {
        "mobile_prepaid",
        "mobile_postpaid",
        "fixed",
        "gphone",
        "internet",
        "tv",
    }
    # same seed, same data
    again = next(generate(1000, seed=5, today=TODAY, batch_size=1000))
    assert again.customers[:50] == customers[:50]


async def test_load_demo_covers_every_tier(engine: AsyncEngine) -> None:
    assert await load_demo(engine, 2000, seed=3, today=TODAY) == 2000 + len(DEMO_CUSTOMERS)
    d = CustomerDirectory(session_factory(engine), today=lambda: TODAY)
    async with session_factory(engine)() as s:
        ids = list(await s.scalars(select(Customer.customer_id).order_by(Customer.customer_id).limit(300)))
        assert await s.scalar(select(func.count()).select_from(Customer)) == 2005
    tiers = Counter()
    for cid in ids:
        p = await d.by_customer_id(cid)
        assert p is not None
        tiers[p.tier] += 1
    assert set(tiers) == {"large", "sme", "other", "standard"}, tiers
    assert tiers["standard"] > tiers["large"]  # most customers are ordinary
    # IDs keep counting after a bulk load with explicit IDs (PostgreSQL sequences moved)
    sub_id = await d.add_subscription("KH0000000003", "internet", "dng_ftth_new")
    async with session_factory(engine)() as s:
        assert sub_id > await s.scalar(select(func.min(Subscription.id)).where(Subscription.id != sub_id))
    assert await d.add_points("KH0000000003", 10, "test") == 160
    with pytest.raises(Conflict):
        await load_demo(engine, 10)
