"""In-process profile cache for a single node without Redis: the same contract as :class:`ProfileCache`.

Without it every screen pop and IVR lookup re-reads the database; on SQLite at 50 calls/s that alone
saturates the process. It is bounded (LRU) and short-lived: writes made through this process's
directory invalidate it at once, writes by other processes (``tongdai crm import`` without Redis)
become visible within ``memory_ttl_seconds``. With several nodes, configure Redis instead.
"""

from __future__ import annotations

import time
from collections import OrderedDict
from collections.abc import Callable, Iterable

from crm_bridge.cache import NO_OWNER, CacheLookup, KeyKind
from crm_bridge.profile import CustomerProfile

__all__ = ["MemoryProfileCache"]

_MISS = CacheLookup(False)


class MemoryProfileCache:
    def __init__(
        self,
        *,
        ttl_seconds: float = 60,
        negative_ttl_seconds: float = 30,
        max_profiles: int = 50_000,
        tombstone_seconds: float = 5,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.ttl = ttl_seconds
        self.negative_ttl = negative_ttl_seconds
        self.max_profiles = max_profiles
        self.tombstone = tombstone_seconds
        self._now = clock
        self._profiles: OrderedDict[str, tuple[float, CustomerProfile]] = OrderedDict()
        self._pointers: dict[str, tuple[float, str]] = {}  # "n:<e164>" / "a:<account>" → (expiry, id)
        self._tombstones: dict[str, float] = {}

    def __len__(self) -> int:
        return len(self._profiles)

    async def get(self, customer_id: str) -> CustomerProfile | None:
        entry = self._profiles.get(customer_id)
        if entry is None:
            return None
        if entry[0] <= self._now():
            del self._profiles[customer_id]
            return None
        self._profiles.move_to_end(customer_id)
        return entry[1]

    async def lookup(self, kind: KeyKind, key: str) -> CacheLookup:
        ptr = self._pointers.get(f"{kind}:{key}")
        if ptr is None:
            return _MISS
        if ptr[0] <= self._now():
            del self._pointers[f"{kind}:{key}"]
            return _MISS
        if ptr[1] == NO_OWNER:
            return CacheLookup(True)
        profile = await self.get(ptr[1])
        return CacheLookup(profile is not None, profile, ptr[1])

    async def put(
        self,
        profile: CustomerProfile,
        *,
        extra_numbers: Iterable[str] = (),
        extra_accounts: Iterable[str] = (),
    ) -> bool:
        cid, now = profile.customer_id, self._now()
        if self._tombstones.get(cid, 0) > now:  # a write just invalidated it: do not put the old one back
            return False
        expiry = now + self.ttl
        self._profiles[cid] = (expiry, profile)
        self._profiles.move_to_end(cid)
        for n in {*profile.numbers, *extra_numbers}:
            self._pointers[f"n:{n}"] = (expiry, cid)
        for a in {*profile.accounts, *extra_accounts}:
            self._pointers[f"a:{a}"] = (expiry, cid)
        self._evict(now)
        return True

    async def put_unknown(self, kind: KeyKind, key: str) -> None:
        if self.negative_ttl > 0:
            self._pointers.setdefault(f"{kind}:{key}", (self._now() + self.negative_ttl, NO_OWNER))

    async def invalidate(
        self, customer_id: str, numbers: Iterable[str] = (), accounts: Iterable[str] = ()
    ) -> None:
        self._tombstones[customer_id] = self._now() + self.tombstone
        self._profiles.pop(customer_id, None)
        for n in numbers:
            self._pointers.pop(f"n:{n}", None)
        for a in accounts:
            self._pointers.pop(f"a:{a}", None)

    async def forget(self, kind: KeyKind, key: str) -> None:
        self._pointers.pop(f"{kind}:{key}", None)

    def _evict(self, now: float) -> None:
        while len(self._profiles) > self.max_profiles:
            self._profiles.popitem(last=False)
        # Pointers and tombstones are swept when they outgrow the profiles: amortised, never per call.
        if len(self._pointers) > 4 * self.max_profiles + 1024:
            self._pointers = {
                k: v
                for k, v in self._pointers.items()
                if v[0] > now and (v[1] in self._profiles or v[1] == NO_OWNER)
            }
        if len(self._tombstones) > 1024:
            self._tombstones = {k: t for k, t in self._tombstones.items() if t > now}
