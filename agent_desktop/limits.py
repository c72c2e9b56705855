"""Counting limits without I/O: a token bucket (commands per connection) and a sliding window (lookups
per person). Each takes the clock as an argument, so tests move time instead of sleeping."""

from __future__ import annotations

from collections import deque


class TokenBucket:
    """``rate`` per second on average, bursts of up to ``burst``."""

    def __init__(self, rate: float, burst: float, now: float) -> None:
        self.rate, self.burst = rate, burst
        self._tokens, self._at = burst, now

    def take(self, now: float) -> bool:
        self._tokens = min(self.burst, self._tokens + (now - self._at) * self.rate)
        self._at = now
        if self._tokens < 1:
            return False
        self._tokens -= 1
        return True


class SlidingWindow:
    """At most ``limit`` events in any ``window`` seconds, per key."""

    def __init__(self, limit: int, window: float) -> None:
        self.limit, self.window = limit, window
        self._events: dict[str, deque[float]] = {}

    def allow(self, key: str, now: float) -> float:
        """Records one event; 0 when allowed, else the seconds until one is (nothing recorded)."""
        q = self._events.setdefault(key, deque())
        while q and q[0] <= now - self.window:
            q.popleft()
        if len(q) >= self.limit:
            return q[0] + self.window - now
        q.append(now)
        return 0.0
