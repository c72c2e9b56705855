"""Expected wait for a queued caller, and the ``announcements:`` section (position and expected wait).

Pure: no I/O, no clock. The estimator is the simplest one that the simulator says is honest enough
(``bench/bench_wait_estimate.py`` prints its error): with ``n`` agents serving the queue, each frees up
on average once per average handle time (AHT), so the caller at position ``k`` waits about

    expected_wait = k × AHT / n

AHT is a moving average of recent talk times (``observe``), seeded with ``default_aht_seconds`` so the
first callers of the day hear a sensible figure. Callers hear it rounded *up* to whole minutes (a
promise kept is better than one broken); with no agent logged in, only their position is announced.
"""

from __future__ import annotations

import math
from collections import deque

from pydantic import BaseModel, ConfigDict, Field


class AnnouncementsConfig(BaseModel):
    """config.yaml ``announcements:``: position / expected-wait messages to queued callers."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    enabled: bool = True
    first_after_seconds: float = Field(20, ge=5, le=3600)  # the first one, after this long in queue
    interval_seconds: float = Field(60, ge=10, le=3600)  # then every this long
    expected_wait: bool = True  # "about N minutes" after the position
    # ACD tiers that hear nothing (VIPs are answered first; telling them "you are number 1" is noise).
    spare_tiers: list[str] = Field(default_factory=lambda: ["vip"])
    default_aht_seconds: float = Field(180, gt=0, le=7200)
    aht_window: int = Field(50, ge=1, le=10000)  # talk times in the moving average
    max_announced_minutes: int = Field(60, ge=1, le=999)  # longer estimates are said as this many


class WaitEstimator:
    """Moving-average AHT and the position × AHT / agents estimate."""

    def __init__(self, default_aht: float = 180.0, window: int = 50) -> None:
        if default_aht <= 0 or window < 1:
            raise ValueError("default_aht must be > 0 and window >= 1")
        self._default = default_aht
        self._talk: deque[float] = deque(maxlen=window)

    def observe(self, talk_seconds: float) -> None:
        """One finished call's talk time (nonsense values are ignored, not averaged in)."""
        if math.isfinite(talk_seconds) and talk_seconds > 0:
            self._talk.append(talk_seconds)

    @property
    def aht(self) -> float:
        return sum(self._talk) / len(self._talk) if self._talk else self._default

    def expected_wait(self, position: int, agents: int) -> float | None:
        """Seconds until the caller at ``position`` (1 = next) is answered; None without agents."""
        return expected_wait(position, agents, self.aht)


def expected_wait(position: int, agents: int, aht: float) -> float | None:
    if agents < 1 or position < 1:
        return None
    return position * aht / agents


def announced_minutes(seconds: float, cap: int = 60) -> int:
    """Whole minutes as said to the caller: rounded up, at least 1, at most ``cap``."""
    return max(1, min(cap, math.ceil(seconds / 60)))
