"""Discrete-event simulation of an outbound campaign: the real :class:`~campaigns.pacing.Pacer`
against a list of customers who answer with a given probability after a ring, talk for a lognormal
time and leave the agent in wrap-up.

Dial outcomes are drawn once per seed (:func:`draw_outcomes`), in dial order, so progressive and
predictive pacing meet the very same customers (common random numbers): the difference is the pacing.
An answered call that finds no ready agent is abandoned (the customer hears the message); everything
else is connected. Occupancy = agents' talk + wrap-up time over their logged-in time.
"""

from __future__ import annotations

import heapq
import math
import random
from dataclasses import dataclass

from campaigns.pacing import Pacer, PacingConfig, Snapshot


@dataclass(frozen=True)
class OutboundScenario:
    agents: int = 20
    hours: float = 4.0
    answer_rate: float = 0.35
    ring_answered: tuple[float, float] = (4.0, 20.0)  # seconds from dial to answer, uniform
    ring_unanswered: float = 25.0  # no answer: given up after this long
    mean_talk: float = 180.0
    talk_cv: float = 0.6
    wrapup: float = 20.0
    seed: int = 1


@dataclass(frozen=True)
class Outcome:
    answered: bool
    ring: float
    talk: float


def draw_outcomes(s: OutboundScenario, n: int) -> list[Outcome]:
    rng = random.Random(s.seed)
    sigma = math.sqrt(math.log(1 + s.talk_cv**2))
    mu = math.log(s.mean_talk) - sigma**2 / 2
    out = []
    for _ in range(n):
        answered = rng.random() < s.answer_rate
        ring = rng.uniform(*s.ring_answered) if answered else s.ring_unanswered
        out.append(Outcome(answered, ring, rng.lognormvariate(mu, sigma)))
    return out


@dataclass(frozen=True)
class OutboundResult:
    mode: str
    dials: int
    answered: int
    connected: int
    abandoned: int
    occupancy: float
    mean_agent_wait: float  # seconds an agent waited between calls, on average

    @property
    def abandon_rate(self) -> float:
        return self.abandoned / self.answered if self.answered else 0.0


_ANSWER, _FREE, _TICK = 0, 1, 2


def simulate_outbound(s: OutboundScenario, cfg: PacingConfig, outcomes: list[Outcome]) -> OutboundResult:
    end = s.hours * 3600.0
    pacer = Pacer(cfg)
    events: list[tuple[float, int, int]] = [(0.0, _TICK, 0)]
    free_at: dict[int, float] = {}  # busy agent → when free
    ready = list(range(s.agents))
    idle_since = dict.fromkeys(ready, 0.0)
    waits: list[float] = []
    ringing = dials = answered = connected = abandoned = 0
    busy_time = 0.0
    while events:
        t, kind, ident = heapq.heappop(events)
        if t > end:
            break
        if kind == _TICK:
            snap = Snapshot(len(ready), tuple(max(0.0, f - t) for f in free_at.values()), ringing)
            for _ in range(pacer.dials(snap)):
                if dials >= len(outcomes):
                    break
                heapq.heappush(events, (t + outcomes[dials].ring, _ANSWER, dials))
                dials += 1
                ringing += 1
            heapq.heappush(events, (t + 1.0, _TICK, 0))
        elif kind == _ANSWER:
            ringing -= 1
            o = outcomes[ident]
            pacer.record_dial_outcome(o.answered)
            if not o.answered:
                continue
            answered += 1
            if not ready:
                abandoned += 1
                pacer.record_answered(abandoned=True)
                continue
            agent = ready.pop(0)  # the agent idle longest
            waits.append(t - idle_since.pop(agent))
            hold = o.talk + s.wrapup
            busy_time += min(hold, end - t)
            free_at[agent] = t + hold
            connected += 1
            pacer.record_answered(abandoned=False)
            heapq.heappush(events, (t + hold, _FREE, agent))
        else:
            free_at.pop(ident, None)
            ready.append(ident)
            idle_since[ident] = t
    return OutboundResult(
        mode=cfg.mode,
        dials=dials,
        answered=answered,
        connected=connected,
        abandoned=abandoned,
        occupancy=busy_time / (s.agents * end),
        mean_agent_wait=sum(waits) / len(waits) if waits else 0.0,
    )
