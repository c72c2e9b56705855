"""Discrete-event simulation of a contact-center day, routed by the real policy objects.

Calls arrive as Poisson streams per tier and skill (the rate may change every half hour), need a
service time (exponential, or lognormal with a chosen spread), and abandon when their patience runs
out (exponential per stream, or never). Agents have skills and shifts; an agent who becomes free takes
the caller chosen by ``policy.pick_next`` — the same :class:`~acd.policy.RoutingPolicy` or
:class:`~acd.policy.StrictPriority` the live ACD uses. An arriving caller who finds free agents with the
skill goes to the one idle longest (app_queue's ``leastrecent``).

Calls are generated once (:func:`generate_calls`) so several policies can be run on the very same
arrivals, service times and patiences (common random numbers: differences come from the policy, not
from luck). Everything is deterministic for a given seed.

Speed: both policies rank callers of one tier FIFO (see :mod:`acd.policy`), so only the head of each
(skill, tier) queue is offered to ``pick_next``; abandoned callers are dropped lazily when they reach a
head. A day of 10k calls runs in a fraction of a second.
"""

from __future__ import annotations

import heapq
import math
import random
from collections import deque
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Literal

from acd.policy import AcdPolicy, WaitingCaller

SLOT_SECONDS = 1800.0  # arrival rates are given per half hour
DEFAULT_SKILL = "default"

_WAITING, _ANSWERED, _ABANDONED, _UNSERVED = 0, 1, 2, 3
# Event kinds; at equal times the lower kind runs first: shifts begin before calls arrive, calls finish
# (freeing agents) before a patience deadline is checked.
_SHIFT_START, _DEPART, _ABANDON, _ARRIVAL, _SHIFT_END = 0, 1, 2, 3, 4


