"""CSV import of customers, subscriptions, monthly revenue and loyalty points: all or nothing.

Every row of every file is validated first (formats, references between files and to rows already in
the database, duplicates); if any row is bad, :class:`ImportRejected` lists each bad row with its file,
row number (the file's line number: the header is row 1) and reason, and nothing is written. Otherwise
everything is written in one transaction. A progress callback ``progress(phase, done, total)`` is called
during the ``"validate"`` and ``"write"`` phases for long imports.

Files are UTF-8 (a BOM, as Excel writes, is accepted) with a header row. Columns (``*`` = required):

* customers: ``customer_id*, full_name*, kind, date_of_birth, id_number, address, province, branch,
  preferred_language, consent_marketing, consent_recording, consent_data_sharing, segment,
  contact_numbers`` (several numbers separated by ``;``)
* subscriptions: ``customer_id*, service*, account*, number, package, status, started_on*, ended_on``
* revenue: ``account*, month* (YYYY-MM), charged_vnd*, other_carrier_voip_vnd, overdue_debt_vnd``
* points: ``customer_id*, delta*, reason*, at``

Dates are ``YYYY-MM-DD`` or ``DD/MM/YYYY``; amounts are whole VND (``1200000``, ``1.200.000`` or
``1,200,000``); booleans are ``1/0``, ``true/false``, ``yes/no``, ``có/không``.
"""

from __future__ import annotations

import csv
import io
import os
import re
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any, TextIO

from sqlalchemy import insert, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from core.errors import TongdaiError
from core.phone import InvalidNumber, to_e164
from crm_bridge.cache import ProfileCacheLike
from crm_bridge.models import (
    CUSTOMER_KINDS,
    SEGMENTS,
    SERVICES,
    SUBSCRIPTION_STATUSES,
    ContactNumber,
    Customer,
    CustomerWord,
    MonthlyRevenue,
    PointsLedger,
    Subscription,
)
from crm_bridge.name_index import word_rows
from crm_bridge.textfold import fold

__all__ = ["CsvSource", "ImportRejected", "ImportReport", "Progress", "RowError", "import_csv"]

CsvSource = str | os.PathLike[str] | TextIO
Progress = Callable[[str, int, int], None]

_COLUMNS: dict[str, tuple[set[str], set[str]]] = {  # file → (required, optional)
    "customers": (
        {"customer_id", "full_name"},
        {
            "kind",
            "date_of_birth",
            "id_number",
            "address",
            "province",
            "branch",
            "preferred_language",
            "consent_marketing",
            "consent_recording",
            "consent_data_sharing",
            "segment",
            "contact_numbers",
        },
    ),
    "subscriptions": (
        {"customer_id", "service", "account", "started_on"},
        {"number", "package", "status", "ended_on"},
    ),
    "revenue": ({"account", "month", "charged_vnd"}, {"other_carrier_voip_vnd", "overdue_debt_vnd"}),
    "points": ({"customer_id", "delta", "reason"}, {"at"}),
}
_CUSTOMER_ID = re.compile(r"^[A-Z]{2,4}\d{6,12}$")
_MONTH = re.compile(r"^(\d{4})-(0[1-9]|1[0-2])$")
_AMOUNT = re.compile(r"^\d{1,3}(?:([.,\s])\d{3})?(?:\1\d{3})*$|^\d+$")
_TRUE = {"1", "true", "yes", "y", "x", "có", "co"}
_FALSE = {"", "0", "false", "no", "n", "không", "khong"}
_NUMBERED = {"mobile_prepaid", "mobile_postpaid", "fixed", "gphone"}
_MAX_REPORTED = 200
_CHUNK = 500


@dataclass(frozen=True)
class RowError:
    file: str
    row: int
    reason: str

    def __str__(self) -> str:
        return f"{self.file} row {self.row}: {self.reason}"


class ImportRejected(TongdaiError, ValueError):
    """The files hold at least one bad row; nothing was written."""

    error_id = "crm.import_rejected"

    def __init__(self, errors: Sequence[RowError], total_errors: int | None = None) -> None:
        self.errors = list(errors)
        self.total_errors = total_errors if total_errors is not None else len(errors)
        shown = "\n".join(str(e) for e in self.errors[:20])
        more = self.total_errors - min(20, len(self.errors))
        tail = f"\n… and {more} more" if more > 0 else ""
        super().__init__(f"import rejected, nothing written: {self.total_errors} bad row(s)\n{shown}{tail}")


