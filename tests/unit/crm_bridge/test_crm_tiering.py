"""Tier boundaries, exclusions, care cards and loyalty ranks (VNPT defaults)."""

from __future__ import annotations

from datetime import date

import pytest
from pydantic import ValidationError

from crm_bridge.config import CrmConfig, LoyaltyRank, TierRules
from crm_bridge.tiering import (
    LineRevenue,
    care_card_for,
    decide_tier,
    is_other_carrier_voip,
    loyalty_rank,
    window_months,
)


def flat(service: str, monthly: int, months: int = 3, voip: int = 0, debt: int = 0) -> LineRevenue:
    return LineRevenue(service, [monthly + voip] * months, [voip] * months, debt)


@pytest.mark.parametrize(
    ("monthly", "tier"),
    [
        (399_999, "standard"),  # prepaid only: no per-subscription band applies
        (400_000, "sme"),
        (999_999, "sme"),
        (1_000_000, "large"),
        (25_000_000, "large"),
    ],
)
def test_customer_revenue_boundaries(monthly: int, tier: str) -> None:
    d = decide_tier([flat("mobile_prepaid", monthly)])
    assert d.tier == tier
    assert d.inputs["monthly_revenue_vnd"] == monthly


def test_revenue_is_summed_across_all_subscriptions_of_the_owner() -> None:
    lines = [flat("mobile_prepaid", 300_000), flat("internet", 400_000), flat("tv", 300_000)]
    d = decide_tier(lines)
    assert d.tier == "large" and d.inputs["monthly_revenue_vnd"] == 1_000_000


@pytest.mark.parametrize("service", ["fixed", "gphone", "internet"])
@pytest.mark.parametrize(("monthly", "tier"), [(99_999, "standard"), (100_000, "other"), (399_999, "other")])
def test_fixed_like_average_per_subscription(service: str, monthly: int, tier: str) -> None:
    d = decide_tier([flat(service, monthly)])
    assert d.tier == tier
    if tier == "other":
        assert d.inputs["fixed_like_avg_vnd"] == monthly
        assert "fixed_like_avg_per_subscription" in d.rule


@pytest.mark.parametrize(("monthly", "tier"), [(199_999, "standard"), (200_000, "other"), (399_999, "other")])
def test_postpaid_average_per_subscription(monthly: int, tier: str) -> None:
    assert decide_tier([flat("mobile_postpaid", monthly)]).tier == tier


def test_postpaid_band_does_not_apply_to_prepaid_or_tv() -> None:
    assert decide_tier([flat("mobile_prepaid", 300_000)]).tier == "standard"
    assert decide_tier([flat("tv", 300_000)]).tier == "standard"


def test_group_average_is_per_subscription() -> None:
    # Two internet lines: 150,000 + 40,000 = 95,000 average → below the band.
    assert decide_tier([flat("internet", 150_000), flat("internet", 40_000)]).tier == "standard"
    # 150,000 + 60,000 = 105,000 average → other; fixed, Gphone and internet form one group.
    d = decide_tier([flat("fixed", 150_000), flat("gphone", 60_000)])
    assert d.tier == "other" and d.inputs["fixed_like_avg_vnd"] == 105_000


def test_other_carrier_voip_revenue_is_excluded() -> None:
    # Billed 1,050,000 a month of which 100,000 is another carrier's VoIP (171/177/178/179).
    d = decide_tier([flat("mobile_postpaid", 950_000, voip=100_000)])
    assert d.tier == "sme"
    assert d.inputs["monthly_revenue_vnd"] == 950_000
    assert d.inputs["excluded_voip_vnd_per_month"] == 100_000
    # Fixed-line band: 110,000 billed, 20,000 of it VoIP → 90,000 counted → standard.
    assert decide_tier([flat("fixed", 90_000, voip=20_000)]).tier == "standard"


def test_overdue_debt_is_not_revenue() -> None:
    d = decide_tier([flat("mobile_postpaid", 399_999, debt=5_000_000)])
    assert d.tier == "other"  # not sme: the 5,000,000 debt adds nothing
    assert d.inputs["monthly_revenue_vnd"] == 399_999
    assert d.inputs["overdue_debt_vnd_not_counted"] == 5_000_000


