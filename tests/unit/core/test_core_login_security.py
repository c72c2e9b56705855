"""Password hashing (argon2id at OWASP's minimum, legacy scrypt still verified, weak hashes named) and
the login throttle (backoff, lockout per agent and per address, success clears only the agent)."""

from __future__ import annotations

import asyncio
import base64
import hashlib

import pytest

from core.login_guard import LoginGuard, LoginPolicy
from core.passwords import (
    LoginBusy,
    PasswordChecker,
    hash_is_weak,
    hash_password,
    verify_password,
)


def legacy_scrypt(password: str) -> str:
    salt = b"0123456789abcdef"
    digest = hashlib.scrypt(password.encode(), salt=salt, n=2**14, r=8, p=1, dklen=32)
    return f"scrypt$16384$8$1${base64.b64encode(salt).decode()}${base64.b64encode(digest).decode()}"


def test_new_hashes_are_argon2id_at_owasp_minimum_and_verify() -> None:
    h = hash_password("mật-khẩu")
    assert h.startswith("$argon2id$v=19$m=19456,t=2,p=1$")
    assert verify_password("mật-khẩu", h) and not verify_password("mat-khau", h)
    assert hash_is_weak(h) is None
    assert hash_password("mật-khẩu") != h  # salted
    with pytest.raises(ValueError, match="empty"):
        hash_password("")


def test_legacy_and_weak_hashes_still_verify_but_are_named() -> None:
    old = legacy_scrypt("demo-1001")
    assert verify_password("demo-1001", old) and not verify_password("demo-1002", old)
    assert "legacy scrypt" in (hash_is_weak(old) or "")
    cheap = "$argon2id$v=19$m=1024,t=1,p=1$c2FsdHNhbHRzYWx0$2b3J3Nw4yRqFqjJ3S9h0QQ"
    assert "below OWASP" in (hash_is_weak(cheap) or "")
    assert hash_is_weak("plain-text") == "not a password hash from `tongdai hash-password`"
    for junk in ("garbage", "scrypt$x$y", "$argon2id$broken", ""):
        assert not verify_password("x", junk)


async def test_checker_works_off_the_loop_and_refuses_past_its_bound() -> None:
    checker = PasswordChecker(workers=2, max_waiting=4)
    h = hash_password("right")
    try:
        assert await checker.check("right", h) is True
        assert await checker.check("wrong", h) is False
        assert await checker.check("right", None) is False  # unknown id: same work, never true
        results = await asyncio.gather(*(checker.check("wrong", h) for _ in range(6)), return_exceptions=True)
        busy = [r for r in results if isinstance(r, LoginBusy)]
        assert len(busy) == 2 and results.count(False) == 4  # the first four queued, the rest refused
    finally:
        checker.close()


POLICY = LoginPolicy(agent_failures=5, ip_failures=8, backoff_after=3, lockout_seconds=300)


def test_backoff_then_lockout_per_agent() -> None:
    guard, t = LoginGuard(POLICY), 1000.0
    for i in range(3):
        assert guard.check("1001", "10.0.0.1", t + i).allowed
        assert guard.failed("1001", "10.0.0.1", t + i) == []
    # After the third failure: wait 1 s, then 2 s after the fourth.
    v = guard.check("1001", "10.0.0.1", t + 2.5)
    assert not v.allowed and v.retry_after == pytest.approx(0.5)
    assert guard.check("1001", "10.0.0.1", t + 3).allowed
    guard.failed("1001", "10.0.0.1", t + 3)
    assert not guard.check("1001", "10.0.0.1", t + 4.5).allowed
    assert guard.failed("1001", "10.0.0.1", t + 5) == ["agent:1001"]  # the fifth: locked
    v = guard.check("1001", "10.0.0.2", t + 6)  # from anywhere
    assert not v.allowed and v.retry_after == pytest.approx(299)
    assert guard.check("1002", "10.0.0.1", t + 6).allowed  # another agent at that address is not slowed
    assert guard.check("1001", "10.0.0.2", t + 305).allowed
    # A second lockout in the window lasts twice as long.
    for i in range(5):
        guard.failed("1001", "10.0.0.3", t + 400 + i * 40)
    assert guard.check("1001", "10.0.0.3", t + 560 + 599).allowed is False
    assert guard.check("1001", "10.0.0.3", t + 560 + 601).allowed


def test_address_spraying_many_ids_is_locked_and_success_does_not_clear_it() -> None:
    guard, t = LoginGuard(POLICY), 0.0
    locked: list[str] = []
    for i in range(8):
        locked += guard.failed(f"{2000 + i}", "203.0.113.9", t + i * 40)
    assert locked == ["ip:203.0.113.9"]
    assert not guard.check("1001", "203.0.113.9", t + 400).allowed
    guard.succeeded("1001", t + 400)
    assert not guard.check("1001", "203.0.113.9", t + 401).allowed
    assert guard.check("1001", "198.51.100.1", t + 401).allowed


def test_failures_age_out_of_the_window() -> None:
    guard = LoginGuard(POLICY)
    for i in range(4):
        guard.failed("1001", "10.0.0.1", i * 100.0)
    assert guard.check("1001", "10.0.0.1", 2000.0).allowed
    assert guard.failed("1001", "10.0.0.1", 2000.0) == []  # the old four are forgotten
