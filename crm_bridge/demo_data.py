"""Demo data: a fixed set of known customers for tests and the demo, and a fast bulk generator.

``DEMO_CUSTOMERS`` are five customers with known numbers covering every tier (their revenue is written
for the tier window before the load day, so their tier holds whenever the demo is loaded).
``generate(n, seed)`` yields batches of realistic rows (Vietnamese names with diacritics, provinces
with their area codes, service mixes, revenue across all tiers); ``load_demo`` writes them with core
``executemany`` on SQLite and ``COPY`` on PostgreSQL: a million customers in well under a minute.
"""

from __future__ import annotations

import asyncio
import json
import random
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any

from sqlalchemy import Connection, Index, func, select
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from core.db import Base
from core.errors import Conflict
from core.vietnam import today_vn
from crm_bridge.models import (
    ContactNumber,
    Customer,
    CustomerWord,
    MonthlyRevenue,
    PointsLedger,
    Subscription,
)
from crm_bridge.name_index import PG_FILL_WORDS
from crm_bridge.textfold import fold, words_of
from crm_bridge.tiering import window_months

__all__ = [
    "CONTACT_COLS",
    "CUSTOMER_COLS",
    "DEMO_CUSTOMERS",
    "POINTS_COLS",
    "REVENUE_COLS",
    "SUBSCRIPTION_COLS",
    "WORD_COLS",
    "DemoBatch",
    "DemoCustomer",
    "DemoLine",
    "generate",
    "load_demo",
]

# ---- the fixed demo customers ------------------------------------------------------------------


@dataclass(frozen=True)
class DemoLine:
    service: str
    account: str
    number: str | None  # E.164
    package: str
    monthly_vnd: int  # charged per month, before VAT, including other carriers' VoIP below
    voip_vnd: int = 0
    overdue_debt_vnd: int = 0


@dataclass(frozen=True)
class DemoCustomer:
    customer_id: str
    name: str
    kind: str
    province: str
    tier: str  # the tier the data is built to produce with the default rules
    lines: tuple[DemoLine, ...]
    points: int = 0
    segment: str | None = None
    id_number: str | None = None
    date_of_birth: date | None = None
    contact_numbers: tuple[str, ...] = field(default_factory=tuple)

    @property
    def number(self) -> str:
        """The customer's first phone number (E.164)."""
        return next(line.number for line in self.lines if line.number)


DEMO_CUSTOMERS: tuple[DemoCustomer, ...] = (
    DemoCustomer(
        "KH0000000001",
        "Nguyễn Văn An",
        "individual",
        "Hà Nội",
        "large",
        (
            # 450,000 - 50,000 VoIP + 650,000 = 1,050,000 VND/month counted → large.
            DemoLine("mobile_postpaid", "VNP0912345678", "+84912345678", "VIP500", 450_000, voip_vnd=50_000),
            DemoLine("internet", "hni_ftth_nvan01", None, "FiberVNN Home 3", 650_000),
            DemoLine("tv", "hni_mytv_nvan01", None, "MyTV Nâng cao", 0),
        ),
        points=12_500,
        segment="vip",
        id_number="001085012345",
        date_of_birth=date(1985, 3, 14),
        contact_numbers=("+84903000001",),
    ),
    DemoCustomer(
        "KH0000000002",
        "Trần Thị Bình",
        "individual",
        "TP Hồ Chí Minh",
        "sme",
        (
            DemoLine(
                "mobile_postpaid", "VNP0987654321", "+84987654321", "D500", 500_000, overdue_debt_vnd=120_000
            ),
        ),
        points=2_300,
        id_number="079190054321",
        date_of_birth=date(1990, 7, 2),
    ),
    DemoCustomer(
        "KH0000000003",
        "Lê Văn Cường",
        "individual",
        "Đà Nẵng",
        "standard",
        (DemoLine("mobile_prepaid", "VNP0333333333", "+84333333333", "Prepaid", 60_000),),
        points=150,
        id_number="048095011111",
        date_of_birth=date(1995, 11, 30),
    ),
    DemoCustomer(
        "KH0000000004",
        "Công ty TNHH Đại Phát",
        "organisation",
        "Hà Nội",
        "other",
        (
            # Fixed + Gphone average 150,000 per subscription per month → other.
            DemoLine("fixed", "HNI02438261234", "+842438261234", "Cố định doanh nghiệp", 180_000),
            DemoLine("gphone", "HNI02439998888", "+842439998888", "Gphone", 120_000),
        ),
        points=0,
        segment="potential",
        id_number="0101234567",
    ),
    DemoCustomer(
        "KH0000000005",
        "Phạm Thị Dung",
        "individual",
        "Cần Thơ",
        "other",
        (DemoLine("mobile_postpaid", "VNP0889990005", "+84889990005", "Smart250", 250_000),),
        points=4_100,
        segment="new",
        id_number="092198076543",
        date_of_birth=date(1998, 1, 20),
    ),
)

