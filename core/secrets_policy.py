"""Which configured secrets are fit for production, and strong new ones for a new deployment.

A secret is refused when it is a shipped demo value (or reads like one: "demo", "change-me",
"example"), shorter than its kind's minimum, or made of too few distinct characters. Minimums: the
session secret signs every agent's cookie, so 32 characters of at least 12 distinct symbols (what
``secrets.token_urlsafe(32)`` gives: 43 characters, 256 bits); AMI and SIP secrets 16 characters.
The server refuses to start with any problem unless it runs in demo mode on loopback only (the
composition root, ``tongdai/startup_checks.py``, walks the settings; this module only judges values).
Agents' password hashes are judged only against the shipped demo hashes: the password behind any other
hash cannot be known without guessing it, which costs an argon2id check each.
"""

from __future__ import annotations

import base64
import ipaddress
import os
import re
import secrets
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path

from core.errors import TongdaiError

# Every secret value a shipped file (config.yaml, tests, docs) holds: never acceptable in production.
SHIPPED_DEMO_VALUES = frozenset(
    {
        "demo-ami-secret-change-me",
        "demo-session-secret-change-me-please",
        "test-ami-secret",
    }
)
# The shipped config.yaml's agents' hashes (passwords demo-<id>): a test pins this set to that file.
SHIPPED_DEMO_PASSWORD_HASHES = frozenset(
    {
        "scrypt$16384$8$1$70ttPmxFY9+057H6OdLang==$25S5SzLAf9VrjqiDr1rqQhoVktaSJDzF7kNatBFsikk=",
        "scrypt$16384$8$1$ic2frFzQ+fCUNZcBEnoZaw==$AOidpHDTCNMOKm0OfaeKlcD4i/LTeVJMeDngSn1HwjA=",
        "scrypt$16384$8$1$VO8pk9hqjSPS3YcIpV477g==$4IXrNewVd6FFFvs0ItQlRnnLJ+moQYHJw9JYVgCc7c0=",
        "scrypt$16384$8$1$Q1ZYJsy/jKWlMjK1WubN8w==$aAera9eTkBzVNP70a5Fv6up3WUiU6Kv8GistdOxBrLo=",
    }
)
_DEMO_WORDS = re.compile(r"demo|change[-_ ]?me|example|secret123|password|test-", re.I)
MIN_LENGTH = {"session": 32, "ami": 16, "sip": 16, "token": 24}
MIN_DISTINCT = {"session": 12, "ami": 8, "sip": 8, "token": 10}
# A recordings key is 32 random bytes: fewer distinct bytes than this was typed, not generated
# (32 random bytes have about 30 distinct values; fewer than 16 happens with odds below 1e-12).
MIN_DISTINCT_KEY_BYTES = 16
_SHIPPED_MSG = "a shipped demo value: generate a real one with `tongdai secrets generate`"


class SecretsFileExists(TongdaiError, FileExistsError):
    error_id = "secrets.file_exists"


@dataclass(frozen=True)
class SecretProblem:
    path: str  # dotted config path, e.g. "web.session_secret"
    why: str

    def __str__(self) -> str:
        return f"{self.path}: {self.why}"


def weakness(value: str, kind: str) -> str | None:
    """Why ``value`` is not fit as a ``kind`` secret (session, ami, sip, token, recording_key,
    password_hash), or None."""
    if kind == "password_hash":
        if value in SHIPPED_DEMO_PASSWORD_HASHES:
            return "a shipped demo password hash (demo-<id>): set a new one with `tongdai hash-password`"
        return None
    if value in SHIPPED_DEMO_VALUES or _DEMO_WORDS.search(value):
        return _SHIPPED_MSG
    if kind == "recording_key":
        return _key_weakness(value)
    if len(value) < MIN_LENGTH[kind]:
        return f"shorter than {MIN_LENGTH[kind]} characters"
    if len(set(value)) < MIN_DISTINCT[kind]:
        return f"fewer than {MIN_DISTINCT[kind]} distinct characters: not random"
    return None


def demo_password(password: str, agent_id: str) -> bool:
    """True for a password that is the demo's (``demo-<id>``) or reads like one, however it was hashed:
    a re-hashed demo password has a hash nobody shipped, so it is caught where the password is known,
    at login, not in config."""
    return password == f"demo-{agent_id}" or bool(_DEMO_WORDS.search(password))


def _key_weakness(value: str) -> str | None:
    try:
        raw = base64.b64decode(value, validate=True)
    except ValueError:
        return "not base64 (make one with `tongdai recordings keygen`)"
    if len(set(raw)) < MIN_DISTINCT_KEY_BYTES:
        return f"fewer than {MIN_DISTINCT_KEY_BYTES} distinct bytes: not random (`tongdai recordings keygen`)"
    return None


def check(secrets_by_path: Iterable[tuple[str, str, str]]) -> list[SecretProblem]:
    """Problems of (dotted path, value, kind) triples, in the order given."""
    out: list[SecretProblem] = []
    for path, value, kind in secrets_by_path:
        why = weakness(value, kind)
        if why is not None:
            out.append(SecretProblem(path, why))
    return out


def loopback_only(host: str) -> bool:
    """Whether a bind address keeps the service on this machine (demo mode requires it)."""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def generate(sip_agent_indexes: Iterable[int] = (), *, ari: bool = False) -> dict[str, str]:
    """Strong secrets for a new deployment, keyed by the environment variable that sets each
    (``ari``: the softphones' ARI secret too, for a deployment with ``asterisk.webrtc``)."""
    values = {
        "TONGDAI__WEB__SESSION_SECRET": secrets.token_urlsafe(32),
        "TONGDAI__ASTERISK__AMI__SECRET": secrets.token_urlsafe(24),
        # The recordings key format (recordings/crypto.py): base64 of 32 random bytes.
        "TONGDAI__RECORDINGS__ENCRYPTION_KEY": base64.b64encode(secrets.token_bytes(32)).decode(),
    }
    if ari:
        values["TONGDAI__ASTERISK__WEBRTC__ARI_SECRET"] = secrets.token_urlsafe(24)
    for i in sip_agent_indexes:
        values[f"TONGDAI__AGENTS__{i}__SIP_SECRET"] = secrets.token_urlsafe(18)
    return values


def write_env_file(path: Path, values: Mapping[str, str], *, force: bool = False) -> None:
    """Write ``KEY=value`` lines readable by the owner only (systemd ``EnvironmentFile=``)."""
    if path.exists() and not force:
        raise SecretsFileExists(f"{path} exists: keep it, or pass --force to replace every secret in it")
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as f:
        f.writelines(f"{k}={v}\n" for k, v in values.items())
    os.chmod(path, 0o600)
