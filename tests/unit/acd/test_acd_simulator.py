"""Simulator: agreement with Erlang C, determinism, abandonment, skills and shifts, strict vs aging."""

from __future__ import annotations

import math
import time

import pytest

from acd import erlang
from acd.policy import DEFAULT_TIERS, AcdPolicyConfig, RoutingPolicy, StrictPriority, TierTarget
from acd.simulate_cli import build_scenario, compare
from acd.simulator import AgentSpec, CallStream, Scenario, SimCall, generate_calls, simulate, staff

FIFO = StrictPriority([TierTarget("single", 0, 20.0, 0.80)])


def test_single_fifo_queue_agrees_with_erlang_c() -> None:
    # 10 Erlangs (200 calls/h × 180 s) on 14 agents: Erlang C says SL(20 s) = 0.888, mean wait 7.8 s.
    # 1000 simulated hours (~200k calls) with a fixed seed; the first hour is warm-up.
    scenario = Scenario(
        streams=(CallStream("single", 200.0),),
        agents=staff(14),
        hours=1000,
        aht=180.0,
        seed=20240605,
        warmup_seconds=3600.0,
    )
    started = time.perf_counter()
    result = simulate(scenario, FIFO)
    elapsed = time.perf_counter() - started
    stats = result.tiers["single"]
    assert stats.offered > 190_000
    assert stats.abandoned == stats.unserved == 0
    sl_expected = erlang.service_level(10, 14, 180, 20)
    asa_expected = erlang.average_speed_of_answer(10, 14, 180)
    assert stats.service_level == pytest.approx(sl_expected, abs=0.02)
    assert stats.share_answered_within(20.0) == stats.service_level
    assert stats.asa == pytest.approx(asa_expected, rel=0.15)
    assert result.occupancy == pytest.approx(10 / 14, abs=0.01)
    assert elapsed < 20


def test_same_seed_same_day_and_streams_are_independent() -> None:
    sc = Scenario(
        streams=(CallStream("vip", 60.0), CallStream("standard", 300.0)), agents=staff(8), hours=2, seed=7
    )
    a = generate_calls(sc)
    assert a == generate_calls(sc)
    assert simulate(sc, RoutingPolicy(), a) == simulate(sc, RoutingPolicy(), a)
    assert generate_calls(Scenario(streams=sc.streams, agents=sc.agents, hours=2, seed=8)) != a
    # Adding a stream leaves the other streams' calls untouched (one generator per stream).
    more = Scenario(streams=(*sc.streams, CallStream("gold", 100.0)), agents=sc.agents, hours=2, seed=7)

    def key(calls: list[SimCall]) -> list[tuple[str, float, float]]:
        return [(c.tier, c.arrived_at, c.service_seconds) for c in calls if c.tier != "gold"]

    assert key(generate_calls(more)) == key(a)


def test_half_hour_profile_shapes_arrivals() -> None:
    sc = Scenario(streams=(CallStream("standard", (0.0, 3600.0, 0.0)),), agents=staff(1), hours=1.5, seed=3)
    calls = generate_calls(sc)
    assert all(1800.0 <= c.arrived_at < 3600.0 for c in calls)
    assert 1700 < len(calls) < 1900


def test_lognormal_service_mean_and_spread() -> None:
    sc = Scenario(
        streams=(CallStream("standard", 3600.0),),
        agents=staff(1),
        hours=10,
        aht=200,
        service="lognormal",
        service_cv=0.5,
    )
    s = [c.service_seconds for c in generate_calls(sc)]
    mean = sum(s) / len(s)
    sd = math.sqrt(sum((x - mean) ** 2 for x in s) / len(s))
    assert mean == pytest.approx(200, rel=0.03)
    assert sd / mean == pytest.approx(0.5, rel=0.05)


def test_abandonment_with_patience() -> None:
    # Overloaded (20 Erlangs on 15 agents) with a 60 s mean patience: many callers leave, and an
    # abandoned caller's wait is exactly its patience.
    sc = Scenario(
        streams=(CallStream("standard", 400.0, mean_patience=60.0),), agents=staff(15), hours=6, seed=11
    )
    calls = generate_calls(sc)
    r = simulate(sc, FIFO, calls)
    s = r.tiers["standard"]
    assert s.offered == s.answered + s.abandoned + s.unserved == len(calls)
    assert 0.15 < s.abandon_rate < 0.6
    assert s.worst_wait <= max(c.patience_seconds for c in calls) + 1e-9
    assert r.occupancy > 0.9
    infinite = simulate(
        Scenario(streams=(CallStream("standard", 100.0),), agents=staff(15), hours=2, seed=1), FIFO
    )
    assert infinite.tiers["standard"].abandoned == 0


