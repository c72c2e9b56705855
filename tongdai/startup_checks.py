"""What a node refuses to start with: shipped or weak secrets, and session cookies sent in clear.

Every secret of the complete settings is judged by ``core.secrets_policy`` under its dotted config path:
the session secret, the AMI secret, SIP phones' and trunks' secrets, the recordings key, integration
tokens and the agents' password hashes (the shipped demo ones). Demo mode (``demo: true``,
``TONGDAI__DEMO=1`` or ``tongdai demo``) accepts them, but only while every listener that trusts them
(the desktop, FastAGI) and the AMI link stay on loopback. ``web.secure_cookies`` is required whenever the
desktop listens beyond loopback, demo or not. ``Node.start()`` and ``tongdai check-config`` call
:func:`refuse_unsafe`, so both report the same problems, each by its config path.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping

from core.config import line_of
from core.errors import ConfigError
from core.passwords import hash_is_weak
from core.secrets_policy import SHIPPED_DEMO_PASSWORD_HASHES, SecretProblem, check, loopback_only
from tongdai.settings import Settings


class UnsafeSecrets(ConfigError):
    """Shipped or weak secrets outside loopback demo mode, or cookies without Secure off loopback."""

    error_id = "config.unsafe_secrets"


def _secrets(s: Settings) -> Iterator[tuple[str, str, str]]:
    """(dotted path, value, kind) of every secret the settings hold."""
    yield "web.session_secret", s.web.session_secret.get_secret_value(), "session"
    yield "asterisk.ami.secret", s.asterisk.ami.secret.get_secret_value(), "ami"
    if s.asterisk.webrtc is not None:
        yield "asterisk.webrtc.ari_secret", s.asterisk.webrtc.ari_secret.get_secret_value(), "ami"
    for i, a in enumerate(s.agents):
        yield f"agents.{i}.password_hash", a.password_hash.get_secret_value(), "password_hash"
        if a.phone == "pjsip" and a.sip_secret is not None:
            yield f"agents.{i}.sip_secret", a.sip_secret.get_secret_value(), "sip"
    for i, t in enumerate(s.trunks.carriers):
        if t.registration is not None:
            yield f"trunks.carriers.{i}.registration.secret", t.registration.secret.get_secret_value(), "sip"
    if s.recordings.encryption_key is not None:
        yield "recordings.encryption_key", s.recordings.encryption_key.get_secret_value(), "recording_key"
    for i, tok in enumerate(s.desktop.api_tokens):
        yield f"desktop.api_tokens.{i}.token", tok.token.get_secret_value(), "token"


def _exposed(s: Settings) -> list[tuple[str, str]]:
    """The (path, address) of each listener or link that is not on loopback."""
    where = (
        ("web.host", s.web.host),
        ("asterisk.agi.bind", s.asterisk.agi.bind),
        ("asterisk.ami.host", s.asterisk.ami.host),
    )
    return [(path, host) for path, host in where if not loopback_only(host)]


def unsafe_problems(s: Settings) -> list[SecretProblem]:
    """Every reason this node must not start, each named by its config path (empty: it may)."""
    out: list[SecretProblem] = []
    if not loopback_only(s.web.host) and not s.web.secure_cookies:
        out.append(
            SecretProblem(
                "web.secure_cookies",
                f"must be true when the desktop listens beyond loopback (web.host {s.web.host}): "
                "the session cookie would otherwise travel in clear",
            )
        )
    weak = check(_secrets(s))
    if not weak:
        return out
    exposed = _exposed(s)
    if s.demo and not exposed:
        return out  # loopback demo: nobody else can reach what these secrets guard
    if s.demo:
        for path, host in exposed:
            out.append(
                SecretProblem(
                    path, f"{host} is not loopback: demo mode accepts demo secrets on loopback only"
                )
            )
    else:
        out.append(
            SecretProblem(
                "demo",
                "not in demo mode, so every secret must be real (demo secrets are accepted only with "
                "`demo: true` or `tongdai demo`, and only on loopback)",
            )
        )
    return out + weak


def refuse_unsafe(
    s: Settings, source: str = "the configuration", key_lines: Mapping[str, int] | None = None
) -> None:
    """Raise :class:`UnsafeSecrets` naming every problem (with its line in the file when
    ``key_lines`` of it are given, :func:`core.config.key_lines`), so a node never starts with one."""
    problems = unsafe_problems(s)
    if problems:

        def where(path: str) -> str:
            line = line_of(key_lines, path) if key_lines else None
            return f" (line {line})" if line else ""

        lines = "\n".join(f"  {p.path}{where(p.path)}: {p.why}" for p in problems)
        raise UnsafeSecrets(
            f"{source}: refusing to start: {len(problems)} problem(s); write real secrets with "
            f"`tongdai secrets generate --out FILE` and load them as the service's environment\n{lines}"
        )


def hash_warnings(s: Settings) -> list[str]:
    """Password hashes that still verify but should be renewed (``tongdai hash-password``)."""
    out = []
    for i, a in enumerate(s.agents):
        value = a.password_hash.get_secret_value()
        why = None if value in SHIPPED_DEMO_PASSWORD_HASHES else hash_is_weak(value)  # named already
        if why is not None:
            out.append(f"agents.{i}.password_hash: {why}")
    return out
