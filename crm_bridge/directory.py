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

from sqlalchemy import func, select
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
    Interaction,
    PointsLedger,
    Subscription,
)
from crm_bridge.name_index import replace_words
from crm_bridge.name_search import search_names
from crm_bridge.profile import (
    CustomerProfile,
    CustomerSummary,
    InteractionView,
)
from crm_bridge.profile_reader import ProfileReader, interaction_view
from crm_bridge.textfold import fold

__all__ = ["CustomerDirectory"]

log = logging.getLogger(__name__)


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
        self._reader = ProfileReader(self.rules, today, recent_interactions)

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
            profile = await self._reader.by_customer_id(session, customer_id)
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
            found = await self._reader.owner(session, kind, key)
            profile = await self._reader.build(session, found[0], found[1]) if found else None
        if self.cache is not None:
            if profile is None:
                await self.cache.put_unknown(kind, key)
            else:
                extra = [key] if found and found[2] else []
                await self.cache.put(profile, extra_numbers=extra)
        return profile

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
        async with self.sessions() as session:
            return await search_names(session, folded, limit)

    @staticmethod
    def _summary_of(p: CustomerProfile) -> CustomerSummary:
        return CustomerSummary(p.customer_id, p.name, p.kind, p.province, p.segment)

    # ---- writes (each one invalidates the owner's cached profile) --------------------------------

    async def recent_interactions(self, customer_id: str, limit: int = 20) -> list[InteractionView]:
        async with self.sessions() as session:
            return await self._reader.recent(session, customer_id, limit)

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
        return interaction_view(row)

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
