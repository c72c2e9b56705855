"""Discrete-event simulation of skills, the VIP group, the sticky agent and overflow (acd/routing.py).

The same rules as the live routing, on the same calls for both policies compared:

* ``configured`` — tier priority with aging (:class:`~acd.policy.RoutingPolicy`), a caller offered
  only the agents at the top level of its skill first, one level more every ``widen_every_seconds``,
  every agent from ``all_after_seconds``; VIP tiers wait ``vip_first_seconds`` for the dedicated VIP
  agents (who take no other calls) before the pool; a repeat customer whose last agent is free at
  arrival goes to that agent (the sticky stage; a busy or absent agent is skipped at once, as
  joinempty does); ``overflow_after_seconds`` is when a caller would leave for the overflow queue;
* ``strict`` — what tongdai did before: strict tier priority, one queue per skill (every agent with
  the skill at any level, the VIP agents too), no sticky agent; at ``overflow_after_seconds`` the caller
  overflows to a queue every agent serves.

A call is *overflowed* when it is still waiting at ``overflow_after_seconds``. The simulator dispatches
exactly (an agent takes the best caller it may serve); app_queue adds head-of-line blocking within a
queue (docs/acd-policy.md), which this model leaves out.
"""

from __future__ import annotations

import heapq
import math
import random
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from typing import Literal

from acd.policy import AcdPolicy, WaitingCaller
from acd.routing import MAX_LEVEL

Mode = Literal["configured", "strict"]
_ARRIVE, _DEPART, _WIDEN = 0, 1, 2


@dataclass(frozen=True, slots=True)
class SkilledAgent:
    name: str
    skills: dict[str, int]
    vip: bool = False  # of the dedicated VIP group


@dataclass(frozen=True, slots=True)
class SkillStream:
    tier: str
    skill: str
    calls_per_hour: float
    repeat_share: float = 0.0  # share of callers whose last agent (one with the skill) is known


@dataclass(frozen=True, slots=True)
class RoutingScenario:
    streams: tuple[SkillStream, ...]
    agents: tuple[SkilledAgent, ...]
    hours: float = 12.0
    aht: float = 180.0
    widen_every_seconds: float = 3.0
    all_after_seconds: float = 12.0
    vip_tiers: tuple[str, ...] = ("vip",)
    vip_first_seconds: float = 5.0
    # The VIP agents also take the pool's callers who have waited past all_after_seconds (False: only VIPs).
    vip_share_pool: bool = True
    sticky: bool = True
    overflow_after_seconds: float = 300.0
    warmup_seconds: float = 1800.0
    seed: int = 1


@dataclass(frozen=True, slots=True)
class RCall(WaitingCaller):
    index: int = 0
    service_seconds: float = 0.0
    last_agent: int = -1  # index into the scenario's agents, or -1


@dataclass(frozen=True, slots=True)
class RoutingTierStats:
    tier: str
    offered: int
    service_level: float  # answered within the tier's target ÷ offered
    worst_wait: float
    overflowed: float  # share still waiting at overflow_after_seconds
    top_level: float  # share answered by an agent at the top level of the call's skill
    sticky: float  # share answered by the customer's last agent


@dataclass(frozen=True, slots=True)
class RoutingResult:
    mode: Mode
    tiers: dict[str, RoutingTierStats]
    occupancy: float


def generate(scenario: RoutingScenario) -> list[RCall]:
    """The scenario's calls, sorted by arrival (common random numbers for both modes)."""
    horizon = scenario.hours * 3600.0
    raw: list[tuple[float, str, str, float, int]] = []
    for si, s in enumerate(scenario.streams):
        rng = random.Random(f"{scenario.seed}:{si}:{s.tier}:{s.skill}")
        skilled = [i for i, a in enumerate(scenario.agents) if s.skill in a.skills and not a.vip]
        t = 0.0
        rate = s.calls_per_hour / 3600.0
        while rate > 0:
            t += rng.expovariate(rate)
            if t >= horizon:
                break
            service = rng.expovariate(1.0 / scenario.aht)
            last = rng.choice(skilled) if skilled and rng.random() < s.repeat_share else -1
            raw.append((t, s.tier, s.skill, service, last))
    raw.sort(key=lambda r: r[0])
    return [
        RCall(f"{tier}-{i}", tier, t, skill, i, service, last)
        for i, (t, tier, skill, service, last) in enumerate(raw)
    ]


def _penalty(agent: SkilledAgent, skill: str) -> int:
    """The live plan's order within a queue: top level of the skill 0 … level 1 is 4; no skill 10."""
    level = agent.skills.get(skill)
    return MAX_LEVEL - level if level is not None else 2 * MAX_LEVEL


