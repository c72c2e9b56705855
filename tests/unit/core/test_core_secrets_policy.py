"""Shipped, short and low-variety secrets are named; generated ones pass; the env file is owner-only."""

from __future__ import annotations

import base64
import stat
from pathlib import Path

import pytest

from core import secrets_policy
from core.secrets_policy import SecretProblem, check, generate, loopback_only, weakness, write_env_file


@pytest.mark.parametrize(
    ("value", "kind", "why"),
    [
        ("demo-session-secret-change-me-please", "session", "demo"),
        ("demo-ami-secret-change-me", "ami", "demo"),
        ("x", "session", "shorter than 32"),
        ("a", "ami", "shorter than 16"),
        ("abababababababababababababababababab", "session", "distinct"),
        ("my-company-password-2026-xx", "ami", "demo"),
    ],
)
def test_weak_secrets_are_named(value: str, kind: str, why: str) -> None:
    assert why in (weakness(value, kind) or "")


def test_generated_secrets_pass_and_differ() -> None:
    a, b = generate([0, 3]), generate()
    assert set(a) == {
        "TONGDAI__WEB__SESSION_SECRET",
        "TONGDAI__ASTERISK__AMI__SECRET",
        "TONGDAI__RECORDINGS__ENCRYPTION_KEY",
        "TONGDAI__AGENTS__0__SIP_SECRET",
        "TONGDAI__AGENTS__3__SIP_SECRET",
    }
    assert weakness(a["TONGDAI__WEB__SESSION_SECRET"], "session") is None
    assert weakness(a["TONGDAI__ASTERISK__AMI__SECRET"], "ami") is None
    assert weakness(a["TONGDAI__AGENTS__3__SIP_SECRET"], "sip") is None
    assert a["TONGDAI__WEB__SESSION_SECRET"] != b["TONGDAI__WEB__SESSION_SECRET"]
    assert check(
        [
            ("web.session_secret", "x", "session"),
            ("asterisk.ami.secret", a["TONGDAI__ASTERISK__AMI__SECRET"], "ami"),
        ]
    ) == [SecretProblem("web.session_secret", "shorter than 32 characters")]


def test_env_file_is_owner_only_and_never_silently_replaced(tmp_path: Path) -> None:
    path = tmp_path / "etc" / "secrets.env"
    write_env_file(path, {"TONGDAI__WEB__SESSION_SECRET": "s" * 43})
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert path.read_text(encoding="utf-8") == f"TONGDAI__WEB__SESSION_SECRET={'s' * 43}\n"
    with pytest.raises(FileExistsError, match="--force"):
        write_env_file(path, {"A": "b"})
    write_env_file(path, {"A": "b"}, force=True)
    assert path.read_text(encoding="utf-8") == "A=b\n"


def test_loopback_only() -> None:
    assert loopback_only("127.0.0.1") and loopback_only("::1") and loopback_only("localhost")
    assert (
        not loopback_only("0.0.0.0") and not loopback_only("10.1.2.3") and not loopback_only("host.example")
    )
    assert "demo-ami-secret-change-me" in secrets_policy.SHIPPED_DEMO_VALUES


def test_recording_keys_and_password_hashes_are_judged_too() -> None:
    key = generate()["TONGDAI__RECORDINGS__ENCRYPTION_KEY"]
    assert weakness(key, "recording_key") is None
    typed = base64.b64encode(b"0123456789" * 3 + b"ab").decode()  # 32 bytes, 12 distinct: typed in
    assert "distinct bytes" in (weakness(typed, "recording_key") or "")
    shipped = next(iter(secrets_policy.SHIPPED_DEMO_PASSWORD_HASHES))
    assert "demo password hash" in (weakness(shipped, "password_hash") or "")
    # Any other hash: its password is unknown without guessing it (the login's job, not start-up's).
    assert weakness("$argon2id$v=19$m=19456,t=2,p=1$c2FsdA$aGFzaA", "password_hash") is None
