"""Redis cache of customer profiles in front of the database (redis.asyncio).

Keys (under a configurable prefix):

* ``p:<customer_id>`` → the profile's JSON, with a TTL;
* ``n:<e164>`` and ``a:<account>`` → the owner's customer ID (or ``-`` for a known unknown, briefly);
* ``x:<customer_id>`` → a short tombstone written on invalidation.

A lookup by number or account is one round trip (a Lua script follows the pointer to the profile).
Invalidation deletes the profile and every number/account pointer of the owner. The tombstone closes the
race where a reader loaded the old profile from the database just before a write and would put it back
after the invalidation: ``put`` refuses to write while the tombstone lives.

The cache is an accelerator, never a dependency: every Redis error is logged and treated as a miss, so a
ringing call still gets its profile from the database when Redis is down.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Iterable
from typing import Any, Literal, Protocol

from redis.asyncio import Redis
from redis.exceptions import RedisError

from crm_bridge.profile import CustomerProfile

__all__ = ["NO_OWNER", "CacheLookup", "ProfileCache", "ProfileCacheLike"]

log = logging.getLogger(__name__)

NO_OWNER = "-"
KeyKind = Literal["n", "a"]

# KEYS[1] = pointer key; ARGV[1] = profile key prefix. Returns nil (miss), '-' (known unknown) or
# {customer_id, profile_json_or_nil}.
_LOOKUP = """
local c = redis.call('GET', KEYS[1])
if not c then return nil end
if c == '-' then return '-' end
return {c, redis.call('GET', ARGV[1] .. c)}
"""

# KEYS = [profile, tombstone, pointer...]; ARGV = [json, ttl, customer_id]
_PUT = """
if redis.call('EXISTS', KEYS[2]) == 1 then return 0 end
redis.call('SET', KEYS[1], ARGV[1], 'EX', ARGV[2])
for i = 3, #KEYS do redis.call('SET', KEYS[i], ARGV[3], 'EX', ARGV[2]) end
return 1
"""


class CacheLookup:
    """Result of a cached lookup: ``hit`` False means ask the database."""

    __slots__ = ("customer_id", "hit", "profile")

    def __init__(self, hit: bool, profile: CustomerProfile | None = None, customer_id: str | None = None):
        self.hit = hit
        self.profile = profile
        self.customer_id = customer_id


_MISS = CacheLookup(False)


class ProfileCacheLike(Protocol):
    """What the directory needs of a cache: Redis (:class:`ProfileCache`) or in-process (one node)."""

    async def get(self, customer_id: str) -> CustomerProfile | None: ...

    async def lookup(self, kind: KeyKind, key: str) -> CacheLookup: ...

    async def put(
        self,
        profile: CustomerProfile,
        *,
        extra_numbers: Iterable[str] = (),
        extra_accounts: Iterable[str] = (),
    ) -> bool: ...

    async def put_unknown(self, kind: KeyKind, key: str) -> None: ...

    async def invalidate(
        self, customer_id: str, numbers: Iterable[str] = (), accounts: Iterable[str] = ()
    ) -> None: ...

    async def forget(self, kind: KeyKind, key: str) -> None: ...


def _text(v: Any) -> str:
    return v.decode() if isinstance(v, bytes) else str(v)


class ProfileCache:
    """Profiles by customer ID, number and account, with TTL and owner-wide invalidation."""

    def __init__(
        self,
        redis: Redis,
        *,
        prefix: str = "tongdai:crm:",
        ttl_seconds: int = 300,
        negative_ttl_seconds: int = 30,
        tombstone_seconds: int = 5,
        skip_after_failure: float = 5.0,
    ) -> None:
        self.redis = redis
        # After a failure, reads and writes skip Redis for a while (the directory answers): a hung
        # Redis otherwise costs every lookup its full socket timeout, and a pop lands after the answer.
        self.skip_after_failure = skip_after_failure
        self._skip_until = 0.0
        self.prefix = prefix
        self.ttl = ttl_seconds
        self.negative_ttl = negative_ttl_seconds
        self.tombstone = tombstone_seconds
        self._lookup = redis.register_script(_LOOKUP)
        self._put = redis.register_script(_PUT)

    def _skipping(self) -> bool:
        return time.monotonic() < self._skip_until

    def _failed(self, err: RedisError) -> None:
        self._skip_until = time.monotonic() + self.skip_after_failure
        log.warning("profile cache unavailable (skipped for %.0f s): %s", self.skip_after_failure, err)

    def _k(self, kind: str, key: str) -> str:
        return f"{self.prefix}{kind}:{key}"

    async def get(self, customer_id: str) -> CustomerProfile | None:
        if self._skipping():
            return None
        try:
            raw = await self.redis.get(self._k("p", customer_id))
        except RedisError as err:
            self._failed(err)
            return None
        return self._decode(raw)

    async def lookup(self, kind: KeyKind, key: str) -> CacheLookup:
        """Look up by number (``"n"``, E.164) or account (``"a"``) in one round trip."""
        if self._skipping():
            return _MISS
        try:
            res = await self._lookup(keys=[self._k(kind, key)], args=[self.prefix + "p:"])
        except RedisError as err:
            self._failed(err)
            return _MISS
        if res is None:
            return _MISS
        if not isinstance(res, list):
            return CacheLookup(True) if _text(res) == NO_OWNER else _MISS
        customer_id, raw = _text(res[0]), res[1]
        profile = self._decode(raw)
        return CacheLookup(profile is not None, profile, customer_id)

    def _decode(self, raw: Any) -> CustomerProfile | None:
        if raw is None:
            return None
        try:
            return CustomerProfile.from_json(json.loads(raw))
        except (ValueError, KeyError, TypeError) as err:
            # A profile written by an older version: treat as a miss, it will be rewritten.
            log.info("dropping undecodable cached profile: %s", err)
            return None

    async def put(
        self,
        profile: CustomerProfile,
        *,
        extra_numbers: Iterable[str] = (),
        extra_accounts: Iterable[str] = (),
    ) -> bool:
        """Cache ``profile`` and point all its numbers and accounts at it; False if refused or failed."""
        cid = profile.customer_id
        keys = [self._k("p", cid), self._k("x", cid)]
        keys += [self._k("n", n) for n in {*profile.numbers, *extra_numbers}]
        keys += [self._k("a", a) for a in {*profile.accounts, *extra_accounts}]
        data = json.dumps(profile.to_json(), ensure_ascii=False, separators=(",", ":"))
        if self._skipping():
            return False
        try:
            return bool(await self._put(keys=keys, args=[data, self.ttl, cid]))
        except RedisError as err:
            self._failed(err)
            return False

    async def put_unknown(self, kind: KeyKind, key: str) -> None:
        """Remember briefly that nobody holds this number/account."""
        if self.negative_ttl <= 0 or self._skipping():
            return
        try:
            await self.redis.set(self._k(kind, key), NO_OWNER, ex=self.negative_ttl, nx=True)
        except RedisError as err:
            self._failed(err)

    async def invalidate(
        self, customer_id: str, numbers: Iterable[str] = (), accounts: Iterable[str] = ()
    ) -> None:
        """Forget the owner's profile and every pointer to it; block re-caching for a few seconds."""
        keys = [self._k("p", customer_id)]
        keys += [self._k("n", n) for n in numbers]
        keys += [self._k("a", a) for a in accounts]
        try:
            async with self.redis.pipeline(transaction=True) as pipe:
                pipe.set(self._k("x", customer_id), "1", ex=self.tombstone)
                pipe.delete(*keys)
                await pipe.execute()
        except RedisError as err:
            # Cannot invalidate: the TTL bounds how long the old profile can be served.
            log.error("profile cache invalidation failed for %s: %s", customer_id, err)

    async def forget(self, kind: KeyKind, key: str) -> None:
        """Drop one pointer (e.g. a negative entry for a number just assigned)."""
        try:
            await self.redis.delete(self._k(kind, key))
        except RedisError as err:
            log.warning("profile cache unavailable: %s", err)
