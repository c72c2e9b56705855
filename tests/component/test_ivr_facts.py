"""The IVR's light CRM read (ivr.lookup.SqlFacts) on a real SQLite CRM: the same answers as the
directory's full profile for every customer, so the queue priority matches what the agent sees."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import date
from pathlib import Path

import pytest
from sqlalchemy import select

from core.db import create_engine, session_factory
from core.vietnam import today_vn
from crm_bridge.demo_data import load_demo
from crm_bridge.directory import CustomerDirectory
from crm_bridge.models import ContactNumber, Subscription
from crm_bridge.tiering import window_months
from ivr.lookup import SqlFacts, ivr_directory
from tongdai.schema import upgrade_to_head


@pytest.fixture
async def crm(tmp_path: Path) -> AsyncIterator[tuple[CustomerDirectory, SqlFacts]]:
    engine = create_engine(f"sqlite+aiosqlite:///{tmp_path / 'crm.db'}")
    await upgrade_to_head(engine)
    await load_demo(engine, 150)  # the 5 fixed customers and 150 generated ones
    directory = CustomerDirectory(session_factory(engine))
    yield directory, ivr_directory(directory)
    await engine.dispose()


async def test_same_customer_tier_points_language_as_the_profile(
    crm: tuple[CustomerDirectory, SqlFacts],
) -> None:
    directory, facts = crm
    async with directory.sessions() as s:
        subs = (await s.execute(select(Subscription.number_e164, Subscription.account))).all()
        contacts = list(await s.scalars(select(ContactNumber.number_e164)))
    checked = 0
    for number, account in subs:
        keys = [("account", account)] + ([("number", number)] if number else [])
        for kind, key in keys:
            want = await getattr(directory, f"by_{kind}")(key)
            got = await getattr(facts, f"by_{kind}")(key)
            if want is None:
                assert got is None, (kind, key)
                continue
            assert got is not None, (kind, key)
            assert (got.customer_id, got.tier, got.points, got.language, got.area, got.name) == (
                want.customer_id,
                want.tier,
                want.points,
                want.preferred_language,
                want.province,
                want.name,
            ), (kind, key)
            checked += 1
    for number in contacts:  # a number the owner gave us that is not one of our lines
        want, got = await directory.by_number(number), await facts.by_number(number)
        assert (got.customer_id if got else None) == (want.customer_id if want else None)
    assert checked > 150
    assert {f.tier for f in [await facts.by_customer_id(f"KH000000000{i}") for i in range(1, 6)] if f} == {
        "large",
        "sme",
        "other",
        "standard",
    }


async def test_last_bill_is_the_latest_month_across_the_lines(
    crm: tuple[CustomerDirectory, SqlFacts],
) -> None:
    _, facts = crm
    an = await facts.by_number("0912345678")  # KH0000000001: mobile 450,000 + internet 650,000 a month
    assert an is not None and an.customer_id == "KH0000000001" and an.points == 12_500
    last = window_months(today_vn(), 3)[-1]
    assert an.last_bill_month == date(int(last[:4]), int(last[5:]), 1)
    assert an.last_bill_vnd == 1_100_000
    assert await facts.by_number("0281234567") is None
    assert await facts.by_customer_id("KH9999999999") is None
    assert await facts.by_account("  ") is None


async def test_overdue_debt_is_the_latest_bills_debt_across_the_lines(
    crm: tuple[CustomerDirectory, SqlFacts],
) -> None:
    _, facts = crm
    binh = await facts.by_number("0987654321")  # KH0000000002: 120,000 overdue on her postpaid line
    assert binh is not None and binh.customer_id == "KH0000000002"
    assert binh.debt_vnd == 120_000
    an = await facts.by_number("0912345678")  # KH0000000001 owes nothing
    assert an is not None and an.debt_vnd == 0