@dataclass(frozen=True)
class ImportReport:
    customers: int = 0
    subscriptions: int = 0
    revenue: int = 0
    points: int = 0
    contacts: int = 0
    customer_ids: frozenset[str] = field(default_factory=frozenset)


class _Bad(ValueError):
    """One field's problem; becomes a RowError with the row's number."""


@dataclass
class _File:
    kind: str
    name: str
    rows: list[tuple[int, dict[str, str]]]


def _read(kind: str, source: CsvSource, errors: list[RowError]) -> _File:
    if isinstance(source, (str, os.PathLike)):
        path = Path(source)
        name = path.name
        text = path.read_text(encoding="utf-8-sig")
        stream: TextIO = io.StringIO(text, newline="")
    else:
        name = getattr(source, "name", None) or f"{kind}.csv"
        stream = source
    reader = csv.reader(stream)
    header = next(reader, None)
    if header is None:
        errors.append(RowError(name, 1, "empty file: a header row is required"))
        return _File(kind, name, [])
    cols = [h.strip().lstrip("\ufeff").lower() for h in header]
    required, optional = _COLUMNS[kind]
    missing = required - set(cols)
    unknown = set(cols) - required - optional
    if missing:
        errors.append(RowError(name, 1, f"missing column(s): {', '.join(sorted(missing))}"))
    if unknown:
        errors.append(RowError(name, 1, f"unknown column(s): {', '.join(sorted(unknown))}"))
    rows: list[tuple[int, dict[str, str]]] = []
    for values in reader:
        line = reader.line_num
        if not any(v.strip() for v in values):
            continue  # blank line
        if len(values) != len(cols):
            errors.append(RowError(name, line, f"{len(values)} fields, the header has {len(cols)}"))
            continue
        rows.append((line, {c: v.strip() for c, v in zip(cols, values, strict=True)}))
    return _File(kind, name, rows)


def _date(value: str, column: str) -> date:
    try:
        if "/" in value:
            d, m, y = value.split("/")
            return date(int(y), int(m), int(d))
        return date.fromisoformat(value)
    except ValueError:
        raise _Bad(f"{column} {value!r} is not a date (YYYY-MM-DD or DD/MM/YYYY)") from None


def _opt_date(value: str, column: str) -> date | None:
    return _date(value, column) if value else None


def _amount(value: str, column: str, *, signed: bool = False) -> int:
    sign = 1
    if signed and value[:1] in "+-":
        sign, value = (-1 if value[0] == "-" else 1), value[1:]
    if not _AMOUNT.match(value):
        raise _Bad(f"{column} {value!r} is not a whole amount (e.g. 1200000 or 1.200.000)")
    return sign * int(re.sub(r"[.,\s]", "", value))


def _bool(value: str, column: str) -> bool:
    v = value.lower()
    if v in _TRUE:
        return True
    if v in _FALSE:
        return False
    raise _Bad(f"{column} {value!r} is not yes/no")


def _choice(value: str, column: str, allowed: Iterable[str], default: str | None = None) -> str | None:
    if not value:
        return default
    allowed = tuple(allowed)
    if value not in allowed:
        raise _Bad(f"{column} {value!r} must be one of {', '.join(allowed)}")
    return value


def _number(value: str, column: str) -> str:
    try:
        return to_e164(value)
    except InvalidNumber as err:
        raise _Bad(f"{column}: {err}") from None


async def _existing(session: AsyncSession, column: Any, values: Iterable[str]) -> set[str]:
    values = list(set(values))
    found: set[str] = set()
    for i in range(0, len(values), _CHUNK):
        found.update(await session.scalars(select(column).where(column.in_(values[i : i + _CHUNK]))))
    return found


class _Validator:
    def __init__(self, progress: Progress | None, total: int, every: int) -> None:
        self.errors: list[RowError] = []
        self.error_count = 0
        self.progress = progress
        self.total = total
        self.every = every
        self.done = 0

    def bad(self, f: _File, line: int, reason: str) -> None:
        self.error_count += 1
        if len(self.errors) < _MAX_REPORTED:
            self.errors.append(RowError(f.name, line, reason))

    def tick(self) -> None:
        self.done += 1
        if self.progress is not None and (self.done % self.every == 0 or self.done == self.total):
            self.progress("validate", self.done, self.total)


