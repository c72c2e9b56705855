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

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import insert, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from core.customer_id import CustomerIdFormat
from core.errors import TongdaiError
from crm_bridge.cache import ProfileCacheLike
from crm_bridge.import_checks import CHUNK, ImportBatch, ImportChecks, Progress, Validator
from crm_bridge.import_fields import CsvSource, ImportFile, ImportLimits, RowError, read_file
from crm_bridge.models import (
    ContactNumber,
    Customer,
    CustomerWord,
    MonthlyRevenue,
    PointsLedger,
    Subscription,
)
from crm_bridge.name_index import word_rows

__all__ = [
    "CsvSource",
    "ImportLimits",
    "ImportRejected",
    "ImportReport",
    "Progress",
    "ReadFiles",
    "RowError",
    "import_csv",
    "read_sources",
]


class ImportRejected(TongdaiError, ValueError):
    """The files hold at least one bad row; nothing was written."""

    error_id = "crm.import_rejected"

    def __init__(self, errors: Sequence[RowError], total_errors: int | None = None) -> None:
        self.errors = list(errors)
        self.total_errors = total_errors if total_errors is not None else len(errors)
        if self.total_errors == 1 and len(self.errors) == 1:  # one line, as the CLI prints it
            super().__init__(f"import rejected, nothing written: {self.errors[0]}")
            return
        shown = "\n".join(str(e) for e in self.errors[:20])
        more = self.total_errors - min(20, len(self.errors))
        tail = f"\n… and {more} more" if more > 0 else ""
        super().__init__(f"import rejected, nothing written: {self.total_errors} problem(s)\n{shown}{tail}")


@dataclass(frozen=True)
class ReadFiles:
    """The files of one import, read and readable; their row-level read problems, if any, are reported
    together with the checks' (every bad row at once)."""

    files: dict[str, ImportFile]
    errors: list[RowError]


def read_sources(
    *,
    customers: CsvSource | None = None,
    subscriptions: CsvSource | None = None,
    revenue: CsvSource | None = None,
    points: CsvSource | None = None,
    limits: ImportLimits | None = None,
) -> ReadFiles:
    """Read every given file; raise :class:`ImportRejected` at once for a file that cannot be read at
    all (missing, a directory, too large, not UTF-8, a bad header). Touches no database."""
    sources = {"customers": customers, "subscriptions": subscriptions, "revenue": revenue, "points": points}
    errors: list[RowError] = []
    fatal: list[RowError] = []
    files: dict[str, ImportFile] = {}
    for kind, src in sources.items():
        if src is None:
            continue
        seen = len(errors)
        files[kind] = f = read_file(kind, src, errors, limits)
        if f.unreadable:
            fatal.extend(errors[seen:])
            del errors[seen:]
    if fatal:
        raise ImportRejected(fatal)
    return ReadFiles(files, errors)


@dataclass(frozen=True)
class ImportReport:
    customers: int = 0
    subscriptions: int = 0
    revenue: int = 0
    points: int = 0
    contacts: int = 0
    customer_ids: frozenset[str] = field(default_factory=frozenset)


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
    id_format: CustomerIdFormat | None = None,
    limits: ImportLimits | None = None,
    read: ReadFiles | None = None,
) -> ImportReport:
    """Validate every row of the given files, then write them all in one transaction.

    Raises :class:`ImportRejected` (nothing written) if any row is bad. If ``cache`` is given, the cached
    profiles of every customer touched are invalidated after the commit. ``id_format``: the configured
    customer-ID rule (``crm.customer_id``); the default accepts ``[A-Z]{2,4}`` + 6-12 digits.
    ``limits``: file and field sizes (``crm.csv_import``). ``read``: the files already read by
    :func:`read_sources` (the CLI reads them before it opens the database); else they are read here,
    before the database is touched.
    """
    if read is None:
        read = read_sources(
            customers=customers, subscriptions=subscriptions, revenue=revenue, points=points, limits=limits
        )
    files, read_errors = read.files, read.errors
    total = sum(len(f.rows) for f in files.values())
    v = Validator(progress, total, max(1, progress_every))
    for e in read_errors:
        v.add(e)
    async with sessions() as session, session.begin():
        batch = await ImportChecks(files, v, id_format or CustomerIdFormat()).run(session)
        if v.error_count:
            order = {f.name: i for i, f in enumerate(files.values())}
            raise ImportRejected(
                sorted(v.errors, key=lambda e: (order.get(e.file, -1), e.row)), v.error_count
            )
        await _BatchWriter(session, batch_size, progress, batch.total_rows()).write(batch)
    touched = frozenset(
        {r["customer_id"] for r in (*batch.customers, *batch.subscriptions, *batch.points)}
        | await _owners_of_accounts(sessions, {a for _, a, _ in batch.revenue})
    )
    if cache is not None:
        await _invalidate(cache, batch, touched)
    return ImportReport(
        customers=len(batch.customers),
        subscriptions=len(batch.subscriptions),
        revenue=len(batch.revenue),
        points=len(batch.points),
        contacts=len(batch.contacts),
        customer_ids=touched,
    )


