"""Agents' passwords: argon2id (argon2-cffi) at OWASP's minimum cost or above, checked off the event loop.

New hashes are argon2id with m=19 MiB, t=2, p=1 (OWASP Password Storage Cheat Sheet). Older
``scrypt$n$r$p$salt$hash`` hashes still verify, and :func:`hash_is_weak` names them (and any argon2 hash
below the minimum) so ``tongdai check-config`` can ask for a new one: the hashes live in config.yaml,
which the service never rewrites.

Hashing costs tens of milliseconds of CPU by design, so :class:`PasswordChecker` runs it in a small
thread pool (argon2 and scrypt release the GIL) behind a bound on waiting checks: a burst of logins
queues there, never on the event loop that carries calls, and past the bound it is refused at once.
An unknown agent id is checked against a dummy hash of the same cost, so timing does not tell which
ids exist.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
from concurrent.futures import ThreadPoolExecutor

import argon2
from argon2.exceptions import InvalidHashError, VerificationError

from core.errors import TongdaiError

# OWASP's minimum for argon2id: 19 MiB of memory, 2 iterations, 1 degree of parallelism.
MIN_MEMORY_KIB, MIN_TIME_COST, PARALLELISM = 19_456, 2, 1
_HASHER = argon2.PasswordHasher(time_cost=MIN_TIME_COST, memory_cost=MIN_MEMORY_KIB, parallelism=PARALLELISM)


class LoginBusy(TongdaiError):
    """Too many password checks are waiting: the caller should retry in a moment."""

    error_id = "auth.busy"


def hash_password(password: str) -> str:
    if not password:
        raise ValueError("empty password")
    return _HASHER.hash(password)


def verify_password(password: str, encoded: str) -> bool:
    """Blocking check of ``password`` against an argon2id or legacy scrypt hash; False for junk."""
    if encoded.startswith("scrypt$"):
        return _verify_scrypt(password, encoded)
    try:
        return _HASHER.verify(encoded, password)
    except (VerificationError, InvalidHashError):
        return False


def hash_is_weak(encoded: str) -> str | None:
    """Why this hash is below today's minimum (legacy scheme or cost), or None when it is fine."""
    if encoded.startswith("scrypt$"):
        return "a legacy scrypt hash: make a new one with `tongdai hash-password`"
    try:
        params = argon2.extract_parameters(encoded)
    except InvalidHashError:
        return "not a password hash from `tongdai hash-password`"
    if params.type is not argon2.Type.ID:
        return "not argon2id"
    if params.memory_cost < MIN_MEMORY_KIB or params.time_cost < MIN_TIME_COST:
        return f"argon2id cost below OWASP's minimum (m={MIN_MEMORY_KIB} KiB, t={MIN_TIME_COST})"
    return None


def _verify_scrypt(password: str, encoded: str) -> bool:
    try:
        scheme, n, r, p, salt_b64, hash_b64 = encoded.split("$")
        salt, want = base64.b64decode(salt_b64), base64.b64decode(hash_b64)
        got = hashlib.scrypt(password.encode(), salt=salt, n=int(n), r=int(r), p=int(p), dklen=len(want))
    except (ValueError, TypeError):
        return False
    return scheme == "scrypt" and hmac.compare_digest(got, want)


class PasswordChecker:
    """Checks passwords in a bounded thread pool; at most ``max_waiting`` checks queue at once."""

    def __init__(self, workers: int = 2, max_waiting: int = 16) -> None:
        self._pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="password")
        self._max_waiting = max_waiting
        self._waiting = 0
        self._dummy = _HASHER.hash("tongdai-no-such-agent")

    async def check(self, password: str, encoded: str | None) -> bool:
        """True when ``password`` matches ``encoded``; ``None`` (unknown id) costs the same and fails."""
        if self._waiting >= self._max_waiting:
            raise LoginBusy("too many logins at once: try again in a moment")
        self._waiting += 1
        try:
            target = encoded if encoded is not None else self._dummy
            loop = asyncio.get_running_loop()
            ok = await loop.run_in_executor(self._pool, verify_password, password, target)
        finally:
            self._waiting -= 1
        return ok and encoded is not None

    def close(self) -> None:
        self._pool.shutdown(wait=False, cancel_futures=True)