def test_monthly_means_average_of_the_window_with_exact_comparison() -> None:
    # 3 months totalling 2,999,999: average 999,999.67 is below 1,000,000 → sme, never rounded up.
    d = decide_tier([LineRevenue("internet", [1_000_000, 1_000_000, 999_999])])
    assert d.tier == "sme"
    assert decide_tier([LineRevenue("internet", [1_000_000, 1_000_000, 1_000_000])]).tier == "large"
    # A month without a bill counts as 0: 1,500,000 + 1,500,000 + 0 → 1,000,000 average → large.
    assert decide_tier([LineRevenue("internet", [1_500_000, 1_500_000])]).tier == "large"
    assert decide_tier([LineRevenue("internet", [1_400_000, 1_500_000])]).tier == "sme"


def test_window_is_configurable() -> None:
    rules = TierRules(months=1)
    assert decide_tier([LineRevenue("internet", [1_000_000])], rules).tier == "large"
    with pytest.raises(ValueError, match="more than"):
        decide_tier([LineRevenue("internet", [1, 2])], rules)


def test_no_subscriptions_is_standard() -> None:
    d = decide_tier([])
    assert d.tier == "standard" and d.inputs["monthly_revenue_vnd"] == 0


def test_decision_carries_reason_in_both_languages() -> None:
    d = decide_tier([flat("mobile_postpaid", 1_200_000)])
    assert d.rule == "monthly_revenue >= 1000000"
    assert "1,200,000 VND" in d.explanation_en and "Large customer" in d.explanation_en
    assert "Khách hàng lớn" in d.explanation_vi and "không gồm VAT" in d.explanation_vi
    assert d.inputs["months"] == 3
    assert type(d).from_json(d.to_json()) == d


def test_custom_thresholds() -> None:
    rules = TierRules(large_min_vnd=2_000_000, sme_min_vnd=500_000)
    assert decide_tier([flat("mobile_prepaid", 1_000_000)], rules).tier == "sme"
    assert decide_tier([flat("mobile_prepaid", 450_000)], rules).tier == "standard"


def test_care_cards_default_and_override() -> None:
    assert [care_card_for(t) for t in ("large", "sme", "other", "standard")] == [
        "red",
        "yellow",
        "green",
        "none",
    ]
    rules = TierRules(care_cards={"large": "red", "sme": "red", "other": "yellow", "standard": "none"})
    assert care_card_for("sme", rules) == "red"
    assert care_card_for("standard", rules, override="green") == "green"


def test_loyalty_ranks_by_points() -> None:
    assert loyalty_rank(0) == "member"
    assert loyalty_rank(999) == "member"
    assert loyalty_rank(1_000) == "silver"
    assert loyalty_rank(20_000) == "diamond"
    rules = TierRules(loyalty_ranks=(LoyaltyRank(name="bac", min_points=100),))
    assert loyalty_rank(99, rules) == ""
    assert loyalty_rank(100, rules) == "bac"


def test_window_months() -> None:
    assert window_months(date(2026, 2, 10), 3) == ["2025-11", "2025-12", "2026-01"]
    assert window_months(date(2026, 1, 1), 1) == ["2025-12"]


def test_voip_prefixes() -> None:
    assert is_other_carrier_voip("1710084912345678")
    assert is_other_carrier_voip("179001")
    assert not is_other_carrier_voip("0912345678")


def test_config_defaults_and_validation() -> None:
    cfg = CrmConfig()
    assert cfg.tiers.large_min_vnd == 1_000_000 and cfg.tiers.months == 3
    assert CrmConfig.model_validate({"tiers": {"months": 6}}).tiers.months == 6
    with pytest.raises(ValidationError):
        CrmConfig.model_validate({"tiers": {"bogus": 1}})
    with pytest.raises(ValidationError, match="sme_min_vnd"):
        TierRules(sme_min_vnd=2_000_000)
    with pytest.raises(ValidationError, match="care_cards"):
        TierRules(care_cards={"large": "red"})
    with pytest.raises(ValidationError, match="increasing"):
        TierRules(loyalty_ranks=(LoyaltyRank(name="a", min_points=5), LoyaltyRank(name="b", min_points=1)))
    with pytest.raises(ValidationError, match="base_url"):
        CrmConfig.model_validate({"external": {"enabled": True}})