# ---- vocabulary --------------------------------------------------------------------------------

_FAMILY = (
    ("Nguyễn", 38),
    ("Trần", 11),
    ("Lê", 9),
    ("Phạm", 7),
    ("Hoàng", 5),
    ("Huỳnh", 4),
    ("Phan", 4),
    ("Vũ", 4),
    ("Võ", 3),
    ("Đặng", 2),
    ("Bùi", 2),
    ("Đỗ", 2),
    ("Hồ", 2),
    ("Ngô", 2),
    ("Dương", 1),
    ("Lý", 1),
)
_MIDDLE_M = ("Văn", "Hữu", "Đức", "Minh", "Quang", "Thanh", "Xuân", "Gia", "Bảo", "Công", "Đình", "Tuấn")
_MIDDLE_F = ("Thị", "Ngọc", "Thu", "Thanh", "Minh", "Hoài", "Bảo", "Phương", "Kim", "Mỹ", "Diệu", "Thùy")
_GIVEN_M = (
    "An", "Bình", "Cường", "Dũng", "Đạt", "Hải", "Hiếu", "Hùng", "Khánh", "Khoa", "Long", "Lộc", "Minh",
    "Nam", "Phong", "Phúc", "Quân", "Sơn", "Tâm", "Thắng", "Trung", "Tuấn", "Tùng", "Việt", "Đức", "Huy",
)  # fmt: skip
_GIVEN_F = (
    "An", "Anh", "Giang", "Hà", "Hạnh", "Hoa", "Hương", "Huyền", "Lan", "Linh", "Mai", "Nga", "Ngọc",
    "Nhung", "Phương", "Quỳnh", "Thảo", "Thủy", "Trang", "Vân", "Yến", "Hằng", "Loan", "Oanh", "Uyên",
)  # fmt: skip
_ORG_FORM = ("Công ty TNHH", "Công ty Cổ phần", "Doanh nghiệp tư nhân", "Hợp tác xã")
_ORG_NAME = (
    "Đại Phát", "Minh Long", "Hòa Bình", "Sao Việt", "Thành Công", "An Khang", "Phú Gia", "Trường Sơn",
    "Hưng Thịnh", "Việt Tiến", "Bình Minh", "Tân Cảng", "Đông Á", "Hồng Hà", "Quang Trung", "Nam Việt",
)  # fmt: skip
# (province, branch code, fixed-line area code, CCCD province code, weight)
_PROVINCES = (
    ("Hà Nội", "HNI", "24", "001", 20),
    ("TP Hồ Chí Minh", "HCM", "28", "079", 22),
    ("Đà Nẵng", "DNG", "236", "048", 5),
    ("Hải Phòng", "HPG", "225", "031", 5),
    ("Cần Thơ", "CTO", "292", "092", 4),
    ("Quảng Ninh", "QNH", "203", "022", 4),
    ("Nghệ An", "NAN", "238", "040", 5),
    ("Thanh Hóa", "THA", "237", "038", 5),
    ("Khánh Hòa", "KHA", "258", "056", 4),
    ("Bình Dương", "BDG", "274", "074", 6),
    ("Đồng Nai", "DNI", "251", "075", 6),
    ("Thừa Thiên Huế", "HUE", "234", "046", 3),
    ("Lâm Đồng", "LDG", "263", "068", 3),
    ("Bắc Ninh", "BNH", "222", "027", 4),
    ("An Giang", "AGG", "296", "089", 4),
)
# Mobile prefixes for generated numbers; avoids 91/98/33/88 used by the fixed demo customers.
_MOBILE = (
    "94",
    "83",
    "84",
    "85",
    "81",
    "82",
    "97",
    "96",
    "86",
    "32",
    "35",
    "37",
    "39",
    "70",
    "76",
    "77",
    "79",
)
_PACKAGES = {
    "mobile_prepaid": ("Prepaid", "MAX90", "BIG70"),
    "mobile_postpaid": ("D199", "Smart250", "D500", "VIP500", "VIP1000"),
    "fixed": ("Cố định", "Cố định doanh nghiệp"),
    "gphone": ("Gphone",),
    "internet": ("FiberVNN Home 1", "FiberVNN Home 3", "FiberVNN Doanh nghiệp"),
    "tv": ("MyTV Chuẩn", "MyTV Nâng cao"),
}
# Monthly revenue ranges (VND) per service; chosen so every tier appears.
_REVENUE = {
    "mobile_prepaid": (20_000, 250_000),
    "mobile_postpaid": (120_000, 900_000),
    "fixed": (40_000, 600_000),
    "gphone": (40_000, 300_000),
    "internet": (165_000, 1_200_000),
    "tv": (0, 150_000),
}
# Service mixes of individuals (weights); organisations get bigger bundles.
_MIXES: tuple[tuple[tuple[str, ...], int], ...] = (
    (("mobile_prepaid",), 50),
    (("mobile_postpaid",), 14),
    (("mobile_prepaid", "mobile_prepaid"), 6),
    (("mobile_postpaid", "internet"), 10),
    (("internet", "tv"), 7),
    (("mobile_prepaid", "internet", "tv"), 6),
    (("fixed",), 3),
    (("gphone", "internet"), 2),
    (("mobile_postpaid", "mobile_postpaid", "internet", "tv"), 2),
)
_ORG_MIX = ("fixed", "mobile_postpaid", "mobile_postpaid", "internet", "gphone")

