"""CSV import on SQLite and PostgreSQL: all rows or none, bad rows reported by number and reason."""

from __future__ import annotations

import io
from collections.abc import AsyncIterator
from datetime import date
from pathlib import Path

import pytest
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from core.db import Base, create_engine, session_factory
from crm_bridge.directory import CustomerDirectory
from crm_bridge.importer import ImportRejected, import_csv
from crm_bridge.models import (
    ContactNumber,
    Customer,
    CustomerWord,
    MonthlyRevenue,
    PointsLedger,
    Subscription,
)

TODAY = date(2026, 5, 15)

CUSTOMERS = (
    (
        "\ufeffcustomer_id,full_name,kind,date_of_birth,id_number,province,consent_recording,segment,"
        "contact_numbers\n"
    )
    + """\
KH0000100001,Đỗ Thị Hoa,individual,02/09/1988,001188000111,Hà Nội,có,vip,0903 111 222
KH0000100002,"Công ty Cổ phần Sao Việt",organisation,,0312345678,TP Hồ Chí Minh,1,,
KH0000100003,Bùi Văn Tùng,,1975-12-01,,Đà Nẵng,0,new,
"""
)
SUBSCRIPTIONS = """customer_id,service,account,number,package,status,started_on
KH0000100001,mobile_postpaid,VNP0945000001,0945 000 001,VIP1000,active,2020-01-15
KH0000100001,internet,hni_ftth_hoa,,FiberVNN Home 3,,15/03/2021
KH0000100002,fixed,HCM02838001122,028 3800 1122,Cố định doanh nghiệp,active,2019-06-01
KH0000100003,mobile_prepaid,VNP0168123456,01681234567,Prepaid,active,2015-01-01
"""
REVENUE = """account,month,charged_vnd,other_carrier_voip_vnd,overdue_debt_vnd
VNP0945000001,2026-02,"1.050.000",50000,0
VNP0945000001,2026-03,1050000,50000,0
VNP0945000001,2026-04,"1,050,000",50000,0
hni_ftth_hoa,2026-04,300000,,
HCM02838001122,2026-04,450000,0,200000
"""
POINTS = """customer_id,delta,reason,at
KH0000100001,12000,Tích điểm,2026-04-30T10:00:00+07:00
KH0000100001,-2000,Đổi quà,
KH0000100003,50,Tích điểm,
"""


@pytest.fixture
async def engine(db_url: str) -> AsyncIterator[AsyncEngine]:
    eng = create_engine(db_url)
    async with eng.begin() as conn:
        await conn.run_sync(Base.metadata.create_all)
    yield eng
    await eng.dispose()


async def counts(sessions: async_sessionmaker[AsyncSession]) -> dict[str, int]:
    out = {}
    async with sessions() as s:
        for m in (Customer, Subscription, MonthlyRevenue, PointsLedger, ContactNumber, CustomerWord):
            out[m.__tablename__] = int(await s.scalar(select(func.count()).select_from(m)) or 0)
    return out


def write_files(tmp_path: Path, **texts: str) -> dict[str, Path]:
    paths = {}
    for kind, text in texts.items():
        p = tmp_path / f"{kind}.csv"
        p.write_text(text, encoding="utf-8")
        paths[kind] = p
    return paths


async def test_good_files_import_completely(engine: AsyncEngine, tmp_path: Path) -> None:
    sessions = session_factory(engine)
    seen: list[tuple[str, int, int]] = []
    files = write_files(
        tmp_path, customers=CUSTOMERS, subscriptions=SUBSCRIPTIONS, revenue=REVENUE, points=POINTS
    )
    report = await import_csv(sessions, **files, progress=lambda *a: seen.append(a), progress_every=2)
    assert (report.customers, report.subscriptions, report.revenue, report.points, report.contacts) == (
        3, 4, 5, 3, 1,
    )  # fmt: skip
    assert report.customer_ids == {"KH0000100001", "KH0000100002", "KH0000100003"}
    assert await counts(sessions) == {
        "crm_customers": 3,
        "crm_subscriptions": 4,
        "crm_monthly_revenue": 5,
        "crm_points_ledger": 3,
        "crm_contact_numbers": 1,
        "crm_customer_words": 3 + 6 + 3,  # do thi hoa / cong ty co phan sao viet / bui van tung
    }
    assert seen[-1] == ("write", 16, 16)
    assert ("validate", 15, 15) in seen
    assert all(done <= total for _, done, total in seen)

    d = CustomerDirectory(sessions, today=lambda: TODAY)
    hoa = await d.by_number("0903111222")  # contact number
    assert hoa is not None and hoa.name == "Đỗ Thị Hoa"
    assert hoa.tier == "large" and hoa.points == 10_000 and hoa.consent.recording
    tung = await d.by_number("0381234567")  # imported as 0168…, stored as its 2018 successor
    assert tung is not None and tung.customer_id == "KH0000100003" and tung.tier == "standard"
    org = await d.by_account("HCM02838001122")
    assert org is not None and org.kind == "organisation" and org.overdue_debt_vnd == 200_000
    assert [s.customer_id for s in await d.search("sao viet")] == ["KH0000100002"]
    # Words in the middle of imported names are found through the word index.
    assert [s.customer_id for s in await d.search("phan viet")] == ["KH0000100002"]
    assert [s.customer_id for s in await d.search("thi ho")] == ["KH0000100001"]
    async with sessions() as s:
        words = await s.scalars(select(CustomerWord.word).where(CustomerWord.customer_id == "KH0000100003"))
        assert sorted(words) == ["bui", "tung", "van"]


