"""Who is calling: the IVR's customer lookups, always within the decision budget.

A caller is found by the number they call from (normalised first: Asterisk hands us whatever the
network sent) or by what they key on the phone. Customer IDs look like ``KH0000000001`` but a keypad
has no letters, so a caller keys the numeric part, leading zeros optional (``0000000001#`` or ``1#``),
the letters implied by the configured keypad prefixes (``crm.customer_id.keypad``, each tried in
order; see :mod:`core.customer_id`), or a contract/service account number, or another phone number
of theirs. Every lookup together must
finish within ``asterisk.agi.decision_budget``: a slow database never holds a caller; past the budget
the call goes on unidentified (``failed``), which the menu treats as "CRM down", not "unknown".

The IVR needs a handful of facts, not the screen pop's whole profile: :class:`SqlFacts` reads them in
one indexed query per lookup (owner, points, the tier window's bills), built once and compiled once,
on a bare connection. The tier comes from the same rules and the same :func:`decide_tier` as the
directory's profile (a test holds them equal), so the queue priority matches what the agent sees.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Coroutine, Sequence
from datetime import date
from typing import Any, Protocol

from sqlalchemy import BindParameter, Select, and_, bindparam, case, func, select
from sqlalchemy.ext.asyncio import AsyncEngine
from sqlalchemy.sql.compiler import SQLCompiler

from core.customer_id import CustomerIdFormat
from core.phone import caller_national, try_e164
from core.vietnam import today_vn
from crm_bridge.config import TierRules
from crm_bridge.directory import CustomerDirectory
from crm_bridge.models import ContactNumber, Customer, MonthlyRevenue, PointsLedger, Subscription
from crm_bridge.profile import CustomerProfile
from crm_bridge.tiering import LineRevenue, decide_tier, window_months
from ivr.machine import CustomerFacts

log = logging.getLogger(__name__)


class Directory(Protocol):
    """Where the IVR finds a caller: the facts it speaks and routes on, or None if unknown."""

    async def by_number(self, number: str) -> CustomerFacts | None:
        """The caller holding ``number``: E.164 from the IVR (normalised where it came in: the FastAGI
        edge or the keypad); other forms are normalised first."""

    async def by_customer_id(self, customer_id: str) -> CustomerFacts | None: ...

    async def by_account(self, account: str) -> CustomerFacts | None: ...


def facts_of(p: CustomerProfile) -> CustomerFacts:
    """The IVR's facts from a full profile (no bill: the profile keeps only window averages)."""
    return CustomerFacts(
        customer_id=p.customer_id,
        name=p.name,
        tier=p.tier,
        points=p.points,
        area=p.province,
        language=p.preferred_language,
    )


_CUSTOMERS, _SUBS, _BILLS = Customer.__table__, Subscription.__table__, MonthlyRevenue.__table__
_SUB, _CONTACT, _REV = _SUBS.c, ContactNumber.__table__.c, _BILLS.c
_CUST, _POINTS = _CUSTOMERS.c, PointsLedger.__table__.c
_KEY: BindParameter[str] = bindparam("key")
_FROM: BindParameter[str] = bindparam("first_month")


def _owner_by(column: Any) -> Any:
    """The owner of a live subscription holding the key: active before suspended, then most recent
    (the directory's rule: a terminated line's number may have been recycled)."""
    return (
        select(_SUB.customer_id)
        .where(column == _KEY, _SUB.status != "terminated")
        .order_by(case((_SUB.status == "active", 0), else_=1), _SUB.started_on.desc())
        .limit(1)
        .scalar_subquery()
    )


def _facts_query(owner: Any) -> Select[Any]:
    """One row per (subscription, bill since ``first_month``) of the owner, with its points balance."""
    points = select(func.coalesce(func.sum(_POINTS.delta), 0)).where(_POINTS.customer_id == _CUST.customer_id)
    return (
        select(
            _CUST.customer_id,
            _CUST.full_name,
            _CUST.preferred_language,
            _CUST.province,
            points.scalar_subquery(),
            _SUB.id,
            _SUB.service,
            _SUB.status,
            _REV.month,
            _REV.charged_vnd,
            _REV.other_carrier_voip_vnd,
            _REV.overdue_debt_vnd,
        )
        .select_from(_CUSTOMERS)
        .outerjoin(_SUBS, _SUB.customer_id == _CUST.customer_id)
        .outerjoin(_BILLS, and_(_REV.subscription_id == _SUB.id, _REV.month >= _FROM))
        .where(_CUST.customer_id == owner)
        .order_by(_SUB.id)
    )


# Built once: SQLAlchemy then reuses the compiled SQL for every call.
_BY_NUMBER = _facts_query(
    func.coalesce(
        _owner_by(_SUB.number_e164),
        select(_CONTACT.customer_id).where(_CONTACT.number_e164 == _KEY).limit(1).scalar_subquery(),
    )
)
_BY_ACCOUNT = _facts_query(_owner_by(_SUB.account))
_BY_ID = _facts_query(_KEY)


