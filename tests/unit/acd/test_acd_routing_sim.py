"""The routing simulator (acd/routing_sim.py): the rules of acd/routing.py on tiny, readable days."""

from __future__ import annotations

from acd.policy import AcdPolicyConfig
from acd.routing_sim import (
    MixSpec,
    RCall,
    RoutingScenario,
    SkilledAgent,
    generate,
    mix_scenario,
    simulate_routing,
)

CFG = AcdPolicyConfig()
AGING, STRICT = CFG.to_policy(), CFG.to_strict()
AGENTS = (
    SkilledAgent("plain", {"mobile": 5, "internet": 1}),
    SkilledAgent("expert", {"internet": 5}),
    SkilledAgent("desk", {"internet": 5, "mobile": 5}, vip=True),
)


def scenario(**kw: object) -> RoutingScenario:
    return RoutingScenario((), AGENTS, hours=1, warmup_seconds=0, **kw)  # type: ignore[arg-type]


def call(i: int, tier: str, skill: str, at: float, service: float = 100.0, *, last: int = -1) -> RCall:
    return RCall(f"c{i}", tier, at, skill, i, service, last)


def test_an_internet_caller_goes_to_the_expert_a_vip_to_the_desk() -> None:
    calls = [call(0, "standard", "internet", 1.0), call(1, "vip", "internet", 2.0)]
    r = simulate_routing(scenario(), AGING, "configured", calls)
    assert r.tiers["standard"].top_level == 1.0 and r.tiers["standard"].worst_wait == 0.0
    assert r.tiers["vip"].worst_wait == 0.0  # the desk was free


def test_the_window_widens_to_a_junior_when_the_expert_is_busy() -> None:
    # expert busy from t=1; a second internet caller at t=2 waits for the window: plain (level 1) is
    # 4 levels down, reached at 4 × 3 s (and the all-open at 12 s), the desk never before 12 s either.
    calls = [call(0, "standard", "internet", 1.0, 500), call(1, "standard", "internet", 2.0, 10)]
    r = simulate_routing(scenario(), AGING, "configured", calls)
    assert r.tiers["standard"].worst_wait == 12.0
    strict = simulate_routing(scenario(), STRICT, "strict", calls)
    assert strict.tiers["standard"].worst_wait == 0.0  # one queue per skill, any level


def test_a_repeat_customer_gets_the_last_agent_when_free_else_anyone() -> None:
    calls = [call(0, "gold", "internet", 1.0, last=0)]  # the last agent is the plain one
    assert simulate_routing(scenario(), AGING, "configured", calls).tiers["gold"].sticky == 1.0
    assert simulate_routing(scenario(sticky=False), AGING, "configured", calls).tiers["gold"].sticky == 0.0
    busy = [call(0, "gold", "mobile", 1.0, 500), call(1, "gold", "internet", 2.0, last=0)]
    assert simulate_routing(scenario(), AGING, "configured", busy).tiers["gold"].sticky == 0.0


def test_overflow_share_counts_callers_still_waiting_at_the_limit() -> None:
    calls = [call(i, "standard", "mobile", 1.0 + i, 1000) for i in range(4)]
    r = simulate_routing(scenario(overflow_after_seconds=300), AGING, "configured", calls)
    assert r.tiers["standard"].overflowed == 0.25  # 3 agents (the desk after 12 s): the 4th waits ~1000 s


def test_the_95_percent_mix_is_reproducible_and_occupied_as_asked() -> None:
    sc = mix_scenario(MixSpec(hours=2, seed=3))
    calls = generate(sc)
    a = simulate_routing(sc, AGING, "configured", calls)
    b = simulate_routing(sc, AGING, "configured", calls)
    assert a == b
    assert 0.85 < a.occupancy < 1.0
    assert set(a.tiers) == {"vip", "gold", "standard"}