async def test_failure_while_writing_leaves_no_words(engine: AsyncEngine, tmp_path: Path) -> None:
    """All or nothing holds for the word index too: a failure after the names were written undoes them."""
    sessions = session_factory(engine)
    files = write_files(tmp_path, customers=CUSTOMERS, subscriptions=SUBSCRIPTIONS)

    def fail_after_customers(phase: str, done: int, total: int) -> None:
        if phase == "write" and done > 3:  # customers, their words and contacts are in; subscriptions not
            raise RuntimeError("disk full")

    with pytest.raises(RuntimeError, match="disk full"):
        await import_csv(sessions, **files, progress=fail_after_customers, progress_every=1)
    assert set((await counts(sessions)).values()) == {0}
    assert await CustomerDirectory(sessions).search("thi hoa") == []


async def test_one_bad_row_rejects_the_whole_import(engine: AsyncEngine, tmp_path: Path) -> None:
    sessions = session_factory(engine)
    # Row 4 of the revenue file has a month that does not exist; everything else is valid.
    bad_revenue = REVENUE.replace("hni_ftth_hoa,2026-04", "hni_ftth_hoa,2026-13")
    files = write_files(
        tmp_path, customers=CUSTOMERS, subscriptions=SUBSCRIPTIONS, revenue=bad_revenue, points=POINTS
    )
    with pytest.raises(ImportRejected) as info:
        await import_csv(sessions, **files)
    errors = info.value.errors
    assert [(e.file, e.row) for e in errors] == [("revenue.csv", 5)]
    assert "month '2026-13' is not YYYY-MM" in errors[0].reason
    assert "revenue.csv row 5" in str(info.value)
    assert info.value.error_id == "crm.import_rejected"
    assert set((await counts(sessions)).values()) == {0}


@pytest.mark.parametrize(
    ("kind", "old", "new", "row", "reason"),
    [
        ("customers", "KH0000100003,Bùi", "KH0000100001,Bùi", 4, "appears twice"),
        ("customers", "02/09/1988", "31/02/1988", 2, "is not a date"),
        ("customers", "0903 111 222", "09031", 2, "contact_numbers"),
        ("customers", "vip,", "gold,", 2, "segment 'gold'"),
        ("subscriptions", "0945 000 001", "not-a-number", 2, "number"),
        ("subscriptions", "KH0000100003,mobile", "KH0000999999,mobile", 5, "neither in the database"),
        ("subscriptions", "mobile_prepaid", "satellite", 5, "service 'satellite'"),
        ("subscriptions", "028 3800 1122", "", 4, "number is required for fixed"),
        ("revenue", "VNP0945000001,2026-03", "VNP0945000001,2026-02", 3, "appears twice"),
        ("revenue", "450000,0,200000", "450000,-1,200000", 6, "other_carrier_voip_vnd"),
        ("revenue", "300000,,", "12.5,,", 5, "charged_vnd '12.5'"),
        ("revenue", "2026-03,1050000,50000", "2026-03,40000,50000", 3, "exceeds charged_vnd"),
        ("points", "KH0000100003,50", "KH0000100003,0", 4, "delta is 0"),
        ("points", "2026-04-30T10:00:00+07:00", "2026-04-30T10:00:00", 2, "UTC offset"),
    ],
)
async def test_each_kind_of_bad_row_is_reported_and_nothing_written(
    engine: AsyncEngine, kind: str, old: str, new: str, *, row: int, reason: str
) -> None:
    texts = {"customers": CUSTOMERS, "subscriptions": SUBSCRIPTIONS, "revenue": REVENUE, "points": POINTS}
    assert old in texts[kind]
    texts[kind] = texts[kind].replace(old, new, 1)
    sessions = session_factory(engine)
    streams = {k: io.StringIO(v, newline="") for k, v in texts.items()}
    for k, s in streams.items():
        s.name = f"{k}.csv"  # type: ignore[misc]
    with pytest.raises(ImportRejected) as info:
        await import_csv(sessions, **streams)  # type: ignore[arg-type]
    first = info.value.errors[0]
    assert (first.file, first.row) == (f"{kind}.csv", row), info.value.errors
    assert reason in first.reason
    assert set((await counts(sessions)).values()) == {0}