CUSTOMER_COLS = (
    "customer_id", "kind", "full_name", "name_search", "date_of_birth", "id_number", "addresses",
    "province", "branch", "preferred_language", "consent_marketing", "consent_recording",
    "consent_data_sharing", "consent_at", "segment", "care_card", "created_at",
)  # fmt: skip
SUBSCRIPTION_COLS = (
    "id", "customer_id", "service", "number_e164", "account", "package", "status", "started_on", "ended_on",
)  # fmt: skip
REVENUE_COLS = ("subscription_id", "month", "charged_vnd", "other_carrier_voip_vnd", "overdue_debt_vnd")
POINTS_COLS = ("customer_id", "delta", "reason", "at")
CONTACT_COLS = ("customer_id", "number_e164", "label")
WORD_COLS = ("word", "customer_id", "name_search")


@dataclass
class DemoBatch:
    """Rows ready for bulk insert, as tuples in the ``*_COLS`` column orders."""

    customers: list[tuple[Any, ...]] = field(default_factory=list)
    subscriptions: list[tuple[Any, ...]] = field(default_factory=list)
    revenue: list[tuple[Any, ...]] = field(default_factory=list)
    points: list[tuple[Any, ...]] = field(default_factory=list)
    contacts: list[tuple[Any, ...]] = field(default_factory=list)
    words: list[tuple[Any, ...]] = field(default_factory=list)


def _fixed_batch(today: date, months: Sequence[str], now: datetime) -> tuple[DemoBatch, int]:
    batch = DemoBatch()
    sub_id = 0
    for c in DEMO_CUSTOMERS:
        branch = next((p[1] for p in _PROVINCES if p[0] == c.province), None)
        batch.customers.append(
            (
                c.customer_id, c.kind, c.name, fold(c.name), c.date_of_birth, c.id_number,
                json.dumps([{"kind": "home", "text": f"{c.province}, Việt Nam"}], ensure_ascii=False),
                c.province, branch, "vi", False, True, False, now, c.segment, None,
                now - timedelta(days=2000),
            )
        )  # fmt: skip
        for line in c.lines:
            sub_id += 1
            batch.subscriptions.append(
                (sub_id, c.customer_id, line.service, line.number, line.account, line.package, "active",
                 today - timedelta(days=1500), None)
            )  # fmt: skip
            for m in months:
                batch.revenue.append((sub_id, m, line.monthly_vnd, line.voip_vnd, line.overdue_debt_vnd))
        if c.points:
            batch.points.append((c.customer_id, c.points, "Tích điểm VinaPhone Plus", now))
        batch.contacts.extend((c.customer_id, n, "other_carrier") for n in c.contact_numbers)
        batch.words.extend((w, c.customer_id, fold(c.name)) for w in words_of(fold(c.name)))
    return batch, sub_id


