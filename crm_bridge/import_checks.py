"""The import's row checks: every row of every file, against the other files and the database.

:class:`ImportChecks` goes through the files in dependency order (customers, subscriptions, revenue,
points), collecting the rows to write in an :class:`ImportBatch` and each bad row in a
:class:`Validator`. A row that only fails by referring to a rejected row is not reported again.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from core.customer_id import CustomerIdFormat, InvalidCustomerId
from crm_bridge.import_fields import (
    BadField,
    ImportFile,
    RowError,
    parse_amount,
    parse_bool,
    parse_choice,
    parse_date,
    parse_number,
    parse_opt_date,
)
from crm_bridge.models import (
    CUSTOMER_KINDS,
    SEGMENTS,
    SERVICES,
    SUBSCRIPTION_STATUSES,
    Customer,
    MonthlyRevenue,
    Subscription,
)
from crm_bridge.textfold import fold

__all__ = ["CHUNK", "ImportBatch", "ImportChecks", "Progress", "Validator"]

Progress = Callable[[str, int, int], None]
Row = dict[str, str]

_MONTH = re.compile(r"^(\d{4})-(0[1-9]|1[0-2])$")
_NUMBERED = {"mobile_prepaid", "mobile_postpaid", "fixed", "gphone"}
_CONSENTS = ("consent_marketing", "consent_recording", "consent_data_sharing")
_MAX_REPORTED = 200
CHUNK = 500  # keys per IN (...) query


class Validator:
    """Bad rows (the first 200 kept, all counted) and the ``"validate"`` progress."""

    def __init__(self, progress: Progress | None, total: int, every: int) -> None:
        self.errors: list[RowError] = []
        self.error_count = 0
        self.progress = progress
        self.total = total
        self.every = every
        self.done = 0

    def bad(self, f: ImportFile, line: int, reason: str) -> None:
        self.add(RowError(f.name, line, reason))

    def add(self, error: RowError) -> None:
        self.error_count += 1
        if len(self.errors) < _MAX_REPORTED:
            self.errors.append(error)

    def tick(self) -> None:
        self.done += 1
        if self.progress is not None and (self.done % self.every == 0 or self.done == self.total):
            self.progress("validate", self.done, self.total)


@dataclass
class ImportBatch:
    """The rows that will be written, and the keys the checks of later files refer to."""

    customers: list[dict[str, Any]] = field(default_factory=list)
    contacts: list[dict[str, Any]] = field(default_factory=list)
    subscriptions: list[dict[str, Any]] = field(default_factory=list)
    revenue: list[tuple[int, str, dict[str, Any]]] = field(default_factory=list)  # (line, account, row)
    points: list[dict[str, Any]] = field(default_factory=list)
    ids_in_db: set[str] = field(default_factory=set)
    accounts_in_db: dict[str, int] = field(default_factory=dict)  # account → subscription id
    new_ids: set[str] = field(default_factory=set)
    new_accounts: set[str] = field(default_factory=set)
    rejected_ids: set[str] = field(default_factory=set)
    rejected_accounts: set[str] = field(default_factory=set)

    def total_rows(self) -> int:
        return (
            len(self.customers)
            + len(self.contacts)
            + len(self.subscriptions)
            + len(self.revenue)
            + len(self.points)
        )


async def _existing(session: AsyncSession, column: Any, values: Iterable[str]) -> set[str]:
    values = list(set(values))
    found: set[str] = set()
    for i in range(0, len(values), CHUNK):
        found.update(await session.scalars(select(column).where(column.in_(values[i : i + CHUNK]))))
    return found


class ImportChecks:
    """Checks the files' rows one file after the other; see the module docstring."""

    def __init__(
        self, files: dict[str, ImportFile], validator: Validator, id_format: CustomerIdFormat
    ) -> None:
        self.files = files
        self.v = validator
        self.ids = id_format
        self.batch = ImportBatch()
        self.now = datetime.now(UTC)
        self._months: set[tuple[str, str]] = set()  # (account, month) of the revenue rows so far

    async def run(self, session: AsyncSession) -> ImportBatch:
        await self._load_references(session)
        self._each("customers", self._customer)
        self._each("subscriptions", self._subscription)
        self._each("revenue", self._revenue)
        await self._stored_bills(session)
        self._each("points", self._point)
        return self.batch

    async def _load_references(self, session: AsyncSession) -> None:
        """Customer IDs and accounts the files mention that are already in the database."""
        files = [self.files.get(k) for k in ("customers", "subscriptions", "revenue", "points")]
        ids = {r["customer_id"].upper() for f in files if f and f.kind != "revenue" for _, r in f.rows}
        self.batch.ids_in_db = await _existing(session, Customer.customer_id, ids)
        accounts = [
            a
            for a in {
                r.get("account", "")
                for f in files
                if f and f.kind in ("subscriptions", "revenue")
                for _, r in f.rows
            }
            if a
        ]
        for i in range(0, len(accounts), CHUNK):
            res = await session.execute(
                select(Subscription.account, Subscription.id).where(
                    Subscription.account.in_(accounts[i : i + CHUNK])
                )
            )
            self.batch.accounts_in_db.update({a: sid for a, sid in res})

    def _each(self, kind: str, check: Callable[[int, Row], None]) -> None:
        f = self.files.get(kind)
        if f is None:
            return
        for line, r in f.rows:
            self.v.tick()
            try:
                check(line, r)
            except BadField as err:
                self._rejected(kind, r)
                self.v.bad(f, line, str(err))

    def _rejected(self, kind: str, r: Row) -> None:
        if kind == "customers":
            self.batch.rejected_ids.add(r["customer_id"].upper())
        elif kind == "subscriptions":
            self.batch.rejected_accounts.add(r["account"])

    def _known_customer(self, r: Row) -> str:
        cid = r["customer_id"].upper()
        b = self.batch
        if cid not in b.ids_in_db and cid not in b.new_ids and cid not in b.rejected_ids:
            raise BadField(f"customer_id {cid} is neither in the database nor in the customers file")
        return cid

    # ---- customers ----

    def _customer_id(self, r: Row) -> str:
        try:
            cid: str = self.ids.parse(r["customer_id"])
        except InvalidCustomerId as err:
            raise BadField(str(err)) from None
        if cid in self.batch.new_ids:
            raise BadField(f"customer_id {cid} appears twice in the file")
        if cid in self.batch.ids_in_db:
            raise BadField(f"customer_id {cid} already exists")
        return cid

    def _customer(self, _line: int, r: Row) -> None:
        cid = self._customer_id(r)
        name = r["full_name"]
        if not name or len(name) > 200:
            raise BadField("full_name is required (at most 200 characters)")
        contacts = [
            parse_number(n.strip(), "contact_numbers")
            for n in r.get("contact_numbers", "").split(";")
            if n.strip()
        ]
        self.batch.customers.append(self._customer_row(cid, name, r))
        self.batch.contacts.extend(
            {"customer_id": cid, "number_e164": n, "label": "contact"} for n in contacts
        )
        self.batch.new_ids.add(cid)

    def _customer_row(self, cid: str, name: str, r: Row) -> dict[str, Any]:
        flags = {k: parse_bool(r.get(k, ""), k) for k in _CONSENTS}
        address = r.get("address", "")
        return {
            "customer_id": cid,
            "kind": parse_choice(r.get("kind", ""), "kind", CUSTOMER_KINDS, "individual"),
            "full_name": name,
            "name_search": fold(name),
            "date_of_birth": parse_opt_date(r.get("date_of_birth", ""), "date_of_birth"),
            "id_number": r.get("id_number") or None,
            "addresses": [{"kind": "home", "text": address}] if address else [],
            "province": r.get("province") or None,
            "branch": r.get("branch") or None,
            "preferred_language": r.get("preferred_language") or "vi",
            **flags,
            "consent_at": self.now if any(flags.values()) else None,
            "segment": parse_choice(r.get("segment", ""), "segment", SEGMENTS),
            "care_card": None,
            "created_at": self.now,
        }

    # ---- subscriptions ----

    def _new_account(self, r: Row) -> str:
        account = r["account"]
        if not account or len(account) > 64:
            raise BadField("account is required (at most 64 characters)")
        if account in self.batch.new_accounts:
            raise BadField(f"account {account!r} appears twice in the file")
        if account in self.batch.accounts_in_db:
            raise BadField(f"account {account!r} already exists")
        return account

    def _subscription(self, _line: int, r: Row) -> None:
        cid = self._known_customer(r)
        service = parse_choice(r["service"], "service", SERVICES)
        account = self._new_account(r)
        number = parse_number(r["number"], "number") if r.get("number") else None
        if number is None and service in _NUMBERED:
            raise BadField(f"number is required for {service}")
        started = parse_date(r["started_on"], "started_on")
        ended = parse_opt_date(r.get("ended_on", ""), "ended_on")
        if ended is not None and ended < started:
            raise BadField("ended_on is before started_on")
        self.batch.subscriptions.append(
            {
                "customer_id": cid,
                "service": service,
                "number_e164": number,
                "account": account,
                "package": r.get("package") or None,
                "status": parse_choice(r.get("status", ""), "status", SUBSCRIPTION_STATUSES, "active"),
                "started_on": started,
                "ended_on": ended,
            }
        )
        self.batch.new_accounts.add(account)

    # ---- revenue ----

    def _revenue(self, line: int, r: Row) -> None:
        b = self.batch
        account = r["account"]
        if not (account in b.new_accounts or account in b.accounts_in_db or account in b.rejected_accounts):
            raise BadField(f"account {account!r} is neither in the database nor in the subscriptions file")
        month = r["month"]
        if not _MONTH.match(month):
            raise BadField(f"month {month!r} is not YYYY-MM")
        if (account, month) in self._months:
            raise BadField(f"revenue of {account} for {month} appears twice in the file")
        charged = parse_amount(r["charged_vnd"], "charged_vnd")
        voip = parse_amount(r.get("other_carrier_voip_vnd") or "0", "other_carrier_voip_vnd")
        debt = parse_amount(r.get("overdue_debt_vnd") or "0", "overdue_debt_vnd")
        if voip > charged:
            raise BadField("other_carrier_voip_vnd exceeds charged_vnd (it is part of the charge)")
        row = {
            "month": month,
            "charged_vnd": charged,
            "other_carrier_voip_vnd": voip,
            "overdue_debt_vnd": debt,
        }
        self._months.add((account, month))
        b.revenue.append((line, account, row))

    async def _stored_bills(self, session: AsyncSession) -> None:
        """Bills of existing accounts that the database already holds."""
        f = self.files.get("revenue")
        b = self.batch
        if f is None:
            return
        old = [(b.accounts_in_db[a], row["month"]) for _, a, row in b.revenue if a in b.accounts_in_db]
        line_of = {(a, row["month"]): ln for ln, a, row in b.revenue}
        acc_of = {sid: a for a, sid in b.accounts_in_db.items()}
        for i in range(0, len(old), CHUNK):
            chunk = old[i : i + CHUNK]
            stored = await session.execute(
                select(MonthlyRevenue.subscription_id, MonthlyRevenue.month).where(
                    MonthlyRevenue.subscription_id.in_({sid for sid, _ in chunk})
                )
            )
            for sid, mon in sorted({(r[0], r[1]) for r in stored} & set(chunk)):
                acc = acc_of[sid]
                self.v.bad(f, line_of[(acc, mon)], f"revenue of {acc} for {mon} already exists")

    # ---- points ----

    def _point(self, _line: int, r: Row) -> None:
        cid = self._known_customer(r)
        delta = parse_amount(r["delta"], "delta", signed=True)
        if delta == 0:
            raise BadField("delta is 0")
        if not r["reason"]:
            raise BadField("reason is required")
        self.batch.points.append(
            {"customer_id": cid, "delta": delta, "reason": r["reason"], "at": self._at(r)}
        )

    def _at(self, r: Row) -> datetime:
        if not r.get("at"):
            return self.now
        try:
            at = datetime.fromisoformat(r["at"])
        except ValueError:
            raise BadField(f"at {r['at']!r} is not an ISO date-time") from None
        if at.tzinfo is None:
            raise BadField("at needs a UTC offset (e.g. 2026-05-01T09:00:00+07:00)")
        return at
