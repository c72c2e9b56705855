"""Routing policy: tier order, wait aging relative to targets, unknown tiers, config validation."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from acd.policy import (
    DEFAULT_TIERS,
    PRIORITY_CEILING,
    AcdPolicy,
    AcdPolicyConfig,
    RoutingPolicy,
    StrictPriority,
    TierTarget,
    WaitingCaller,
)


def caller(call_id: str, tier: str, arrived_at: float) -> WaitingCaller:
    return WaitingCaller(call_id=call_id, tier=tier, arrived_at=arrived_at)


def picked(p: AcdPolicy, waiting: list[WaitingCaller], now: float) -> str:
    chosen = p.pick_next(waiting, now)
    assert chosen is not None
    return chosen.call_id


@pytest.fixture
def policy() -> RoutingPolicy:
    return AcdPolicyConfig().to_policy()


def test_default_tiers_and_qcvn_floor() -> None:
    cfg = AcdPolicyConfig()
    targets = {t.name: t for t in cfg.targets()}
    assert list(targets) == ["vip", "gold", "standard"]
    assert (targets["vip"].target_seconds, targets["vip"].target_ratio) == (15, 0.90)
    assert (targets["gold"].target_seconds, targets["gold"].target_ratio) == (30, 0.85)
    # QCVN 36:2022: at least 80 % answered within 60 s.
    assert (targets["standard"].target_seconds, targets["standard"].target_ratio) == (60, 0.80)
    assert targets["vip"].base_priority > targets["gold"].base_priority > targets["standard"].base_priority


def test_initial_priority_is_the_tier_base(policy: RoutingPolicy) -> None:
    assert policy.initial_priority("vip") == 300
    assert policy.initial_priority("gold") == 25
    assert policy.initial_priority("standard") == 10
    assert policy.effective_priority("gold", 0.0) == policy.initial_priority("gold")


@pytest.mark.parametrize(
    "make", [lambda: AcdPolicyConfig().to_policy(), lambda: AcdPolicyConfig().to_strict()]
)
def test_vip_first_among_equal_waits(make: object) -> None:
    p = make()  # type: ignore[operator]
    now = 1000.0
    for waited in (0.0, 5.0, 14.0, 60.0, 600.0):
        waiting = [
            caller("s", "standard", now - waited),
            caller("g", "gold", now - waited),
            caller("v", "vip", now - waited),
        ]
        assert picked(p, waiting, now) == "v"
        assert picked(p, waiting[:2], now) == "g"


def test_standard_past_target_beats_newly_arrived_gold(policy: RoutingPolicy) -> None:
    now = 500.0
    gold_new = caller("g", "gold", now)
    assert picked(policy, [caller("s", "standard", now - 61.0), gold_new], now) == "s"
    assert policy.effective_priority("standard", 60.0) > policy.effective_priority("gold", 0.0)
    # ...but not while it is well within its own target.
    assert picked(policy, [caller("s", "standard", now - 30.0), gold_new], now) == "g"


def test_strict_priority_never_lets_standard_overtake(policy: RoutingPolicy) -> None:
    strict = AcdPolicyConfig().to_strict()
    now = 10_000.0
    waiting = [caller("s", "standard", 0.0), caller("g", "gold", now)]
    assert picked(strict, waiting, now) == "g"
    assert picked(policy, waiting, now) == "s"


def test_vip_keeps_the_lead_for_minutes(policy: RoutingPolicy) -> None:
    now = 2000.0
    vip_new = caller("v", "vip", now)
    # A fresh VIP still goes before a standard caller who has waited 10 minutes...
    assert picked(policy, [caller("s", "standard", now - 600.0), vip_new], now) == "v"
    # ...but not before one who has waited 20: nobody waits forever.
    assert picked(policy, [caller("s", "standard", now - 1200.0), vip_new], now) == "s"


def test_aging_is_relative_to_the_tier_target(policy: RoutingPolicy) -> None:
    # Gain per full target waited is the same for every tier: VIP gains it in 15 s, standard in 60 s.
    assert (
        policy.effective_priority("vip", 15.0) - 300 == policy.effective_priority("standard", 60.0) - 10 == 16
    )
    assert policy.effective_priority("gold", 30.0) - 25 == 16


def test_priority_is_monotone_integer_and_capped(policy: RoutingPolicy) -> None:
    for tier in ("vip", "gold", "standard"):
        prev = -1
        for w in range(0, 20_000, 7):
            p = policy.effective_priority(tier, float(w))
            assert isinstance(p, int)
            assert prev <= p <= PRIORITY_CEILING
            prev = p
        assert policy.effective_priority(tier, 1e12) == PRIORITY_CEILING
        assert policy.effective_priority(tier, float("inf")) == PRIORITY_CEILING
    # A clock step backwards never drops a caller below its entry priority.
    assert policy.effective_priority("gold", -30.0) == 25


def test_ties_go_to_the_longest_waiting(policy: RoutingPolicy) -> None:
    now = 100.0
    # Saturated callers all sit at the ceiling: order among them is by wait.
    a = caller("a", "vip", now - 5000.0)
    b = caller("b", "standard", now - 9000.0)
    assert policy.effective_priority("vip", 5000.0) == policy.effective_priority("standard", 9000.0)
    assert picked(policy, [a, b], now) == "b"
    # Same tier: earlier arrival first, whatever the list order.
    x, y = caller("x", "gold", now - 3.0), caller("y", "gold", now - 3.5)
    assert picked(policy, [x, y], now) == "y"
    assert policy.pick_next([], now) is None


def test_unknown_tier_is_served_as_lowest_never_an_error(policy: RoutingPolicy) -> None:
    assert policy.initial_priority("platinum-typo") == policy.initial_priority("standard")
    assert policy.effective_priority("", 90.0) == policy.effective_priority("standard", 90.0)
    assert policy.target("nope").name == "standard"
    now = 50.0
    assert picked(policy, [caller("u", "nope", now - 1.0), caller("g", "gold", now)], now) == "g"
    strict = StrictPriority(DEFAULT_TIERS)
    assert strict.initial_priority("nope") == 10


def test_seconds_until_change_matches_effective_priority(policy: RoutingPolicy) -> None:
    for tier, waited in (("standard", 0.0), ("standard", 61.3), ("vip", 2.0), ("gold", 29.99)):
        dt = policy.seconds_until_change(tier, waited)
        assert dt is not None and dt >= 0
        before = policy.effective_priority(tier, waited)
        assert policy.effective_priority(tier, waited + dt + 1e-6) == before + 1
        if dt > 1e-3:
            assert policy.effective_priority(tier, waited + dt - 1e-3) == before
    assert policy.seconds_until_change("vip", 1e9) is None
    assert RoutingPolicy(DEFAULT_TIERS, aging_weight=0).seconds_until_change("vip", 1.0) is None


def test_policy_rejects_bad_tiers() -> None:
    with pytest.raises(ValueError, match="unique"):
        RoutingPolicy([TierTarget("a", 1, 10, 0.8), TierTarget("a", 2, 10, 0.8)])
    with pytest.raises(ValueError, match="target_seconds"):
        RoutingPolicy([TierTarget("a", 1, 0, 0.8)])
    with pytest.raises(ValueError, match="base_priority"):
        RoutingPolicy([TierTarget("a", 5000, 10, 0.8)])
    with pytest.raises(ValueError, match="at least one"):
        StrictPriority([])


def test_config_validation_and_round_trip() -> None:
    cfg = AcdPolicyConfig.model_validate(
        {
            "aging_weight": 20,
            "tiers": [
                {"name": "vip", "base_priority": 200, "target_seconds": 10, "target_ratio": 0.95},
                {"name": "standard", "base_priority": 0, "target_seconds": 60, "target_ratio": 0.8},
            ],
        }
    )
    p = cfg.to_policy()
    assert p.aging_weight == 20
    assert p.effective_priority("standard", 60.0) == 20
    assert cfg.build().name == "aging"
    assert AcdPolicyConfig(policy="strict").build().name == "strict"
    with pytest.raises(ValidationError):
        AcdPolicyConfig.model_validate({"agingweight": 3})  # extra="forbid" catches typos
    with pytest.raises(ValidationError, match="unique"):
        AcdPolicyConfig.model_validate(
            {"tiers": [{"name": "a", "base_priority": 1, "target_seconds": 5, "target_ratio": 0.9}] * 2}
        )
    with pytest.raises(ValidationError):
        AcdPolicyConfig.model_validate(
            {"tiers": [{"name": "a", "base_priority": 1, "target_seconds": 5, "target_ratio": 1.5}]}
        )
    with pytest.raises(ValidationError, match="max_priority"):
        AcdPolicyConfig.model_validate(
            {
                "max_priority": 50,
                "tiers": [{"name": "a", "base_priority": 60, "target_seconds": 5, "target_ratio": 0.9}],
            }
        )