def generate(
    n: int,
    seed: int = 1,
    *,
    today: date | None = None,
    months: int = 3,
    batch_size: int = 50_000,
    first_subscription_id: int = 1,
    dates_as_text: bool = False,
    with_words: bool = True,
) -> Iterator[DemoBatch]:
    """Yield ``n`` generated customers (IDs from KH0001000000) in batches, reproducible from ``seed``.

    ``dates_as_text`` emits dates and timestamps as the text SQLAlchemy stores on SQLite (for raw
    ``executemany``); otherwise they are ``date``/aware ``datetime`` objects (for PostgreSQL ``COPY``).
    ``with_words`` adds the rows of the names' word index (``WORD_COLS``).
    Hot path: everything that can be is precomputed, and each customer costs a handful of ``random()``s.
    """
    rng = random.Random(seed)
    rand = rng.random
    today = today or today_vn()  # Việt Nam's day: the directory's tier window counts from it
    window = window_months(today, months)
    # Anchored on ``today`` (not the clock) so the same seed and day give the same rows.
    now = datetime(today.year, today.month, today.day, 1, 0, tzinfo=UTC)

    def day(d: date) -> Any:
        return d.isoformat() if dates_as_text else d

    def stamp(t: datetime) -> Any:
        return _sqlite_value(t) if dates_as_text else t

    now_v = stamp(now)
    created_days = [stamp(now - timedelta(days=k)) for k in range(30, 7001)]
    start_days = [today - timedelta(days=k) for k in range(100, 5001)]
    start_v = [[day(d + timedelta(days=30 * k)) for d in start_days] for k in range(len(_ORG_MIX))]
    dob_first = date(1950, 1, 1)
    dobs = [dob_first + timedelta(days=k) for k in range((date(2006, 12, 31) - dob_first).days)]
    dobs_v = [day(d) for d in dobs]
    # Every (family, middle, given) name with its folded form, weighted by family frequency.
    families = [fam for fam, w in _FAMILY for _ in range(w)]
    f = {w: fold(w) for w in {*families, *_MIDDLE_M, *_MIDDLE_F, *_GIVEN_M, *_GIVEN_F}}
    names: dict[bool, list[tuple[str, str, list[str]]]] = {}
    for male, mids, givs in ((True, _MIDDLE_M, _GIVEN_M), (False, _MIDDLE_F, _GIVEN_F)):
        names[male] = [
            (f"{fam} {mid} {giv}", s, words_of(s))
            for fam in families
            for mid in mids
            for giv in givs
            for s in (f"{f[fam]} {f[mid]} {f[giv]}",)
        ]
    orgs = [
        (f"{a} {b}", s, words_of(s)) for a in _ORG_FORM for b in _ORG_NAME for s in (f"{fold(a)} {fold(b)}",)
    ]
    provinces = [
        (
            p[0],
            p[1],
            p[2],
            p[3],
            json.dumps([{"kind": "home", "text": f"{p[0]}, Việt Nam"}], ensure_ascii=False),
        )
        for p in _PROVINCES
        for _ in range(p[4])
    ]
    mixes = [m for m, w in _MIXES for _ in range(w)]
    packages = {k: list(v) for k, v in _PACKAGES.items()}
    n_mobile = len(_MOBILE)

    sub_id = first_subscription_id - 1
    mobile_seq = fixed_seq = 0
    batch = DemoBatch()
    customers, subscriptions, revenue, points, words = (
        batch.customers,
        batch.subscriptions,
        batch.revenue,
        batch.points,
        batch.words,
    )
    for i in range(n):
        cid = f"KH{1_000_000 + i:010d}"
        prov, branch, area, cccd, address = provinces[int(rand() * len(provinces))]
        r = rand()
        if r < 0.04:
            kind = "organisation"
            name, search, name_words = orgs[int(r * 25 * len(orgs))]
            name, search, name_words = f"{name} {i % 997}", f"{search} {i % 997}", [*name_words, str(i % 997)]
            dob = None
            idn = f"0{100_000_000 + int(rand() * 899_999_999)}"
            services: Sequence[str] = _ORG_MIX[: 2 + int(rand() * (len(_ORG_MIX) - 1))]
        else:
            kind = "individual"
            male = r < 0.52
            pool = names[male]
            name, search, name_words = pool[int(rand() * len(pool))]
            k = int(rand() * len(dobs))
            dob = dobs_v[k]
            idn = f"{cccd}{0 if male else 1}{dobs[k].year % 100:02d}{int(rand() * 1_000_000):06d}"
            services = mixes[int(rand() * len(mixes))]
        r = rand()
        consent = r < 0.7
        segment = "vip" if r < 0.02 else "churn_risk" if r < 0.07 else "new" if r < 0.12 else None
        created = created_days[int(rand() * len(created_days))]
        customers.append(
            (
                cid, kind, name, search, dob, idn, address, prov, branch, "vi" if r < 0.97 else "en",
                r < 0.3, consent, r < 0.15, created if consent else None, segment, None, created,
            )
        )  # fmt: skip
        if with_words:
            words.extend([(w, cid, search) for w in name_words])
        start_k = int(rand() * len(start_days))
        for k, service in enumerate(services):
            sub_id += 1
            if service[0] == "m":  # mobile_*
                nsn = (
                    _MOBILE[mobile_seq % n_mobile]
                    + f"{(mobile_seq // n_mobile * 7919 + 1_234_567) % 10_000_000:07d}"
                )
                mobile_seq += 1
                number: str | None = "+84" + nsn
                account = "VNP0" + nsn
            elif service in ("fixed", "gphone"):
                digits = 10 - len(area)  # fixed NSN: area code + subscriber = 10 digits
                local = f"{(fixed_seq * 7919 + 3_000_000) % 10**digits:0{digits}d}"
                fixed_seq += 1
                number = "+84" + area + local
                account = f"{branch}0{area}{local}"
            else:
                number = None
                account = f"{branch.lower()}_{'ftth' if service == 'internet' else 'mytv'}_{sub_id}"
            r = rand()
            pkgs = packages[service]
            subscriptions.append(
                (sub_id, cid, service, number, account, pkgs[int(r * len(pkgs))],
                 "active" if r < 0.96 else "suspended", start_v[k][start_k], None)
            )  # fmt: skip
            lo, hi = _REVENUE[service]
            base = (lo + int(rand() * (hi - lo))) // 1000 * 1000
            voip = int(r * 200) * 1000 if r < 0.1 and service in ("mobile_postpaid", "fixed") else 0
            debt = 50_000 * (1 + int((r - 0.95) * 200)) if r >= 0.95 else 0  # suspended lines owe
            for m in window:
                revenue.append((sub_id, m, base + voip, voip, debt))
        r = rand()
        if r < 0.6:
            points.append((cid, 1 + int(r * 40_000), "Tích điểm VinaPhone Plus", now_v))
        if len(customers) >= batch_size:
            yield batch
            batch = DemoBatch()
            customers, subscriptions, revenue = batch.customers, batch.subscriptions, batch.revenue
            points, words = batch.points, batch.words
    if batch.customers:
        yield batch


