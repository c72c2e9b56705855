"""How many calls a campaign dials now: progressive (one per ready agent) or predictive (ahead of the
agents, from the measured answer rate, held under an abandoned-call cap). Pure: no clock, no I/O.

Predictive pacing, as reasoned here (and measured by bench/bench_outbound_pacing.py):
- An agent is *available within the lookahead* if ready now or expected free (talk + wrap-up
  estimate) before a call placed now would be answered (``lookahead_seconds``, about the mean time
  from dial to answer).
- Each dial is answered by a person with probability ``p`` (measured: an EWMA of outcomes, seeded by a
  prior until ``min_samples`` outcomes are known; machines detected by AMD count as not answered).
- Dials are placed so the answers expected from calls already ringing plus new ones equal
  ``ratio ×`` the agents available within the lookahead: ``new = (ratio·available − p·ringing) / p``.
- ``ratio`` is the one control: a feedback loop lowers it quickly when the abandoned rate of the
  recent answered calls nears the cap and raises it slowly while it stays well below; over the whole
  campaign, pacing is progressive whenever one more abandon would put the abandoned rate past
  ``guard`` × cap (:meth:`Pacer.headroom`), until enough calls were connected; and the answers
  expected beyond the agents ready now never exceed the abandons still affordable under it — and
  while fewer than three are, not even if every ringing call is answered (what bounds a burst early
  in a campaign). Abandoned = answered
  by a person who found no agent within 2 s (they hear the message).
"""

from __future__ import annotations

import math
from collections import deque
from dataclasses import dataclass, field
from typing import Literal

Mode = Literal["preview", "progressive", "predictive"]


@dataclass(frozen=True)
class PacingConfig:
    mode: Mode = "progressive"
    abandon_cap: float = 0.03  # share of answered calls that may find no agent
    lookahead_seconds: float = 12.0
    prior_answer_rate: float = 0.3
    min_samples: int = 30  # outcomes before the measured answer rate is trusted
    max_dials_per_agent: float = 4.0  # never more ringing calls than this per available agent
    window: int = 100  # answered calls the feedback loop looks back over
    guard: float = 0.8  # campaign-wide abandoned rate (× cap) past which pacing turns progressive
    ratio_start: float = 0.85
    ratio_min: float = 0.5
    ratio_max: float = 1.4


@dataclass(frozen=True)
class Snapshot:
    ready: int  # agents ready and not reserved for a call in progress
    busy_free_at: tuple[float, ...]  # seconds until each busy agent is expected free (talk + wrap)
    ringing: int  # calls placed, not yet answered or failed
    waiting: int = 0  # answered persons waiting (at most 2 s) for an agent: each will take one
    lookahead: float | None = None  # measured seconds from dial to answer (None: the configured one)


@dataclass
class Pacer:
    """The campaign's pacing state: measured answer rate, recent abandons and the control ratio."""

    cfg: PacingConfig = field(default_factory=PacingConfig)
    outcomes: int = 0
    answer_rate: float = 0.0
    answered: int = 0
    abandoned: int = 0
    ratio: float = 0.0
    ahead: bool = False  # the last dials() dialled ahead (predictive), not progressively
    _recent: deque[bool] = field(default_factory=deque)

    def __post_init__(self) -> None:
        self.answer_rate = self.cfg.prior_answer_rate
        self.ratio = self.cfg.ratio_start

    @property
    def abandon_rate(self) -> float:
        return self.abandoned / self.answered if self.answered else 0.0

    def record_dial_outcome(self, answered_by_person: bool) -> None:
        """A dial ended ringing: answered by a person, or not (no answer, busy, machine, failed)."""
        self.outcomes += 1
        alpha = max(1.0 / self.outcomes, 0.02)  # a plain mean at first, then an EWMA of ~50 outcomes
        self.answer_rate += alpha * (float(answered_by_person) - self.answer_rate)

    def record_answered(self, *, abandoned: bool) -> None:
        """An answered call was connected to an agent, or abandoned (no agent within 2 s)."""
        self.answered += 1
        self.abandoned += abandoned
        self._recent.append(abandoned)
        if len(self._recent) > self.cfg.window:
            self._recent.popleft()
        recent = sum(self._recent) / len(self._recent)
        cap = self.cfg.abandon_cap
        if abandoned and recent > 0.6 * cap:
            self.ratio = max(self.cfg.ratio_min, self.ratio - 0.08)
        elif not abandoned and recent < 0.3 * cap and self.ahead:
            # Raised only while dialling ahead: calls connected progressively say nothing about how
            # far ahead is safe, and a ratio grown meanwhile would start predictive with a burst.
            self.ratio = min(self.cfg.ratio_max, self.ratio + 0.004)

    def headroom(self) -> bool:
        """Whether one more abandoned call now would still leave the campaign's rate under ``guard`` ×
        cap. Checked before dialling ahead, so early in a campaign (few answered calls, where one
        abandon weighs a lot) and after a bad patch it dials progressively until enough calls were
        connected: the cap is held over the campaign, not only on average."""
        return (self.abandoned + 1) / (self.answered + 1) <= self.cfg.guard * self.cfg.abandon_cap

    def dials(self, snap: Snapshot) -> int:
        """How many new calls to place now."""
        self.ahead = False
        if self.cfg.mode == "preview":
            return 0  # the agent clicks to dial
        progressive = max(0, snap.ready - snap.ringing - snap.waiting)
        if self.cfg.mode == "progressive" or self.outcomes < self.cfg.min_samples or not self.headroom():
            return progressive
        self.ahead = True
        lookahead = self.cfg.lookahead_seconds if snap.lookahead is None else snap.lookahead
        soon = sum(1 for t in snap.busy_free_at if t <= lookahead)
        available = snap.ready + soon - snap.waiting
        if available <= 0:
            return 0
        p = max(self.answer_rate, 0.02)
        wanted = (self.ratio * available - p * snap.ringing) / p
        ceiling = self.cfg.max_dials_per_agent * available - snap.ringing
        # The abandons the campaign can still afford under guard × cap: the answers expected beyond
        # the agents ready now stay within them (busy agents due soon are a bonus, not counted on).
        # Early in a campaign, where that budget is one or two calls, this is what bounds a burst.
        budget = self.cfg.guard * self.cfg.abandon_cap * (self.answered + 1) - self.abandoned
        afford = (budget + snap.ready - snap.waiting) / p - snap.ringing
        if budget < 3:
            # Two or three abandons away from the guard, expectation is not enough (on the sandbox a
            # budget of one still lost two at once): even if every call ringing is answered, at most
            # ``budget`` find no ready agent.
            afford = min(afford, math.floor(budget) + snap.ready - snap.waiting - snap.ringing)
        return max(0, min(math.floor(wanted), math.floor(ceiling), math.floor(afford)))