class _BatchWriter:
    """Writes a checked batch in ``batch_size`` inserts, reporting the ``"write"`` progress."""

    def __init__(self, session: AsyncSession, batch_size: int, progress: Progress | None, total: int) -> None:
        self.session, self.size, self.progress, self.total = session, batch_size, progress, total
        self.written = 0

    def _done(self, rows: int) -> None:
        self.written += rows
        if self.progress is not None:
            self.progress("write", self.written, self.total)

    async def _insert(self, table: Any, rows: list[dict[str, Any]]) -> None:
        for i in range(0, len(rows), self.size):
            part = rows[i : i + self.size]
            await self.session.execute(insert(table), part)
            self._done(len(part))

    async def write(self, batch: ImportBatch) -> None:
        await self._insert(Customer, batch.customers)
        # The names' word index (agent search); not counted in the progress, which reports file rows.
        words = [w for r in batch.customers for w in word_rows(r["customer_id"], r["name_search"])]
        for i in range(0, len(words), self.size):
            await self.session.execute(insert(CustomerWord), words[i : i + self.size])
        await self._insert(ContactNumber, batch.contacts)
        ids = {**batch.accounts_in_db, **await self._subscriptions(batch.subscriptions)}
        await self._insert(
            MonthlyRevenue, [{"subscription_id": ids[a], **row} for _, a, row in batch.revenue]
        )
        await self._insert(PointsLedger, batch.points)

    async def _subscriptions(self, rows: list[dict[str, Any]]) -> dict[str, int]:
        """Insert the subscriptions; their new ids by account (the revenue rows refer to them)."""
        new_ids: dict[str, int] = {}
        for i in range(0, len(rows), self.size):
            part = rows[i : i + self.size]
            returned = await self.session.execute(
                insert(Subscription).returning(Subscription.account, Subscription.id), part
            )
            new_ids.update({a: sid for a, sid in returned})
            self._done(len(part))
        return new_ids


async def _invalidate(cache: ProfileCacheLike, batch: ImportBatch, touched: frozenset[str]) -> None:
    numbers: dict[str, list[str]] = {}
    for r in batch.subscriptions:
        if r["number_e164"]:
            numbers.setdefault(r["customer_id"], []).append(r["number_e164"])
    for r in batch.contacts:
        numbers.setdefault(r["customer_id"], []).append(r["number_e164"])
    for cid in touched:
        # Pointers left to older numbers find no profile and fall through to the database.
        await cache.invalidate(cid, numbers.get(cid, ()))


async def _owners_of_accounts(sessions: async_sessionmaker[AsyncSession], accounts: set[str]) -> set[str]:
    if not accounts:
        return set()
    owners: set[str] = set()
    acc = list(accounts)
    async with sessions() as session:
        for i in range(0, len(acc), CHUNK):
            owners.update(
                await session.scalars(
                    select(Subscription.customer_id).where(Subscription.account.in_(acc[i : i + CHUNK]))
                )
            )
    return owners