# ---- loading -----------------------------------------------------------------------------------

_TABLES: tuple[tuple[str, str, tuple[str, ...]], ...] = (
    ("customers", Customer.__tablename__, CUSTOMER_COLS),
    ("subscriptions", Subscription.__tablename__, SUBSCRIPTION_COLS),
    ("revenue", MonthlyRevenue.__tablename__, REVENUE_COLS),
    ("points", PointsLedger.__tablename__, POINTS_COLS),
    ("contacts", ContactNumber.__tablename__, CONTACT_COLS),
    ("words", CustomerWord.__tablename__, WORD_COLS),
)


def _sqlite_value(v: Any) -> Any:
    # Store exactly what SQLAlchemy's SQLite Date/DateTime types write and parse back (naive UTC text).
    if isinstance(v, datetime):
        return v.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S.%f")
    if isinstance(v, date):
        return v.isoformat()
    return v


def _insert_sqlite(conn: Connection, batch: DemoBatch, convert: bool) -> None:
    for attr, table, cols in _TABLES:
        rows = getattr(batch, attr)
        if rows:
            if convert:
                rows = [tuple(map(_sqlite_value, r)) for r in rows]
            sql = f"INSERT INTO {table} ({', '.join(cols)}) VALUES ({', '.join('?' * len(cols))})"
            conn.exec_driver_sql(sql, rows)


def _crm_indexes() -> list[Index]:
    return [idx for _, table, _ in _TABLES for idx in Base.metadata.tables[table].indexes]


