"""Login throttling: per-agent backoff, then a temporary lockout of the agent id or the address.

Rules (pure; the clock is passed in): failures are counted per agent id and per source address over
``window_seconds``. From an agent id's ``backoff_after``-th failure on, its next attempt must wait 1 s,
2 s, 4 s … (at most ``max_backoff_seconds``); at ``agent_failures`` the id is locked for
``lockout_seconds``, doubled for each further lockout in the window (at most ``max_lockout_seconds``).
An address gets no backoff, only the lockout at ``ip_failures``, set high: a contact centre's hundreds
of agents often reach us from one office NAT address, and one agent's typos must not slow the others.
A refused attempt is not checked at all, so a locked account costs an attacker nothing to ask and us
nothing to answer. A success clears the agent's count, never the address's: one good password does
not launder a spraying address.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from core.errors import TongdaiError


class LoginLocked(TongdaiError):
    error_id = "auth.locked"

    def __init__(self, retry_after: float) -> None:
        super().__init__(f"too many failed logins: try again in {int(retry_after) + 1} s")
        self.retry_after = retry_after


@dataclass(frozen=True)
class LoginPolicy:
    agent_failures: int = 5
    ip_failures: int = 50
    window_seconds: float = 900.0
    backoff_after: int = 3
    max_backoff_seconds: float = 30.0
    lockout_seconds: float = 300.0
    max_lockout_seconds: float = 3600.0


@dataclass
class _Record:
    failures: list[float] = field(default_factory=list)
    locked_until: float = 0.0
    lockouts: int = 0


@dataclass(frozen=True)
class Verdict:
    allowed: bool
    retry_after: float = 0.0


class LoginGuard:
    """In-memory throttle for one node (each node guards its own logins)."""

    def __init__(self, policy: LoginPolicy | None = None) -> None:
        self.policy = policy or LoginPolicy()
        self._records: dict[str, _Record] = {}

    @staticmethod
    def keys(agent_id: str, address: str) -> tuple[str, str]:
        return f"agent:{agent_id}", f"ip:{address}"

    def _record(self, key: str, now: float) -> _Record:
        rec = self._records.setdefault(key, _Record())
        horizon = now - self.policy.window_seconds
        rec.failures = [t for t in rec.failures if t > horizon]
        if rec.lockouts and rec.locked_until <= horizon:  # a quiet window since the last lockout
            rec.lockouts = 0
        return rec

    def _wait(self, rec: _Record, now: float, *, backoff: bool) -> float:
        if rec.locked_until > now:
            return rec.locked_until - now
        if not backoff:
            return 0.0
        extra = len(rec.failures) - self.policy.backoff_after
        if extra < 0 or not rec.failures:
            return 0.0
        delay = min(2.0**extra, self.policy.max_backoff_seconds)
        return max(0.0, rec.failures[-1] + delay - now)

    def check(self, agent_id: str, address: str, now: float) -> Verdict:
        """May this attempt be checked now? If not, how long until it may."""
        agent_key, ip_key = self.keys(agent_id, address)
        wait = max(
            self._wait(self._record(agent_key, now), now, backoff=True),
            self._wait(self._record(ip_key, now), now, backoff=False),
        )
        return Verdict(wait <= 0, wait)

    def failed(self, agent_id: str, address: str, now: float) -> list[str]:
        """Count a failure; return the keys that this failure locked (for the audit log)."""
        locked: list[str] = []
        agent_key, ip_key = self.keys(agent_id, address)
        for key, limit in ((agent_key, self.policy.agent_failures), (ip_key, self.policy.ip_failures)):
            rec = self._record(key, now)
            rec.failures.append(now)
            if len(rec.failures) >= limit:
                span = self.policy.lockout_seconds * 2.0**rec.lockouts
                rec.locked_until = now + min(span, self.policy.max_lockout_seconds)
                rec.lockouts += 1
                rec.failures.clear()
                locked.append(key)
        self._prune(now)
        return locked

    def succeeded(self, agent_id: str, now: float) -> None:
        self._records.pop(self.keys(agent_id, "")[0], None)
        self._prune(now)

    def _prune(self, now: float) -> None:
        """Forget quiet keys so a spray of made-up ids cannot grow memory without bound."""
        if len(self._records) < 10_000:
            return
        horizon = now - self.policy.window_seconds
        for key in [
            k
            for k, r in self._records.items()
            if r.locked_until <= now and all(t <= horizon for t in r.failures)
        ]:
            del self._records[key]