def simulate_routing(
    scenario: RoutingScenario, policy: AcdPolicy, mode: Mode, calls: Sequence[RCall] | None = None
) -> RoutingResult:
    calls = list(calls) if calls is not None else generate(scenario)
    agents = scenario.agents
    sc = scenario
    horizon = sc.hours * 3600.0
    has_vip = any(a.vip for a in agents)

    def eligible(c: RCall, ai: int, now: float) -> bool:
        a = agents[ai]
        w = now - c.arrived_at
        if mode == "strict":
            return c.skill in a.skills or w >= sc.overflow_after_seconds
        if c.tier in sc.vip_tiers and has_vip:  # the desk first, then any agent (no skill window)
            return a.vip or w >= sc.vip_first_seconds
        if a.vip and c.tier not in sc.vip_tiers and not sc.vip_share_pool:
            return False
        if w >= sc.all_after_seconds or w >= sc.overflow_after_seconds:
            return True
        if a.vip:
            return c.tier in sc.vip_tiers  # a VIP past the VIP stage: the desk still serves them
        return _penalty(a, c.skill) <= int(w // sc.widen_every_seconds)

    heap: list[tuple[float, int, int, int]] = []
    seq = 0

    def push(t: float, kind: int, ident: int) -> None:
        nonlocal seq
        heapq.heappush(heap, (t, kind, seq, ident))
        seq += 1

    idle_since: dict[int, float] = {ai: 0.0 for ai in range(len(agents))}
    waiting: dict[int, RCall] = {}
    wait = [math.nan] * len(calls)
    served_by = [-1] * len(calls)
    busy_seconds = 0.0

    def start(ai: int, c: RCall, now: float) -> None:
        nonlocal busy_seconds
        idle_since.pop(ai, None)
        waiting.pop(c.index, None)
        wait[c.index] = now - c.arrived_at
        served_by[c.index] = ai
        end = now + c.service_seconds
        busy_seconds += max(0.0, min(end, horizon) - max(now, sc.warmup_seconds))
        push(end, _DEPART, ai)

    def offer_idle(c: RCall, now: float) -> bool:
        """Give ``c`` to the best idle agent it may have now: lowest penalty, then idle longest."""
        best: tuple[int, float, int] | None = None
        for ai, since in idle_since.items():
            if eligible(c, ai, now):
                key = (_penalty(agents[ai], c.skill) if mode == "configured" else 0, since, ai)
                best = key if best is None or key < best else best
        if best is None:
            return False
        start(best[2], c, now)
        return True

    for c in calls:
        push(c.arrived_at, _ARRIVE, c.index)
    now = 0.0
    while heap:
        now, kind, _, ident = heapq.heappop(heap)
        if kind == _ARRIVE:
            c = calls[ident]
            if mode == "configured" and sc.sticky and c.last_agent in idle_since:
                start(c.last_agent, c, now)  # the sticky stage: the last agent is ready
                continue
            if offer_idle(c, now):
                continue
            waiting[c.index] = c
            for t in _widen_times(sc, mode):
                push(c.arrived_at + t, _WIDEN, c.index)
        elif kind == _WIDEN:
            c2 = waiting.get(ident)
            if c2 is not None:
                offer_idle(c2, now)
        else:  # an agent is free: the best caller it may serve, by the policy
            candidates = [c for c in waiting.values() if eligible(c, ident, now)]
            chosen = policy.pick_next(candidates, now) if candidates else None
            if chosen is not None:
                start(ident, chosen, now)
            else:
                idle_since[ident] = now
    staffed = len(agents) * max(0.0, horizon - sc.warmup_seconds)
    counted = [c for c in calls if c.arrived_at >= sc.warmup_seconds]
    tiers: dict[str, RoutingTierStats] = {}
    for name in [t.name for t in policy.tiers]:
        mine = [c for c in counted if c.tier == name]
        if not mine:
            continue
        target = policy.target(name).target_seconds
        n = len(mine)
        top = [c for c in mine if _top_level(agents, served_by[c.index], c.skill)]
        tiers[name] = RoutingTierStats(
            tier=name,
            offered=n,
            service_level=sum(1 for c in mine if wait[c.index] <= target) / n,
            worst_wait=max(wait[c.index] for c in mine),
            overflowed=sum(1 for c in mine if wait[c.index] >= sc.overflow_after_seconds) / n,
            top_level=len(top) / n,
            sticky=sum(1 for c in mine if c.last_agent >= 0 and served_by[c.index] == c.last_agent) / n,
        )
    return RoutingResult(mode, tiers, busy_seconds / staffed if staffed else 0.0)


def _widen_times(sc: RoutingScenario, mode: Mode) -> list[float]:
    if mode == "strict":
        return [sc.overflow_after_seconds]
    steps = [
        k * sc.widen_every_seconds
        for k in range(1, MAX_LEVEL)
        if k * sc.widen_every_seconds < sc.all_after_seconds
    ]
    return sorted({*steps, sc.all_after_seconds, sc.vip_first_seconds, sc.overflow_after_seconds})


def _top_level(agents: Sequence[SkilledAgent], ai: int, skill: str) -> bool:
    return ai >= 0 and agents[ai].skills.get(skill) == MAX_LEVEL


@dataclass(frozen=True, slots=True)
class MixSpec:
    """A ready-made scenario: ``agents`` agents (``vip_agents`` of them the VIP desk), three skills,
    each agent expert (5) in one and junior (2) in the next; arrivals sized for ``occupancy``."""

    agents: int = 30
    vip_agents: int = 2
    occupancy: float = 0.95
    tier_mix: dict[str, float] = field(default_factory=lambda: {"vip": 0.10, "gold": 0.30, "standard": 0.60})
    skill_mix: dict[str, float] = field(default_factory=lambda: {"internet": 0.4, "mobile": 0.4, "tv": 0.2})
    repeat_share: float = 0.3
    hours: float = 12.0
    aht: float = 180.0
    seed: int = 1


def mix_scenario(m: MixSpec) -> RoutingScenario:
    skills = list(m.skill_mix)
    agents: list[SkilledAgent] = [
        SkilledAgent(f"vip-{i}", dict.fromkeys(skills, MAX_LEVEL), vip=True) for i in range(m.vip_agents)
    ]
    # Experts in proportion to each skill's share of the calls; each also junior in the next skill.
    general = m.agents - m.vip_agents
    counts = {s: round(general * share) for s, share in m.skill_mix.items()}
    counts[skills[0]] += general - sum(counts.values())
    for si, s in enumerate(skills):
        nxt = skills[(si + 1) % len(skills)]
        agents += [SkilledAgent(f"{s}-{i}", {s: MAX_LEVEL, nxt: 2}) for i in range(counts[s])]
    total = m.occupancy * m.agents * 3600.0 / m.aht
    streams = tuple(
        SkillStream(t, s, total * ts * ss, m.repeat_share)
        for t, ts in m.tier_mix.items()
        for s, ss in m.skill_mix.items()
    )
    return RoutingScenario(streams, tuple(agents), hours=m.hours, aht=m.aht, seed=m.seed)


def compare_routing(
    spec: MixSpec, strict: AcdPolicy, configured: AcdPolicy, seeds: int = 1
) -> list[tuple[RoutingResult, RoutingResult]]:
    """(strict, configured) results of ``seeds`` days of ``spec`` (seed, seed + 1, …), same calls each."""
    out = []
    for k in range(seeds):
        sc = mix_scenario(replace(spec, seed=spec.seed + k))
        calls = generate(sc)
        out.append(
            (
                simulate_routing(sc, strict, "strict", calls),
                simulate_routing(sc, configured, "configured", calls),
            )
        )
    return out


def format_routing(pairs: Sequence[tuple[RoutingResult, RoutingResult]]) -> str:
    """Per tier and policy: SL, worst wait (the largest over the days), overflowed, top level, sticky."""
    n = len(pairs)
    lines = [
        f"occupancy strict {sum(s.occupancy for s, _ in pairs) / n:.1%}, "
        f"configured {sum(c.occupancy for _, c in pairs) / n:.1%} ({n} days; worst = largest)",
        f"{'tier':<9} {'policy':<11} {'SL':>6} {'worst':>7} {'overflow':>9} {'top lvl':>8} {'sticky':>7}",
    ]
    for tier in pairs[0][0].tiers:
        for i, mode in enumerate(("strict", "configured")):
            st = [p[i].tiers[tier] for p in pairs]
            lines.append(
                f"{tier:<9} {mode:<11} {sum(x.service_level for x in st) / n:>6.1%} "
                f"{max(x.worst_wait for x in st):>6.0f}s {sum(x.overflowed for x in st) / n:>9.2%} "
                f"{sum(x.top_level for x in st) / n:>8.1%} {sum(x.sticky for x in st) / n:>7.1%}"
            )
    return "\n".join(lines)