async def test_conflicts_with_rows_already_in_the_database(engine: AsyncEngine, tmp_path: Path) -> None:
    sessions = session_factory(engine)
    files = write_files(tmp_path, customers=CUSTOMERS, subscriptions=SUBSCRIPTIONS, revenue=REVENUE)
    await import_csv(sessions, **files)
    before = await counts(sessions)
    # Second run: new revenue for an existing account is fine, but one bill is already stored.
    (tmp_path / "again").mkdir()
    more = write_files(
        tmp_path / "again",
        revenue="account,month,charged_vnd\nhni_ftth_hoa,2026-03,280000\nhni_ftth_hoa,2026-04,300000\n",
    )
    with pytest.raises(ImportRejected) as info:
        await import_csv(sessions, **more)
    assert [(e.row, e.reason) for e in info.value.errors] == [
        (3, "revenue of hni_ftth_hoa for 2026-04 already exists")
    ]
    assert await counts(sessions) == before
    again = write_files(tmp_path / "again", customers=CUSTOMERS)
    with pytest.raises(ImportRejected) as info:
        await import_csv(sessions, **again)
    assert [e.row for e in info.value.errors] == [2, 3, 4]
    assert all("already exists" in e.reason for e in info.value.errors)
    ok = write_files(tmp_path / "again", revenue="account,month,charged_vnd\nhni_ftth_hoa,2026-03,280000\n")
    report = await import_csv(sessions, **ok)
    assert report.revenue == 1 and report.customer_ids == {"KH0000100001"}


async def test_bad_header_is_reported_once(engine: AsyncEngine) -> None:
    src = io.StringIO("customer_id,name\nKH0000100001,An\n")
    with pytest.raises(ImportRejected) as info:
        await import_csv(session_factory(engine), customers=src)
    reasons = [(e.row, e.reason) for e in info.value.errors]
    assert reasons == [(1, "missing column(s): full_name"), (1, "unknown column(s): name")]


async def test_import_invalidates_cached_profiles(sqlite_url: str, tmp_path: Path) -> None:
    import uuid

    from redis.asyncio import Redis

    from crm_bridge.cache import ProfileCache

    eng = create_engine(sqlite_url)
    async with eng.begin() as conn:
        await conn.run_sync(Base.metadata.create_all)
    redis = Redis.from_url("redis://127.0.0.1:6379/15")
    cache = ProfileCache(redis, prefix=f"test:imp:{uuid.uuid4().hex}:", tombstone_seconds=1)
    try:
        sessions = session_factory(eng)
        d = CustomerDirectory(sessions, cache=cache, today=lambda: TODAY)
        files = write_files(tmp_path, customers=CUSTOMERS, subscriptions=SUBSCRIPTIONS)
        assert await d.by_number("0945000001") is None  # unknown: remembered briefly
        await import_csv(sessions, **files, cache=cache)
        p = await d.by_number("0945000001")  # the negative entry was dropped by the import
        assert p is not None and p.points == 0
        await redis.delete(cache.prefix + "x:KH0000100001")
        await d.by_number("0945000001")
        assert (await cache.lookup("n", "+84945000001")).hit
        (tmp_path / "p").mkdir()
        await import_csv(sessions, **write_files(tmp_path / "p", points=POINTS), cache=cache)
        assert not (await cache.lookup("n", "+84945000001")).hit
        again = await d.by_number("0945000001")
        assert again is not None and again.points == 10_000
    finally:
        keys = [k async for k in redis.scan_iter(match=cache.prefix + "*")]
        if keys:
            await redis.delete(*keys)
        await redis.aclose()
        await eng.dispose()