async def import_csv(
    sessions: async_sessionmaker[AsyncSession],
    *,
    customers: CsvSource | None = None,
    subscriptions: CsvSource | None = None,
    revenue: CsvSource | None = None,
    points: CsvSource | None = None,
    progress: Progress | None = None,
    progress_every: int = 1000,
    cache: ProfileCacheLike | None = None,
    batch_size: int = 5000,
) -> ImportReport:
    """Validate every row of the given files, then write them all in one transaction.

    Raises :class:`ImportRejected` (nothing written) if any row is bad. If ``cache`` is given, the cached
    profiles of every customer touched are invalidated after the commit.
    """
    read_errors: list[RowError] = []
    files = {
        kind: _read(kind, src, read_errors)
        for kind, src in (
            ("customers", customers),
            ("subscriptions", subscriptions),
            ("revenue", revenue),
            ("points", points),
        )
        if src is not None
    }
    if any(e.row == 1 for e in read_errors):
        # A bad header makes every row unreadable: report the header, not thousands of rows.
        raise ImportRejected(read_errors)
    total = sum(len(f.rows) for f in files.values())
    v = _Validator(progress, total, max(1, progress_every))
    for e in read_errors:
        v.bad(_File("", e.file, []), e.row, e.reason)

    cust_rows: list[dict[str, Any]] = []
    contact_rows: list[dict[str, Any]] = []
    sub_rows: list[dict[str, Any]] = []
    rev_rows: list[tuple[int, str, dict[str, Any]]] = []  # (line, account, row)
    point_rows: list[dict[str, Any]] = []
    now = datetime.now(UTC)

    async with sessions() as session, session.begin():
        # ---- references that may already be in the database ----
        f_c = files.get("customers")
        f_s = files.get("subscriptions")
        f_r = files.get("revenue")
        f_p = files.get("points")
        ids_mentioned = {r["customer_id"].upper() for f in (f_c, f_s, f_p) if f for _, r in f.rows}
        ids_in_db = await _existing(session, Customer.customer_id, ids_mentioned)
        accounts_mentioned = {r.get("account", "") for f in (f_s, f_r) if f for _, r in f.rows}
        accounts_in_db: dict[str, int] = {}
        acc_list = [a for a in accounts_mentioned if a]
        for i in range(0, len(acc_list), _CHUNK):
            res = await session.execute(
                select(Subscription.account, Subscription.id).where(
                    Subscription.account.in_(acc_list[i : i + _CHUNK])
                )
            )
            accounts_in_db.update({a: sid for a, sid in res})

        # ---- customers ----
        new_ids: set[str] = set()
        # Keys of rejected rows: rows that only fail by referring to them are not reported again.
        rejected_ids: set[str] = set()
        rejected_accounts: set[str] = set()
        if f_c:
            for line, r in f_c.rows:
                v.tick()
                try:
                    cid = r["customer_id"].upper()
                    if not _CUSTOMER_ID.match(cid):
                        raise _Bad(f"customer_id {r['customer_id']!r} is not like KH0000001234")
                    if cid in new_ids:
                        raise _Bad(f"customer_id {cid} appears twice in the file")
                    if cid in ids_in_db:
                        raise _Bad(f"customer_id {cid} already exists")
                    name = r["full_name"]
                    if not name or len(name) > 200:
                        raise _Bad("full_name is required (at most 200 characters)")
                    contacts = [
                        _number(n.strip(), "contact_numbers")
                        for n in r.get("contact_numbers", "").split(";")
                        if n.strip()
                    ]
                    flags = {
                        k: _bool(r.get(k, ""), k)
                        for k in ("consent_marketing", "consent_recording", "consent_data_sharing")
                    }
                    address = r.get("address", "")
                    cust_rows.append(
                        {
                            "customer_id": cid,
                            "kind": _choice(r.get("kind", ""), "kind", CUSTOMER_KINDS, "individual"),
                            "full_name": name,
                            "name_search": fold(name),
                            "date_of_birth": _opt_date(r.get("date_of_birth", ""), "date_of_birth"),
                            "id_number": r.get("id_number") or None,
                            "addresses": [{"kind": "home", "text": address}] if address else [],
                            "province": r.get("province") or None,
                            "branch": r.get("branch") or None,
                            "preferred_language": r.get("preferred_language") or "vi",
                            **flags,
                            "consent_at": now if any(flags.values()) else None,
                            "segment": _choice(r.get("segment", ""), "segment", SEGMENTS),
                            "care_card": None,
                            "created_at": now,
                        }
                    )
                    contact_rows.extend(
                        {"customer_id": cid, "number_e164": n, "label": "contact"} for n in contacts
                    )
                    new_ids.add(cid)
                except _Bad as err:
                    v.bad(f_c, line, str(err))
                    rejected_ids.add(r["customer_id"].upper())
        known_ids = ids_in_db | new_ids

        # ---- subscriptions ----
        new_accounts: set[str] = set()
        if f_s:
            for line, r in f_s.rows:
                v.tick()
                try:
                    cid = r["customer_id"].upper()
                    if cid not in known_ids and cid not in rejected_ids:
                        raise _Bad(f"customer_id {cid} is neither in the database nor in the customers file")
                    service = _choice(r["service"], "service", SERVICES)
                    account = r["account"]
                    if not account or len(account) > 64:
                        raise _Bad("account is required (at most 64 characters)")
                    if account in new_accounts:
                        raise _Bad(f"account {account!r} appears twice in the file")
                    if account in accounts_in_db:
                        raise _Bad(f"account {account!r} already exists")
                    number = _number(r["number"], "number") if r.get("number") else None
                    if number is None and service in _NUMBERED:
                        raise _Bad(f"number is required for {service}")
                    started = _date(r["started_on"], "started_on")
                    ended = _opt_date(r.get("ended_on", ""), "ended_on")
                    if ended is not None and ended < started:
                        raise _Bad("ended_on is before started_on")
                    sub_rows.append(
                        {
                            "customer_id": cid,
                            "service": service,
                            "number_e164": number,
                            "account": account,
                            "package": r.get("package") or None,
                            "status": _choice(r.get("status", ""), "status", SUBSCRIPTION_STATUSES, "active"),
                            "started_on": started,
                            "ended_on": ended,
                        }
                    )
                    new_accounts.add(account)
                except _Bad as err:
                    rejected_accounts.add(r["account"])
                    v.bad(f_s, line, str(err))

        # ---- revenue ----
        if f_r:
            seen: set[tuple[str, str]] = set()
            for line, r in f_r.rows:
                v.tick()
                try:
                    account = r["account"]
                    if not (
                        account in new_accounts or account in accounts_in_db or account in rejected_accounts
                    ):
                        raise _Bad(
                            f"account {account!r} is neither in the database nor in the subscriptions file"
                        )
                    month = r["month"]
                    if not _MONTH.match(month):
                        raise _Bad(f"month {month!r} is not YYYY-MM")
                    if (account, month) in seen:
                        raise _Bad(f"revenue of {account} for {month} appears twice in the file")
                    charged = _amount(r["charged_vnd"], "charged_vnd")
                    voip = _amount(r.get("other_carrier_voip_vnd") or "0", "other_carrier_voip_vnd")
                    debt = _amount(r.get("overdue_debt_vnd") or "0", "overdue_debt_vnd")
                    if voip > charged:
                        raise _Bad("other_carrier_voip_vnd exceeds charged_vnd (it is part of the charge)")
                    seen.add((account, month))
                    rev_rows.append(
                        (
                            line,
                            account,
                            {
                                "month": month,
                                "charged_vnd": charged,
                                "other_carrier_voip_vnd": voip,
                                "overdue_debt_vnd": debt,
                            },
                        )
                    )
                except _Bad as err:
                    v.bad(f_r, line, str(err))
            # bills already stored for existing accounts
            old = [(accounts_in_db[a], row["month"]) for _, a, row in rev_rows if a in accounts_in_db]
            line_of = {(a, row["month"]): ln for ln, a, row in rev_rows}
            acc_of = {sid: a for a, sid in accounts_in_db.items()}
            for i in range(0, len(old), _CHUNK):
                chunk = old[i : i + _CHUNK]
                stored = await session.execute(
                    select(MonthlyRevenue.subscription_id, MonthlyRevenue.month).where(
                        MonthlyRevenue.subscription_id.in_({sid for sid, _ in chunk})
                    )
                )
                for sid, mon in sorted({(r[0], r[1]) for r in stored} & set(chunk)):
                    acc = acc_of[sid]
                    v.bad(f_r, line_of[(acc, mon)], f"revenue of {acc} for {mon} already exists")

        # ---- points ----
        if f_p:
            for line, r in f_p.rows:
                v.tick()
                try:
                    cid = r["customer_id"].upper()
                    if cid not in known_ids and cid not in rejected_ids:
                        raise _Bad(f"customer_id {cid} is neither in the database nor in the customers file")
                    delta = _amount(r["delta"], "delta", signed=True)
                    if delta == 0:
                        raise _Bad("delta is 0")
                    if not r["reason"]:
                        raise _Bad("reason is required")
                    at = now
                    if r.get("at"):
                        try:
                            at = datetime.fromisoformat(r["at"])
                        except ValueError:
                            raise _Bad(f"at {r['at']!r} is not an ISO date-time") from None
                        if at.tzinfo is None:
                            raise _Bad("at needs a UTC offset (e.g. 2026-05-01T09:00:00+07:00)")
                    point_rows.append({"customer_id": cid, "delta": delta, "reason": r["reason"], "at": at})
                except _Bad as err:
                    v.bad(f_p, line, str(err))

        if v.error_count:
            order = {f.name: i for i, f in enumerate(files.values())}
            raise ImportRejected(
                sorted(v.errors, key=lambda e: (order.get(e.file, -1), e.row)), v.error_count
            )

        # ---- write: everything or nothing ----
        written = 0
        total_rows = len(cust_rows) + len(contact_rows) + len(sub_rows) + len(rev_rows) + len(point_rows)

        async def write(table: Any, rows: list[dict[str, Any]]) -> None:
            nonlocal written
            for i in range(0, len(rows), batch_size):
                part = rows[i : i + batch_size]
                await session.execute(insert(table), part)
                written += len(part)
                if progress is not None:
                    progress("write", written, total_rows)

        await write(Customer, cust_rows)
        # The names' word index (agent search); not counted in the progress, which reports file rows.
        words = [w for r in cust_rows for w in word_rows(r["customer_id"], r["name_search"])]
        for i in range(0, len(words), batch_size):
            await session.execute(insert(CustomerWord), words[i : i + batch_size])
        await write(ContactNumber, contact_rows)
        new_sub_ids: dict[str, int] = {}
        for i in range(0, len(sub_rows), batch_size):
            subs_part = sub_rows[i : i + batch_size]
            returned = await session.execute(
                insert(Subscription).returning(Subscription.account, Subscription.id), subs_part
            )
            new_sub_ids.update({a: sid for a, sid in returned})
            written += len(subs_part)
            if progress is not None:
                progress("write", written, total_rows)
        ids = {**accounts_in_db, **new_sub_ids}
        await write(MonthlyRevenue, [{"subscription_id": ids[a], **row} for _, a, row in rev_rows])
        await write(PointsLedger, point_rows)

    touched = frozenset(
        {r["customer_id"] for r in cust_rows}
        | {r["customer_id"] for r in sub_rows}
        | {r["customer_id"] for r in point_rows}
        | await _owners_of_accounts(sessions, {a for _, a, _ in rev_rows})
    )
    if cache is not None:
        numbers: dict[str, list[str]] = {}
        for r in sub_rows:
            if r["number_e164"]:
                numbers.setdefault(r["customer_id"], []).append(r["number_e164"])
        for r in contact_rows:
            numbers.setdefault(r["customer_id"], []).append(r["number_e164"])
        for cid in touched:
            # Pointers left to older numbers find no profile and fall through to the database.
            await cache.invalidate(cid, numbers.get(cid, ()))
    return ImportReport(
        customers=len(cust_rows),
        subscriptions=len(sub_rows),
        revenue=len(rev_rows),
        points=len(point_rows),
        contacts=len(contact_rows),
        customer_ids=touched,
    )


async def _owners_of_accounts(sessions: async_sessionmaker[AsyncSession], accounts: set[str]) -> set[str]:
    if not accounts:
        return set()
    owners: set[str] = set()
    acc = list(accounts)
    async with sessions() as session:
        for i in range(0, len(acc), _CHUNK):
            owners.update(
                await session.scalars(
                    select(Subscription.customer_id).where(Subscription.account.in_(acc[i : i + _CHUNK]))
                )
            )
    return owners
