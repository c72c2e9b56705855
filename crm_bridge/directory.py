"""CustomerDirectory: find the owner behind a number, account or customer ID and build its profile.

This is the service other packages call (screen pop, IVR prefetch, agent desktop search). It reads the
database through an ``async_sessionmaker`` (one session per call), keeps a Redis :class:`ProfileCache` in
front, and invalidates the owner's cached profile and all of its numbers on every write it makes.

Lookup by number: the number is normalised to E.164; the active (else suspended) subscription holding it
gives the owner; a terminated subscription never matches (the number may have been recycled). If no
subscription holds it, the owner's registered contact numbers are tried. The profile always covers the
owner's services across every number and account it holds.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable
from datetime import UTC, date, datetime

from sqlalchemy import ScalarSelect, Select, case, func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from core.customer_id import CustomerIdFormat
from core.errors import NotFound
from core.phone import to_e164, try_e164
from core.vietnam import today_vn
from crm_bridge.cache import KeyKind, ProfileCacheLike
from crm_bridge.config import TierRules
from crm_bridge.models import (
    INTERACTION_KINDS,
    SUBSCRIPTION_STATUSES,
    ContactNumber,
    Customer,
    CustomerWord,
    Interaction,
    MonthlyRevenue,
    PointsLedger,
    Subscription,
)
from crm_bridge.name_index import replace_words
from crm_bridge.profile import (
    ConsentView,
    CustomerProfile,
    CustomerSummary,
    InteractionView,
    ServiceView,
    mask_id_number,
)
from crm_bridge.textfold import fold, words_of
from crm_bridge.tiering import LineRevenue, care_card_for, decide_tier, loyalty_rank, window_months

__all__ = ["CustomerDirectory"]

log = logging.getLogger(__name__)

# Byte order puts U+10FFFF after every other character (UTF-8 on PostgreSQL "C", memcmp on SQLite).
_PREFIX_END = "\U0010ffff"
# Counting a query word's prefix range stops at these caps: enough to tell a rare word from a common one.
_FIRST_CAP, _LAST_CAP = 1_000, 20_000


def _interaction_view(row: Interaction) -> InteractionView:
    at = row.at if row.at.tzinfo else row.at.replace(tzinfo=UTC)  # SQLite returns naive datetimes
    return InteractionView(row.id, row.kind, at, row.agent_id, row.call_id, row.summary, row.disposition)


class CustomerDirectory:
    """Lookups and writes of the unified customer profile."""

    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        rules: TierRules | None = None,
        cache: ProfileCacheLike | None = None,
        *,
        recent_interactions: int = 5,
        today: Callable[[], date] = today_vn,
        id_format: CustomerIdFormat | None = None,
    ) -> None:
        """``id_format``: the configured customer-ID rule (``crm.customer_id``): search text that
        matches it is looked up as an ID."""
        self.sessions = sessions
        self.id_format = id_format or CustomerIdFormat()
        self.rules = rules or TierRules()
        self.cache = cache
        self.recent_limit = recent_interactions
        self.today = today

    # ---- lookups -------------------------------------------------------------------------------

    async def by_number(self, number: str) -> CustomerProfile | None:
        """The profile of the owner holding ``number`` (any format); None if unknown or not a number."""
        e164 = try_e164(number)
        if e164 is None:
            log.debug("lookup of unusable number %r", number)
            return None
        return await self._by_key("n", e164)

    async def by_e164(self, e164: str) -> CustomerProfile | None:
        """Like :meth:`by_number` for a number already in E.164 (normalised where the call came in)."""
        return await self._by_key("n", e164)

    async def by_account(self, account: str) -> CustomerProfile | None:
        """The profile of the owner of a service account (internet, TV, any line's account)."""
        account = account.strip()
        if not account:
            return None
        return await self._by_key("a", account)

    async def by_customer_id(self, customer_id: str) -> CustomerProfile | None:
        customer_id = customer_id.strip().upper()
        if self.cache is not None:
            cached = await self.cache.get(customer_id)
            if cached is not None:
                return cached
        async with self.sessions() as session:
            profile = await self._load_profile(session, customer_id)
        if profile is not None and self.cache is not None:
            await self.cache.put(profile)
        return profile

    async def prefetch(self, number: str) -> CustomerProfile | None:
        """Warm the cache for a ringing call (run while the caller is in the IVR); never raises."""
        try:
            return await self.by_number(number)
        except Exception:
            log.exception("profile prefetch failed for %r", number)
            return None

    async def _by_key(self, kind: KeyKind, key: str) -> CustomerProfile | None:
        if self.cache is not None:
            hit = await self.cache.lookup(kind, key)
            if hit.hit:
                return hit.profile
        async with self.sessions() as session:
            found = await self._owner(session, kind, key)
            profile = await self._build(session, found[0], found[1]) if found else None
        if self.cache is not None:
            if profile is None:
                await self.cache.put_unknown(kind, key)
            else:
                extra = [key] if found and found[2] else []
                await self.cache.put(profile, extra_numbers=extra)
        return profile

    @staticmethod
    def _with_points() -> Select[Customer, int]:
        points = (
            select(func.coalesce(func.sum(PointsLedger.delta), 0))
            .where(PointsLedger.customer_id == Customer.customer_id)
            .scalar_subquery()
        )
        return select(Customer, points)

    async def _owner(
        self, session: AsyncSession, kind: KeyKind, key: str
    ) -> tuple[Customer, int, bool] | None:
        """The owner (with its points balance) in one query; ``True`` third if found by contact number."""
        column = Subscription.number_e164 if kind == "n" else Subscription.account
        # Active before suspended; the most recent subscription if a number was ever held twice.
        stmt = (
            self._with_points()
            .join(Subscription, Subscription.customer_id == Customer.customer_id)
            .where(column == key, Subscription.status != "terminated")
            .order_by(case((Subscription.status == "active", 0), else_=1), Subscription.started_on.desc())
            .limit(1)
        )
        row = (await session.execute(stmt)).first()
        if row is not None:
            return row[0], int(row[1]), False
        if kind != "n":
            return None
        stmt = (
            self._with_points()
            .join(ContactNumber, ContactNumber.customer_id == Customer.customer_id)
            .where(ContactNumber.number_e164 == key)
            .limit(1)
        )
        row = (await session.execute(stmt)).first()
        return (row[0], int(row[1]), True) if row is not None else None

    async def _load_profile(self, session: AsyncSession, customer_id: str) -> CustomerProfile | None:
        row = (await session.execute(self._with_points().where(Customer.customer_id == customer_id))).first()
        return await self._build(session, row[0], int(row[1])) if row is not None else None

    async def _build(self, session: AsyncSession, customer: Customer, balance: int) -> CustomerProfile:
        """The profile of ``customer``: its services with their bills, tier, recent interactions."""
        customer_id = customer.customer_id
        months = window_months(self.today(), self.rules.months)
        sub_rows = (
            await session.execute(
                select(Subscription, MonthlyRevenue)
                .outerjoin(
                    MonthlyRevenue,
                    (MonthlyRevenue.subscription_id == Subscription.id) & MonthlyRevenue.month.in_(months),
                )
                .where(Subscription.customer_id == customer_id)
                .order_by(Subscription.started_on, Subscription.id)
            )
        ).all()
        subs: dict[int, Subscription] = {}
        bills: dict[int, dict[str, MonthlyRevenue]] = {}
        for sub, rev in sub_rows:
            subs.setdefault(sub.id, sub)
            per_month = bills.setdefault(sub.id, {})
            if rev is not None:
                per_month[rev.month] = rev

        lines: list[LineRevenue] = []
        services: list[ServiceView] = []
        debt = 0
        for sid, sub in subs.items():
            per_month = bills[sid]
            charged = [per_month[m].charged_vnd if m in per_month else 0 for m in months]
            voip = [per_month[m].other_carrier_voip_vnd if m in per_month else 0 for m in months]
            # Debt as of the latest bill in the window (it already accumulates earlier months).
            latest = next((per_month[m] for m in reversed(months) if m in per_month), None)
            line_debt = latest.overdue_debt_vnd if latest is not None else 0
            debt += line_debt
            line = LineRevenue(sub.service, charged, voip, line_debt)
            # A terminated line counts only if it was billed inside the window.
            if sub.status != "terminated" or per_month:
                lines.append(line)
            services.append(
                ServiceView(
                    subscription_id=sub.id,
                    service=sub.service,
                    number=sub.number_e164,
                    account=sub.account,
                    package=sub.package,
                    status=sub.status,
                    started_on=sub.started_on,
                    ended_on=sub.ended_on,
                    monthly_revenue_vnd=line.net_total() // len(months),
                )
            )

        decision = decide_tier(lines, self.rules)
        interactions = (
            await self._recent(session, customer_id, self.recent_limit) if self.recent_limit else []
        )
        consented_at = customer.consent_at
        if consented_at is not None and consented_at.tzinfo is None:
            consented_at = consented_at.replace(tzinfo=UTC)
        return CustomerProfile(
            customer_id=customer.customer_id,
            name=customer.full_name,
            kind=customer.kind,
            tier=decision.tier,
            tier_reason=decision,
            care_card=care_card_for(decision.tier, self.rules, customer.care_card),
            loyalty_rank=loyalty_rank(balance, self.rules),
            points=balance,
            overdue_debt_vnd=debt,
            services=services,
            recent_interactions=interactions,
            consent=ConsentView(
                customer.consent_marketing,
                customer.consent_recording,
                customer.consent_data_sharing,
                consented_at,
            ),
            preferred_language=customer.preferred_language,
            province=customer.province,
            id_number_masked=mask_id_number(customer.id_number),
            segment=customer.segment,
        )

    @staticmethod
    async def _recent(session: AsyncSession, customer_id: str, limit: int) -> list[InteractionView]:
        rows = await session.scalars(
            select(Interaction)
            .where(Interaction.customer_id == customer_id)
            .order_by(Interaction.at.desc(), Interaction.id.desc())
            .limit(limit)
        )
        return [_interaction_view(r) for r in rows]

    # ---- search --------------------------------------------------------------------------------

    async def search(self, text: str, limit: int = 20) -> list[CustomerSummary]:
        """Agent search by name (diacritics and case ignored), number or customer ID.

        Names match by prefix of the whole name first ("nguyen van" → "Nguyễn Văn An"), then by words
        anywhere, each word matched as the start of a word ("van an" → "Nguyễn Văn An", "Lê Văn Anh").
        """
        text = text.strip()
        if not text or limit <= 0:
            return []
        if self.id_format.is_valid(text):
            profile = await self.by_customer_id(text)
            return [self._summary_of(profile)] if profile else []
        if any(ch.isdigit() for ch in text):
            e164 = try_e164(text)
            if e164 is not None:
                profile = await self._by_key("n", e164)
                if profile is not None:
                    return [self._summary_of(profile)]
        folded = fold(text)
        if not folded:
            return []
        cols = (Customer.customer_id, Customer.full_name, Customer.kind, Customer.province, Customer.segment)
        found: dict[str, CustomerSummary] = {}
        async with self.sessions() as session:
            # 1) Prefix of the folded name: a range scan on the index.
            rows = await session.execute(
                select(*cols)
                .where(Customer.name_search >= folded, Customer.name_search < folded + _PREFIX_END)
                .order_by(Customer.name_search, Customer.customer_id)
                .limit(limit)
            )
            for r in rows:
                found[r[0]] = CustomerSummary(*r)
            if len(found) < limit:
                # 2) Every word as a word prefix anywhere in the name, through the word index.
                await self._by_words(session, words_of(folded), limit, found)
        return list(found.values())[:limit]

    @staticmethod
    async def _by_words(
        session: AsyncSession, words: list[str], limit: int, found: dict[str, CustomerSummary]
    ) -> None:
        """Add to ``found`` (up to ``limit``) the customers having a word that starts with each of ``words``.

        Reads the prefix range of the rarest word in ``crm_customer_words`` and checks the other words on
        the folded name stored in the same row, so the cost is that one range, not the whole table.
        """
        driver = await CustomerDirectory._rarest(session, words)
        col = CustomerWord.name_search
        stmt = (
            select(CustomerWord.customer_id)
            .where(
                CustomerWord.word >= driver,
                CustomerWord.word < driver + _PREFIX_END,
                *(or_(col.like(f"{w}%"), col.like(f"% {w}%")) for w in words if w != driver),
            )
            .order_by(CustomerWord.word, CustomerWord.customer_id)
        )
        want = limit - len(found)
        fetch = limit + len(found)
        while True:
            # A customer shows up once per word starting with the driver ("ng" → nguyen, ngoc): fetch
            # more if those repeats (or customers already found) leave fewer than wanted.
            ids = list(await session.scalars(stmt.limit(fetch)))
            new = [cid for cid in dict.fromkeys(ids) if cid not in found]
            if len(new) >= want or len(ids) < fetch:
                break
            fetch *= 4
        new = new[:want]
        if not new:
            return
        cols = (Customer.customer_id, Customer.full_name, Customer.kind, Customer.province, Customer.segment)
        rows = {
            r[0]: CustomerSummary(*r)
            for r in await session.execute(select(*cols).where(Customer.customer_id.in_(new)))
        }
        found.update((cid, rows[cid]) for cid in new if cid in rows)

    @staticmethod
    async def _rarest(session: AsyncSession, words: list[str]) -> str:
        """The query word whose prefix range holds the fewest rows: it drives the search.

        Counting a range costs its length, so counts stop at caps: first all words up to a small cap in
        one query (a rare word, like the number of a company name, settles it; ties go to the longest);
        if none is below it, one word at a time in query order (family name first), each capped at the
        smallest count so far (if all reach the last cap, the first word drives).
        """
        if len(words) == 1:
            return words[0]

        def capped(w: str, cap: int) -> ScalarSelect[int]:
            rows = select(CustomerWord.word).where(
                CustomerWord.word >= w, CustomerWord.word < w + _PREFIX_END
            )
            return select(func.count()).select_from(rows.limit(cap).subquery()).scalar_subquery()

        row = (await session.execute(select(*(capped(w, _FIRST_CAP) for w in words)))).one()
        best = min(zip(row, (-len(w) for w in words), words, strict=True))
        if best[0] < _FIRST_CAP:
            return best[2]
        least, rarest = _LAST_CAP, words[0]
        for w in words:
            n = await session.scalar(select(capped(w, least)))
            if n is not None and n < least:
                least, rarest = n, w
        return rarest

    @staticmethod
    def _summary_of(p: CustomerProfile) -> CustomerSummary:
        return CustomerSummary(p.customer_id, p.name, p.kind, p.province, p.segment)

    # ---- writes (each one invalidates the owner's cached profile) --------------------------------

    async def recent_interactions(self, customer_id: str, limit: int = 20) -> list[InteractionView]:
        async with self.sessions() as session:
            return await self._recent(session, customer_id, limit)

    async def add_interaction(
        self,
        customer_id: str,
        kind: str,
        summary: str = "",
        *,
        agent_id: str | None = None,
        call_id: str | None = None,
        disposition: str | None = None,
        at: datetime | None = None,
    ) -> InteractionView:
        """Record a call, note, ticket or complaint against the owner."""
        if kind not in INTERACTION_KINDS:
            raise ValueError(f"interaction kind must be one of {INTERACTION_KINDS}, not {kind!r}")
        row = Interaction(
            customer_id=customer_id,
            kind=kind,
            at=at or datetime.now(UTC),
            agent_id=agent_id,
            call_id=call_id,
            summary=summary,
            disposition=disposition,
        )
        async with self.sessions() as session, session.begin():
            await self._require(session, customer_id)
            session.add(row)
            await session.flush()
            keys = await self._keys_of(session, customer_id)
        await self._invalidate(customer_id, keys)
        return _interaction_view(row)

    async def add_points(
        self, customer_id: str, delta: int, reason: str, *, at: datetime | None = None
    ) -> int:
        """Accrue (or redeem, negative ``delta``) loyalty points; returns the new balance."""
        async with self.sessions() as session, session.begin():
            await self._require(session, customer_id)
            session.add(
                PointsLedger(customer_id=customer_id, delta=delta, reason=reason, at=at or datetime.now(UTC))
            )
            await session.flush()
            balance = await session.scalar(
                select(func.coalesce(func.sum(PointsLedger.delta), 0)).where(
                    PointsLedger.customer_id == customer_id
                )
            )
            keys = await self._keys_of(session, customer_id)
        await self._invalidate(customer_id, keys)
        return int(balance or 0)

    async def set_consent(
        self,
        customer_id: str,
        *,
        marketing: bool | None = None,
        recording: bool | None = None,
        data_sharing: bool | None = None,
        at: datetime | None = None,
    ) -> None:
        """Record the customer's explicit consent choices (only the flags given are changed)."""
        async with self.sessions() as session, session.begin():
            customer = await self._require(session, customer_id)
            if marketing is not None:
                customer.consent_marketing = marketing
            if recording is not None:
                customer.consent_recording = recording
            if data_sharing is not None:
                customer.consent_data_sharing = data_sharing
            customer.consent_at = at or datetime.now(UTC)
            keys = await self._keys_of(session, customer_id)
        await self._invalidate(customer_id, keys)

    async def rename(self, customer_id: str, full_name: str) -> None:
        """Change the customer's name; search finds it by the new name's words and no longer the old."""
        full_name = full_name.strip()
        if not full_name or len(full_name) > 200:
            raise ValueError("full_name is required (at most 200 characters)")
        async with self.sessions() as session, session.begin():
            customer = await self._require(session, customer_id)
            customer.full_name = full_name
            customer.name_search = fold(full_name)
            await session.flush()
            await replace_words(session, customer_id, customer.name_search)
            keys = await self._keys_of(session, customer_id)
        await self._invalidate(customer_id, keys)

    async def add_subscription(
        self,
        customer_id: str,
        service: str,
        account: str,
        *,
        number: str | None = None,
        package: str | None = None,
        started_on: date | None = None,
    ) -> int:
        """Give the owner a new service; returns the subscription ID."""
        e164 = None
        if number is not None:
            e164 = to_e164(number)
        async with self.sessions() as session, session.begin():
            await self._require(session, customer_id)
            sub = Subscription(
                customer_id=customer_id,
                service=service,
                number_e164=e164,
                account=account,
                package=package,
                status="active",
                started_on=started_on or self.today(),
            )
            session.add(sub)
            await session.flush()
            keys = await self._keys_of(session, customer_id)
        await self._invalidate(customer_id, keys)
        return sub.id

    async def set_subscription_status(
        self, subscription_id: int, status: str, *, ended_on: date | None = None
    ) -> None:
        """Suspend, reactivate or terminate a subscription."""
        if status not in SUBSCRIPTION_STATUSES:
            raise ValueError(f"status must be one of {SUBSCRIPTION_STATUSES}, not {status!r}")
        async with self.sessions() as session, session.begin():
            sub = await session.get(Subscription, subscription_id)
            if sub is None:
                raise NotFound(f"subscription {subscription_id} not found")
            sub.status = status
            if status == "terminated":
                sub.ended_on = ended_on or self.today()
            customer_id = sub.customer_id
            keys = await self._keys_of(session, customer_id)
        await self._invalidate(customer_id, keys)

    async def invalidate(self, customer_id: str) -> None:
        """Drop the owner's cached profile (for writers outside the directory, e.g. the importer)."""
        if self.cache is None:
            return
        async with self.sessions() as session:
            keys = await self._keys_of(session, customer_id)
        await self._invalidate(customer_id, keys)

    @staticmethod
    async def _require(session: AsyncSession, customer_id: str) -> Customer:
        customer = await session.get(Customer, customer_id)
        if customer is None:
            raise NotFound(f"customer {customer_id} not found")
        return customer

    async def _keys_of(self, session: AsyncSession, customer_id: str) -> tuple[list[str], list[str]]:
        if self.cache is None:
            return [], []
        subs = (
            await session.execute(
                select(Subscription.number_e164, Subscription.account).where(
                    Subscription.customer_id == customer_id
                )
            )
        ).all()
        contacts = await session.scalars(
            select(ContactNumber.number_e164).where(ContactNumber.customer_id == customer_id)
        )
        numbers = [n for n, _ in subs if n] + list(contacts)
        return numbers, [a for _, a in subs]

    async def _invalidate(self, customer_id: str, keys: tuple[Iterable[str], Iterable[str]]) -> None:
        if self.cache is not None:
            await self.cache.invalidate(customer_id, keys[0], keys[1])
