"""Who is calling: the IVR's customer lookups, always within the decision budget.

A caller is found by the number they call from (normalised first: Asterisk hands us whatever the
network sent) or by what they key on the phone. Customer IDs look like ``KH0000000001`` but a keypad
has no letters, so a caller keys the numeric part, leading zeros optional (``0000000001#`` or ``1#``),
or a contract/service account number, or another phone number of theirs. Every lookup together must
finish within ``asterisk.agi.decision_budget``: a slow database never holds a caller; past the budget
the call goes on unidentified (``failed``), which the menu treats as "CRM down", not "unknown".
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Coroutine
from typing import Any, Protocol

from crm_bridge.profile import CustomerProfile
from ivr.config import normalize_number

log = logging.getLogger(__name__)

CUSTOMER_ID_PREFIX = "KH"
CUSTOMER_ID_DIGITS = 10


class Directory(Protocol):
    async def by_number(self, number: str) -> CustomerProfile | None: ...

    async def by_customer_id(self, customer_id: str) -> CustomerProfile | None: ...

    async def by_account(self, account: str) -> CustomerProfile | None: ...


def customer_id_from_keys(keys: str) -> str | None:
    """The customer ID a caller meant by keying digits (``"1"`` → ``KH0000000001``), or None."""
    if not keys.isdigit() or len(keys) > CUSTOMER_ID_DIGITS:
        return None
    return CUSTOMER_ID_PREFIX + keys.zfill(CUSTOMER_ID_DIGITS)


class CallerLookup:
    """Budgeted lookups for one IVR route. Returns ``(profile, failed)``."""

    def __init__(self, directory: Directory, budget: float) -> None:
        self.directory = directory
        self.budget = budget

    async def by_caller(self, raw_number: str | None) -> tuple[CustomerProfile | None, bool]:
        number = normalize_number(raw_number)
        if number is None:
            return None, False
        return await self._within_budget("number", self._by_number(number))

    async def by_keys(self, keys: str) -> tuple[CustomerProfile | None, bool]:
        return await self._within_budget("keyed id", self._by_keys(keys))

    async def _by_number(self, number: str) -> CustomerProfile | None:
        return await self.directory.by_number(number)

    async def _by_keys(self, keys: str) -> CustomerProfile | None:
        cid = customer_id_from_keys(keys)
        if cid is not None:
            profile = await self.directory.by_customer_id(cid)
            if profile is not None:
                return profile
        profile = await self.directory.by_account(keys)  # a contract / service account number
        if profile is None and (number := normalize_number(keys)) is not None and number.startswith("0"):
            profile = await self.directory.by_number(number)  # another line of theirs
        return profile

    async def _within_budget(
        self, what: str, lookup: Coroutine[Any, Any, CustomerProfile | None]
    ) -> tuple[CustomerProfile | None, bool]:
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