def test_skills_route_only_to_qualified_agents() -> None:
    # One billing agent, one support agent; billing calls never reach the support agent even when it is idle.
    agents = (AgentSpec("bill", frozenset({"billing"})), AgentSpec("sup", frozenset({"support"})))
    calls = [
        SimCall("b1", "standard", 0.0, "billing", 0, 100.0),
        SimCall("b2", "standard", 1.0, "billing", 1, 100.0),
        SimCall("s1", "standard", 2.0, "support", 2, 10.0),
    ]
    sc = Scenario(streams=(), agents=agents, hours=1, seed=1)
    r = simulate(sc, RoutingPolicy(), calls)
    waits = sorted(r.tiers["standard"].answered_waits)
    assert waits == pytest.approx([0.0, 0.0, 99.0])  # b2 waited for the billing agent


def test_shifts_start_and_end() -> None:
    # The only agent works from t=100 to t=200: a call at t=0 waits 100 s; one at t=250 is never served.
    agents = (AgentSpec("a", frozenset({"default"}), shift_start=100.0, shift_end=200.0),)
    calls = [
        SimCall("c0", "standard", 0.0, "default", 0, 150.0),
        SimCall("c1", "standard", 250.0, "default", 1, 10.0),
    ]
    r = simulate(Scenario(streams=(), agents=agents, hours=1, seed=1), FIFO, calls)
    s = r.tiers["standard"]
    assert (s.answered, s.unserved) == (1, 1)
    assert s.answered_waits == (100.0,)
    assert r.end_time == 3600.0


def test_strict_starves_standard_and_aging_does_not() -> None:
    # One agent, 10 s calls; a gold caller arrives just before each call ends, for 10 minutes, so
    # gold alone keeps the agent busy. A standard caller arriving at the start waits out the whole
    # burst under strict priority; with aging it goes first once it has waited 56 s.
    calls = [SimCall("s", "standard", 0.5, "default", 0, 10.0)]
    calls += [SimCall(f"g{i}", "gold", max(0.0, i * 10.0 - 0.1), "default", i + 1, 10.0) for i in range(60)]
    calls.sort(key=lambda c: c.arrived_at)
    calls = [
        SimCall(c.call_id, c.tier, c.arrived_at, c.skill, i, c.service_seconds) for i, c in enumerate(calls)
    ]
    sc = Scenario(streams=(), agents=staff(1), hours=1, seed=1)
    strict = simulate(sc, StrictPriority(DEFAULT_TIERS), calls).tiers["standard"]
    aging = simulate(sc, RoutingPolicy(), calls).tiers["standard"]
    assert strict.worst_wait > 590
    assert aging.worst_wait == pytest.approx(59.5)  # the first call end after 56.5 s of waiting


def _busy_day(seed: int) -> Scenario:
    # 50 agents at 95 % offered load for 12 h, vip 20 % / gold 35 % / standard 45 %, no hang-ups.
    per_hour = 0.95 * 50 * 3600 / 180
    mix = {"vip": 0.20, "gold": 0.35, "standard": 0.45}
    return build_scenario(
        tiers=list(mix),
        rates={t: per_hour * m for t, m in mix.items()},
        patience={},
        agents=50,
        hours=12,
        aht=180,
        seed=seed,
    )


def test_aging_bounds_worst_wait_and_keeps_vip_target_at_high_load() -> None:
    cfg = AcdPolicyConfig()
    for seed in (1, 2, 3):
        strict, aging = compare(_busy_day(seed), [cfg.to_strict(), cfg.to_policy()])
        assert strict.occupancy > 0.93
        assert strict.occupancy == pytest.approx(aging.occupancy, rel=1e-3)  # same calls, work-conserving
        # Every tier's worst wait under aging stays well below standard's worst under strict...
        assert aging.overall.worst_wait < 0.85 * strict.tiers["standard"].worst_wait
        assert aging.tiers["standard"].p95_wait < 0.9 * strict.tiers["standard"].p95_wait
        # ...while VIP still meets its 90 % in 15 s.
        assert aging.tiers["vip"].service_level >= 0.90
        assert aging.tiers["vip"].meets_target
        # Same total wait (conservation): aging only moves it between tiers.
        assert aging.overall.mean_wait == pytest.approx(strict.overall.mean_wait, rel=0.01)


def test_busy_day_is_fast() -> None:
    started = time.perf_counter()
    r = simulate(_busy_day(4), RoutingPolicy())
    assert r.overall.offered > 10_000
    assert time.perf_counter() - started < 3