class SqlFacts:
    """The IVR's :class:`Directory` on the CRM tables: one query per lookup, no ORM objects."""

    def __init__(
        self, engine: AsyncEngine, rules: TierRules | None = None, today: Callable[[], date] = today_vn
    ) -> None:
        self.engine = engine
        self.rules = rules or TierRules()
        self.today = today
        self._compiled: dict[int, SQLCompiler] = {}

    async def by_number(self, number: str) -> CustomerFacts | None:
        # The IVR passes E.164 already (normalised at the edge); other callers may pass any form.
        e164 = number if number.startswith("+") and number[1:].isdigit() else try_e164(number)
        return await self._facts(_BY_NUMBER, e164) if e164 is not None else None

    async def by_customer_id(self, customer_id: str) -> CustomerFacts | None:
        return await self._facts(_BY_ID, customer_id.strip().upper())

    async def by_account(self, account: str) -> CustomerFacts | None:
        account = account.strip()
        return await self._facts(_BY_ACCOUNT, account) if account else None

    async def _rows(self, stmt: Select[Any], params: dict[str, str]) -> Sequence[Any]:
        async with self.engine.connect() as conn:
            if self.engine.dialect.driver != "aiosqlite":
                return list((await conn.execute(stmt, params)).all())
            # aiosqlite runs each cursor call on its thread: execute_fetchall is one round trip to it
            # instead of four, and each costs a GIL hand-over while the loop is busy with other calls.
            compiled = self._compiled.get(id(stmt))
            if compiled is None:
                compiled = stmt.compile(dialect=self.engine.dialect)
                self._compiled[id(stmt)] = compiled
            values = compiled.construct_params(params) or {}
            raw = await conn.get_raw_connection()
            db = raw.driver_connection
            assert db is not None
            return list(
                await db.execute_fetchall(compiled.string, [values[n] for n in compiled.positiontup or ()])
            )

    async def _facts(self, stmt: Select[Any], key: str) -> CustomerFacts | None:
        months = window_months(self.today(), self.rules.months)
        rows = await self._rows(stmt, {"key": key, "first_month": months[0]})
        if not rows:
            return None
        first = rows[0]
        # Per subscription: its bills by month, as the directory's profile groups them.
        subs: dict[int, tuple[str, str, dict[str, tuple[int, int, int]]]] = {}
        for r in rows:
            if r[5] is None:
                continue  # a customer without subscriptions
            per_month = subs.setdefault(r[5], (r[6], r[7], {}))[2]
            if r[8] is not None:
                per_month[r[8]] = (int(r[9]), int(r[10]), int(r[11]))
        lines: list[LineRevenue] = []
        last_month = max((m for _, _, pm in subs.values() for m in pm), default=None)
        for service, status, per_month in subs.values():
            window = {m: v for m, v in per_month.items() if m in months}
            latest = next((window[m] for m in reversed(months) if m in window), None)
            line = LineRevenue(
                service,
                [window[m][0] if m in window else 0 for m in months],
                [window[m][1] if m in window else 0 for m in months],
                latest[2] if latest is not None else 0,
            )
            if status != "terminated" or window:  # a terminated line counts only if billed in the window
                lines.append(line)
        bill = debt = None
        if last_month is not None:
            bill = sum(pm[last_month][0] for _, _, pm in subs.values() if last_month in pm)
            debt = sum(pm[last_month][2] for _, _, pm in subs.values() if last_month in pm)
        return CustomerFacts(
            customer_id=first[0],
            name=first[1],
            tier=decide_tier(lines, self.rules).tier,
            points=int(first[4]),
            last_bill_vnd=bill,
            last_bill_month=date(int(last_month[:4]), int(last_month[5:7]), 1) if last_month else None,
            debt_vnd=debt,
            area=first[3],
            language=first[2],
        )


def ivr_directory(directory: CustomerDirectory) -> SqlFacts:
    """The IVR's reader on the same database and tier rules as ``directory``."""
    engine = directory.sessions.kw["bind"]
    return SqlFacts(engine, directory.rules, directory.today)


def _keyed_number(keys: str) -> str | None:
    """The E.164 of a phone number keyed in national or international form (``09…``, ``0084…``)."""
    nat = caller_national(keys)
    return try_e164(nat) if nat is not None and nat.startswith("0") else None


class CallerLookup:
    """Budgeted lookups for one IVR route. Returns ``(profile, failed)``."""

    def __init__(
        self, directory: Directory, budget: float, id_format: CustomerIdFormat | None = None
    ) -> None:
        """``id_format``: how keyed digits become customer IDs (``crm.customer_id.keypad``)."""
        self.directory = directory
        self.budget = budget
        self.id_format = id_format or CustomerIdFormat()

    async def by_caller(self, e164: str | None) -> tuple[CustomerFacts | None, bool]:
        """The caller by the number they call from, in E.164 (normalised at the edge)."""
        if e164 is None:
            return None, False
        return await self._within_budget("number", self._by_number(e164))

    async def by_keys(self, keys: str) -> tuple[CustomerFacts | None, bool]:
        return await self._within_budget("keyed id", self._by_keys(keys))

    async def _by_number(self, number: str) -> CustomerFacts | None:
        return await self.directory.by_number(number)

    async def _by_keys(self, keys: str) -> CustomerFacts | None:
        for cid in self.id_format.from_keys(keys):  # each configured prefix, in order
            profile = await self.directory.by_customer_id(cid)
            if profile is not None:
                return profile
        profile = await self.directory.by_account(keys)  # a contract / service account number
        if profile is None and (e164 := _keyed_number(keys)) is not None:
            profile = await self.directory.by_number(e164)  # another line of theirs
        return profile

    async def _within_budget(
        self, what: str, lookup: Coroutine[Any, Any, CustomerFacts | None]
    ) -> tuple[CustomerFacts | None, bool]:
        try:
            async with asyncio.timeout(self.budget):
                return await lookup, False
        except TimeoutError:
            log.warning(
                "customer lookup by %s exceeded %.2f s; caller goes on unidentified", what, self.budget
            )
            return None, True
        except Exception:
            log.exception("customer lookup by %s failed", what)
            return None, True
