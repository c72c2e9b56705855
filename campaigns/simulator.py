"""Discrete-event simulation of an outbound campaign: the real :class:`~campaigns.pacing.Pacer`
against a list of customers who answer with a given probability after a ring (some of the answers
are machines, told apart by AMD after a few seconds), talk for a lognormal time and leave the agent in
a lognormal wrap-up.

Dial outcomes are drawn once per seed (:func:`draw_outcomes`), in dial order, so progressive and
predictive pacing meet the very same customers (common random numbers): the difference is the pacing.
An answered person who finds no ready agent waits up to ``connect_seconds`` (2 s, as the dialplan
does) for one to come free; past that they are abandoned (they hear the message). Machines never
reach an agent and count as not answered. Occupancy = agents' talk + wrap-up time over their
logged-in time.
"""

from __future__ import annotations

import heapq
import math
import random
from collections import deque
from dataclasses import dataclass

from campaigns.pacing import Pacer, PacingConfig, Snapshot


@dataclass(frozen=True)
class OutboundScenario:
    agents: int = 20
    hours: float = 4.0
    answer_rate: float = 0.35  # share of dials answered (by a person or a machine)
    machine_rate: float = 0.0  # share of the answered calls that a machine answered
    amd_seconds: float = 3.0  # how long AMD listens before it calls a machine
    ring_answered: tuple[float, float] = (4.0, 20.0)  # seconds from dial to answer, uniform
    ring_unanswered: float = 25.0  # no answer: given up after this long
    mean_talk: float = 180.0
    talk_cv: float = 0.6
    wrapup: float = 20.0  # mean wrap-up
    wrapup_cv: float = 0.0  # 0: every wrap-up lasts `wrapup`; else lognormal with this spread
    connect_seconds: float = 2.0  # how long an answered person waits for an agent
    seed: int = 1


@dataclass(frozen=True)
class Outcome:
    answered: bool
    ring: float
    talk: float
    wrapup: float = 0.0
    machine: bool = False


def _lognormal(rng: random.Random, mean: float, cv: float) -> float:
    if cv <= 0:
        return mean
    sigma = math.sqrt(math.log(1 + cv**2))
    return rng.lognormvariate(math.log(mean) - sigma**2 / 2, sigma)


def draw_outcomes(s: OutboundScenario, n: int) -> list[Outcome]:
    rng = random.Random(s.seed)
    out = []
    for _ in range(n):
        answered = rng.random() < s.answer_rate
        ring = rng.uniform(*s.ring_answered) if answered else s.ring_unanswered
        talk = _lognormal(rng, s.mean_talk, s.talk_cv)
        # Drawn whatever the outcome so a scenario without machines meets the same customers.
        machine = rng.random() < s.machine_rate
        wrapup = _lognormal(rng, s.wrapup, s.wrapup_cv)
        out.append(Outcome(answered, ring, talk, wrapup, answered and machine))
    return out


@dataclass(frozen=True)
class OutboundResult:
    mode: str
    dials: int
    answered: int  # by a person
    connected: int
    abandoned: int
    machines: int
    occupancy: float
    mean_agent_wait: float  # seconds an agent waited between calls, on average

    @property
    def abandon_rate(self) -> float:
        return self.abandoned / self.answered if self.answered else 0.0


_ANSWER, _FREE, _GIVEUP, _TICK = 0, 1, 2, 3


class _Run:
    """One simulated campaign: the event queue, the agents and the counts."""

    def __init__(self, s: OutboundScenario, cfg: PacingConfig, outcomes: list[Outcome]) -> None:
        self.s, self.outcomes, self.end = s, outcomes, s.hours * 3600.0
        self.pacer = Pacer(cfg)
        self.events: list[tuple[float, int, int]] = [(0.0, _TICK, 0)]
        self.free_at: dict[int, float] = {}  # busy agent → when free
        self.ready = list(range(s.agents))
        self.idle_since = dict.fromkeys(self.ready, 0.0)
        self.waiting: deque[int] = deque()  # answered persons waiting for an agent (dial index)
        self.waits: list[float] = []
        self.ringing = self.dials = self.answered = self.connected = self.abandoned = self.machines = 0
        self.busy_time = 0.0

    def run(self) -> None:
        handlers = {_TICK: self.tick, _ANSWER: self.answer, _GIVEUP: self.give_up, _FREE: self.free}
        while self.events:
            t, kind, ident = heapq.heappop(self.events)
            if t > self.end:
                break
            handlers[kind](t, ident)

    def tick(self, t: float, _: int) -> None:
        busy = tuple(max(0.0, f - t) for f in self.free_at.values())
        for _ in range(self.pacer.dials(Snapshot(len(self.ready), busy, self.ringing, len(self.waiting)))):
            if self.dials >= len(self.outcomes):
                break
            o = self.outcomes[self.dials]
            amd = self.s.amd_seconds if o.machine else 0.0
            heapq.heappush(self.events, (t + o.ring + amd, _ANSWER, self.dials))
            self.dials += 1
            self.ringing += 1
        heapq.heappush(self.events, (t + 1.0, _TICK, 0))

    def answer(self, t: float, ident: int) -> None:
        self.ringing -= 1
        o = self.outcomes[ident]
        self.pacer.record_dial_outcome(o.answered and not o.machine)
        self.machines += o.machine
        if not o.answered or o.machine:
            return
        self.answered += 1
        if self.ready:
            self.connect(t, ident)
        else:
            self.waiting.append(ident)
            heapq.heappush(self.events, (t + self.s.connect_seconds, _GIVEUP, ident))

    def give_up(self, _: float, ident: int) -> None:
        if ident in self.waiting:
            self.waiting.remove(ident)
            self.abandoned += 1
            self.pacer.record_answered(abandoned=True)

    def free(self, t: float, agent: int) -> None:
        self.free_at.pop(agent, None)
        self.ready.append(agent)
        self.idle_since[agent] = t
        if self.waiting:
            self.connect(t, self.waiting.popleft())

    def connect(self, t: float, ident: int) -> None:
        agent = self.ready.pop(0)  # the agent idle longest
        self.waits.append(t - self.idle_since.pop(agent))
        o = self.outcomes[ident]
        hold = o.talk + o.wrapup
        self.busy_time += min(hold, self.end - t)
        self.free_at[agent] = t + hold
        self.connected += 1
        self.pacer.record_answered(abandoned=False)
        heapq.heappush(self.events, (t + hold, _FREE, agent))


def simulate_outbound(s: OutboundScenario, cfg: PacingConfig, outcomes: list[Outcome]) -> OutboundResult:
    r = _Run(s, cfg, outcomes)
    r.run()
    return OutboundResult(
        mode=cfg.mode,
        dials=r.dials,
        answered=r.answered,
        connected=r.connected,
        abandoned=r.abandoned,
        machines=r.machines,
        occupancy=r.busy_time / (s.agents * r.end),
        mean_agent_wait=sum(r.waits) / len(r.waits) if r.waits else 0.0,
    )