@dataclass(frozen=True, slots=True)
class CallStream:
    """Poisson arrivals of one tier needing one skill.

    ``calls_per_hour`` is a constant rate, or one rate per half-hour slot from t=0 (cycled when the
    simulation is longer than the profile). ``mean_patience`` is the mean of an exponential patience in
    seconds (None: callers never hang up). ``aht`` overrides the scenario's mean handling time.
    """

    tier: str
    calls_per_hour: float | tuple[float, ...]
    skill: str = DEFAULT_SKILL
    mean_patience: float | None = None
    aht: float | None = None

    def rate_per_second(self, t: float) -> float:
        if isinstance(self.calls_per_hour, tuple):
            profile = self.calls_per_hour
            return profile[int(t // SLOT_SECONDS) % len(profile)] / 3600.0
        return self.calls_per_hour / 3600.0


@dataclass(frozen=True, slots=True)
class AgentSpec:
    """One agent: the skills served and the shift, in seconds from the start of the simulation. An
    agent whose shift ends mid-call finishes the call, then leaves."""

    name: str
    skills: frozenset[str] = frozenset({DEFAULT_SKILL})
    shift_start: float = 0.0
    shift_end: float = math.inf


def staff(
    count: int,
    *,
    skills: Iterable[str] = (DEFAULT_SKILL,),
    shift_start: float = 0.0,
    shift_end: float = math.inf,
    prefix: str = "agent",
) -> tuple[AgentSpec, ...]:
    """``count`` identical agents (names ``prefix-0``, ``prefix-1``, ...)."""
    sk = frozenset(skills)
    return tuple(AgentSpec(f"{prefix}-{i}", sk, shift_start, shift_end) for i in range(count))


@dataclass(frozen=True, slots=True)
class Scenario:
    """What to simulate. Arrivals happen in ``[0, hours)``; calls still queued after that are served
    by whoever is still on shift. Calls arriving before ``warmup_seconds`` are simulated but not
    counted, and occupancy is measured over ``[warmup_seconds, hours)``."""

    streams: tuple[CallStream, ...]
    agents: tuple[AgentSpec, ...]
    hours: float
    aht: float = 180.0
    service: Literal["exponential", "lognormal"] = "exponential"
    # Coefficient of variation of the lognormal service time (ignored for exponential, whose cv is 1).
    service_cv: float = 1.0
    warmup_seconds: float = 0.0
    seed: int = 1

    def __post_init__(self) -> None:
        if not self.hours > 0:
            raise ValueError("hours must be positive")
        if not self.aht > 0:
            raise ValueError("aht must be positive")
        if self.service_cv <= 0:
            raise ValueError("service_cv must be positive")
        for s in self.streams:
            rates = s.calls_per_hour if isinstance(s.calls_per_hour, tuple) else (s.calls_per_hour,)
            if not rates or any(not (r >= 0 and math.isfinite(r)) for r in rates):
                raise ValueError(f"stream {s.tier}/{s.skill}: rates must be finite and non-negative")
            if s.mean_patience is not None and not s.mean_patience > 0:
                raise ValueError(f"stream {s.tier}/{s.skill}: mean_patience must be positive or None")


@dataclass(frozen=True, slots=True)
class SimCall(WaitingCaller):
    """A generated call: what the policy sees (tier, arrival, skill) plus its fate's random draws."""

    index: int = 0
    service_seconds: float = 0.0
    patience_seconds: float = math.inf


def _service_time(rng: random.Random, aht: float, kind: str, cv: float) -> float:
    if kind == "lognormal":
        sigma2 = math.log1p(cv * cv)
        return rng.lognormvariate(math.log(aht) - sigma2 / 2.0, math.sqrt(sigma2))
    return rng.expovariate(1.0 / aht)


def generate_calls(scenario: Scenario) -> list[SimCall]:
    """All calls of the scenario, sorted by arrival. Each stream has its own random generator seeded
    from (seed, stream), so adding a stream does not reshuffle the others."""
    horizon = scenario.hours * 3600.0
    raw: list[tuple[float, int, str, str, float, float]] = []
    for si, stream in enumerate(scenario.streams):
        rng = random.Random(f"{scenario.seed}:{si}:{stream.tier}:{stream.skill}")
        aht = stream.aht if stream.aht is not None else scenario.aht
        t = 0.0
        while t < horizon:
            rate = stream.rate_per_second(t)
            slot_end = (math.floor(t / SLOT_SECONDS) + 1) * SLOT_SECONDS
            if rate <= 0:
                t = slot_end
                continue
            nxt = t + rng.expovariate(rate)
            if nxt >= slot_end:
                # Memoryless: restart the draw at the slot boundary with the next slot's rate.
                t = slot_end
                continue
            t = nxt
            if t >= horizon:
                break
            service = _service_time(rng, aht, scenario.service, scenario.service_cv)
            patience = rng.expovariate(1.0 / stream.mean_patience) if stream.mean_patience else math.inf
            raw.append((t, si, stream.tier, stream.skill, service, patience))
    raw.sort(key=lambda r: (r[0], r[1]))
    return [
        SimCall(f"{tier}-{i}", tier, t, skill, i, service, patience)
        for i, (t, _si, tier, skill, service, patience) in enumerate(raw)
    ]


@dataclass(frozen=True, slots=True)
class TierStats:
    """Outcome for one tier (or ``all``). Service level counts every offered call in the denominator:
    an abandoned or unserved call is a miss (the QCVN 36 reading: answered within 60 s ÷ calls that
    asked for an agent). Waits of abandoned callers count in worst and p95 wait: a caller who gave up
    after ten minutes waited ten minutes."""

    tier: str
    target_seconds: float
    target_ratio: float
    offered: int
    answered: int
    abandoned: int
    unserved: int
    answered_within_target: int
    service_level: float
    asa: float  # mean wait of answered calls
    mean_wait: float  # mean wait of all offered calls, to answer or to hang-up
    worst_wait: float
    p95_wait: float
    answered_waits: tuple[float, ...] = field(repr=False, default=())

    @property
    def abandon_rate(self) -> float:
        return self.abandoned / self.offered if self.offered else 0.0

    @property
    def meets_target(self) -> bool:
        return self.service_level >= self.target_ratio

    def share_answered_within(self, seconds: float) -> float:
        """Answered within ``seconds`` ÷ offered, for any threshold (e.g. Erlang C's SL(20 s))."""
        if not self.offered:
            return 0.0
        return sum(1 for w in self.answered_waits if w <= seconds) / self.offered


@dataclass(frozen=True, slots=True)
class SimResult:
    policy: str
    tiers: dict[str, TierStats]
    overall: TierStats
    occupancy: float  # busy ÷ staffed agent-seconds over [warmup, end of arrivals)
    end_time: float  # when the last call finished or left


def _percentile(sorted_values: Sequence[float], q: float) -> float:
    """Nearest-rank percentile (no interpolation: a reported p95 is a wait somebody actually had)."""
    if not sorted_values:
        return 0.0
    rank = max(1, math.ceil(q * len(sorted_values)))
    return sorted_values[rank - 1]


def _tier_stats(
    name: str,
    *,
    target_seconds: float,
    target_ratio: float,
    calls: Sequence[SimCall],
    status: Sequence[int],
    wait: Sequence[float],
    target_of: dict[str, float],
) -> TierStats:
    answered_waits = [wait[c.index] for c in calls if status[c.index] == _ANSWERED]
    all_waits = sorted(wait[c.index] for c in calls)
    within = sum(1 for c in calls if status[c.index] == _ANSWERED and wait[c.index] <= target_of[c.tier])
    offered = len(calls)
    return TierStats(
        tier=name,
        target_seconds=target_seconds,
        target_ratio=target_ratio,
        offered=offered,
        answered=len(answered_waits),
        abandoned=sum(1 for c in calls if status[c.index] == _ABANDONED),
        unserved=sum(1 for c in calls if status[c.index] == _UNSERVED),
        answered_within_target=within,
        service_level=within / offered if offered else 0.0,
        asa=sum(answered_waits) / len(answered_waits) if answered_waits else 0.0,
        mean_wait=sum(all_waits) / offered if offered else 0.0,
        worst_wait=all_waits[-1] if all_waits else 0.0,
        p95_wait=_percentile(all_waits, 0.95),
        answered_waits=tuple(answered_waits),
    )


def simulate(scenario: Scenario, policy: AcdPolicy, calls: Sequence[SimCall] | None = None) -> SimResult:
    """Run one day. Pass ``calls`` from :func:`generate_calls` to compare policies on the same calls."""
    if calls is None:
        calls = generate_calls(scenario)
    horizon = scenario.hours * 3600.0
    warmup = scenario.warmup_seconds
    agents = scenario.agents
    n_agents = len(agents)

    status = [_WAITING] * len(calls)
    wait = [0.0] * len(calls)

    heap: list[tuple[float, int, int, int]] = []
    seq = 0

    def push(t: float, kind: int, ident: int) -> None:
        nonlocal seq
        heapq.heappush(heap, (t, kind, seq, ident))
        seq += 1

    on_shift = [False] * n_agents
    busy = [False] * n_agents
    # Each time an agent goes idle it gets a new token; idle-heap entries with an old token are stale.
    token = [0] * n_agents
    idle: dict[str, list[tuple[float, int, int]]] = {}
    queues: dict[str, dict[str, deque[SimCall]]] = {}
    agent_skills = [tuple(sorted(a.skills)) for a in agents]

    busy_seconds = 0.0
    staffed_seconds = 0.0
    for ai, a in enumerate(agents):
        staffed_seconds += max(0.0, min(a.shift_end, horizon) - max(a.shift_start, warmup))
        push(max(0.0, a.shift_start), _SHIFT_START, ai)
        if math.isfinite(a.shift_end):
            push(a.shift_end, _SHIFT_END, ai)
    for c in calls:
        push(c.arrived_at, _ARRIVAL, c.index)

    def start(ai: int, c: SimCall, now: float) -> None:
        nonlocal busy_seconds
        busy[ai] = True
        token[ai] += 1
        status[c.index] = _ANSWERED
        wait[c.index] = now - c.arrived_at
        end = now + c.service_seconds
        busy_seconds += max(0.0, min(end, horizon) - max(now, warmup))
        push(end, _DEPART, ai)

    def serve_or_idle(ai: int, now: float) -> None:
        candidates: list[SimCall] = []
        for skill in agent_skills[ai]:
            by_tier = queues.get(skill)
            if not by_tier:
                continue
            for dq in by_tier.values():
                while dq and status[dq[0].index] != _WAITING:
                    dq.popleft()  # abandoned while queued
                if dq:
                    candidates.append(dq[0])
        chosen = policy.pick_next(candidates, now) if candidates else None
        if chosen is not None:
            dq = queues[chosen.skill][chosen.tier]
            if dq[0] is not chosen:  # the contract in acd.policy: the best of a tier is its head
                raise RuntimeError(f"policy {policy.name!r} picked a caller that is not a queue head")
            dq.popleft()
            start(ai, chosen, now)
            return
        token[ai] += 1
        for skill in agent_skills[ai]:
            heapq.heappush(idle.setdefault(skill, []), (now, ai, token[ai]))

    now = 0.0
    while heap:
        now, kind, _, ident = heapq.heappop(heap)
        if kind == _ARRIVAL:
            c = calls[ident]
            pool = idle.get(c.skill)
            while pool and token[pool[0][1]] != pool[0][2]:
                heapq.heappop(pool)
            if pool:
                _, ai, _ = heapq.heappop(pool)
                start(ai, c, now)
            else:
                queues.setdefault(c.skill, {}).setdefault(c.tier, deque()).append(c)
                if math.isfinite(c.patience_seconds):
                    push(now + c.patience_seconds, _ABANDON, ident)
        elif kind == _DEPART:
            busy[ident] = False
            if on_shift[ident]:
                serve_or_idle(ident, now)
        elif kind == _ABANDON:
            if status[ident] == _WAITING:
                status[ident] = _ABANDONED
                wait[ident] = calls[ident].patience_seconds
        elif kind == _SHIFT_START:
            if agents[ident].shift_end > now:
                on_shift[ident] = True
                if not busy[ident]:
                    serve_or_idle(ident, now)
        else:  # _SHIFT_END
            on_shift[ident] = False
            token[ident] += 1  # drops the agent from the idle pools
    end_time = max(now, horizon)
    for c in calls:
        if status[c.index] == _WAITING:  # nobody left on shift to take them
            status[c.index] = _UNSERVED
            wait[c.index] = end_time - c.arrived_at

    counted = [c for c in calls if c.arrived_at >= warmup]
    tier_names = [t.name for t in policy.tiers]
    tier_names += sorted({c.tier for c in counted} - set(tier_names))
    target_of = {name: policy.target(name).target_seconds for name in tier_names}
    per_tier: dict[str, list[SimCall]] = {name: [] for name in tier_names}
    for c in counted:
        per_tier[c.tier].append(c)
    tiers = {}
    for name in tier_names:
        t = policy.target(name)
        tiers[name] = _tier_stats(
            name,
            target_seconds=t.target_seconds,
            target_ratio=t.target_ratio,
            calls=per_tier[name],
            status=status,
            wait=wait,
            target_of=target_of,
        )
    overall = _tier_stats(
        "all",
        target_seconds=math.nan,
        target_ratio=math.nan,
        calls=counted,
        status=status,
        wait=wait,
        target_of=target_of,
    )
    return SimResult(
        policy=policy.name,
        tiers=tiers,
        overall=overall,
        occupancy=busy_seconds / staffed_seconds if staffed_seconds > 0 else 0.0,
        end_time=end_time,
    )