async def _load(conn: AsyncConnection, fixed: DemoBatch, gen: Iterator[DemoBatch], pg: bool) -> int:
    if await conn.scalar(select(func.count()).select_from(Customer)):
        raise Conflict("load_demo needs an empty CRM: crm_customers already holds customers")
    indexes = _crm_indexes()
    for idx in indexes:
        await conn.run_sync(idx.drop)

    if pg:
        raw = await conn.get_raw_connection()
        apg = raw.driver_connection
        assert apg is not None

        async def write(batch: DemoBatch, convert: bool) -> None:
            for attr, table, cols in _TABLES:
                rows = getattr(batch, attr)
                if rows and attr != "words":  # filled in SQL at the end, in word order
                    await apg.copy_records_to_table(table, records=rows, columns=list(cols))
    else:

        async def write(batch: DemoBatch, convert: bool) -> None:
            await conn.run_sync(_insert_sqlite, batch, convert)

    await write(fixed, not pg)
    written = len(fixed.customers)
    pending = asyncio.create_task(asyncio.to_thread(next, gen, None))
    while (batch := await pending) is not None:
        pending = asyncio.create_task(asyncio.to_thread(next, gen, None))
        try:
            await write(batch, False)
        except BaseException:
            pending.cancel()
            raise
        written += len(batch.customers)

    if pg:
        await conn.exec_driver_sql(PG_FILL_WORDS)
    for idx in indexes:
        await conn.run_sync(idx.create)
    if pg:
        # COPY with explicit IDs does not move the identity sequences: move them past the demo rows.
        for table in (Subscription.__tablename__, PointsLedger.__tablename__, ContactNumber.__tablename__):
            await conn.exec_driver_sql(
                f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), "
                f"COALESCE((SELECT MAX(id) FROM {table}), 0) + 1, false)"
            )
    await conn.exec_driver_sql("ANALYZE")
    return written


async def load_demo(engine: AsyncEngine, n: int, seed: int = 1, *, today: date | None = None) -> int:
    """Write the fixed ``DEMO_CUSTOMERS`` and ``n`` generated customers into an empty CRM, in one
    transaction; returns the number of customers written. Raises ``Conflict`` if customers exist.

    Speed: secondary indexes are dropped for the load and rebuilt at the end (one sort instead of
    millions of random B-tree inserts), rows go in with raw ``executemany`` (SQLite) or ``COPY``
    (PostgreSQL), and the next batch is generated in a worker thread while the current one is written.
    """
    today = today or today_vn()  # Việt Nam's day: the directory's tier window counts from it
    now = datetime.now(UTC).replace(microsecond=0)
    fixed, last_sub = _fixed_batch(today, window_months(today, 3), now)
    pg = engine.dialect.name == "postgresql"
    gen = generate(
        n, seed, today=today, first_subscription_id=last_sub + 1, dates_as_text=not pg, with_words=not pg
    )
    written = 0
    async with engine.connect() as conn:
        if not pg:
            # Rows are consistent by construction; checking each foreign key costs a third of the load.
            # (A no-op inside a transaction, so it goes first; restored below.)
            await conn.exec_driver_sql("PRAGMA foreign_keys=OFF")
            await conn.exec_driver_sql("PRAGMA cache_size=-262144")  # 256 MiB for the index rebuild
            await conn.commit()  # end SQLAlchemy's autobegun transaction (no SQLite transaction yet)
        try:
            async with conn.begin():
                if not pg:
                    # Python's sqlite3 would run DDL outside any transaction: begin one explicitly so
                    # the dropped indexes come back if the load fails. IMMEDIATE: take the write lock
                    # now (waiting under busy_timeout); a deferred read-then-write transaction fails at
                    # once with "database is locked" if a running bridge commits in between.
                    await conn.exec_driver_sql("BEGIN IMMEDIATE")
                written = await _load(conn, fixed, gen, pg)
        finally:
            if not pg:
                await conn.exec_driver_sql("PRAGMA foreign_keys=ON")
                await conn.exec_driver_sql("PRAGMA cache_size=-2000")
                await conn.commit()
    if pg:
        # Mark the new pages all-visible so search counts word ranges from the index alone, without
        # waiting for autovacuum (VACUUM cannot run inside the load's transaction).
        async with engine.connect() as conn:
            auto = await conn.execution_options(isolation_level="AUTOCOMMIT")
            await auto.exec_driver_sql(f"VACUUM {CustomerWord.__tablename__}")
    return written
