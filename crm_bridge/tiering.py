"""Customer tiering: a pure function from billed revenue to a tier, with its reason.

VNPT's policy, as implemented with the defaults of :class:`~crm_bridge.config.TierRules`:

* The measure is the charged revenue per customer code (all its subscriptions summed), **excluding
  VAT** (the input is already before VAT), **excluding overdue debt** (debt carried from earlier bills
  is recorded apart and never added) and **excluding other carriers' VoIP revenue** billed on our
  lines (prefixes 171, 177, 178, 179; subtracted line by line, month by month, floored at 0).
* "Monthly" means the average over the last ``months`` (default 3) complete calendar months before the
  reference day; a month with no bill counts as 0. Comparisons are made on exact totals
  (``total >= threshold * months``) so no rounding can move a customer across a boundary.
* ``large`` if the monthly revenue ≥ 1,000,000 VND; ``sme`` if 400,000 ≤ revenue < 1,000,000.
* Otherwise ``other`` if the average per subscription per month of a service group falls in its band:
  fixed line + Gphone + internet together 100,000 ≤ avg < 400,000; postpaid mobile 200,000 ≤ avg <
  400,000 (the group average = the group's net revenue / its subscriptions / months).
* Otherwise ``standard``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date
from typing import Any, cast

from crm_bridge.config import TIERS, CareCard, Tier, TierRules

__all__ = [
    "FIXED_LIKE",
    "LineRevenue",
    "TierDecision",
    "care_card_for",
    "decide_tier",
    "is_other_carrier_voip",
    "loyalty_rank",
    "window_months",
]

FIXED_LIKE = frozenset({"fixed", "gphone", "internet"})
POSTPAID = "mobile_postpaid"


@dataclass(frozen=True)
class LineRevenue:
    """One subscription's bills inside the tier window (one entry per month; missing months = 0)."""

    service: str
    charged_vnd: Sequence[int]  # before VAT, after discounts; includes other carriers' VoIP billed
    other_carrier_voip_vnd: Sequence[int] = ()
    overdue_debt_vnd: int = 0  # shown for context, never counted as revenue

    def net_total(self) -> int:
        voip = list(self.other_carrier_voip_vnd) + [0] * (
            len(self.charged_vnd) - len(self.other_carrier_voip_vnd)
        )
        return sum(max(0, c - v) for c, v in zip(self.charged_vnd, voip, strict=False))


@dataclass(frozen=True)
class TierDecision:
    """A tier with the rule that produced it and the figures it looked at."""

    tier: Tier
    rule: str
    inputs: dict[str, Any] = field(default_factory=dict)
    explanation_vi: str = ""
    explanation_en: str = ""

    def to_json(self) -> dict[str, Any]:
        return {
            "tier": self.tier,
            "rule": self.rule,
            "inputs": dict(self.inputs),
            "explanation_vi": self.explanation_vi,
            "explanation_en": self.explanation_en,
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> TierDecision:
        tier = data["tier"]
        if tier not in TIERS:
            raise ValueError(f"unknown tier {tier!r}")
        return cls(
            tier=cast(Tier, tier),
            rule=str(data["rule"]),
            inputs=dict(data.get("inputs", {})),
            explanation_vi=str(data.get("explanation_vi", "")),
            explanation_en=str(data.get("explanation_en", "")),
        )


def _vnd(amount: int) -> str:
    return f"{amount:,} VND"


def _vnd_vi(amount: int) -> str:
    """Vietnamese grouping for the Vietnamese text: 1.050.000 ₫."""
    return f"{amount:,}".replace(",", ".") + " ₫"


def decide_tier(lines: Sequence[LineRevenue], rules: TierRules | None = None) -> TierDecision:
    """Decide the tier of one customer from the bills of all its subscriptions in the window."""
    rules = rules or TierRules()
    m = rules.months
    for line in lines:
        if len(line.charged_vnd) > m or len(line.other_carrier_voip_vnd) > m:
            raise ValueError(f"a line has more than the {m} months of the tier window")
        if any(x < 0 for x in (*line.charged_vnd, *line.other_carrier_voip_vnd)):
            raise ValueError("revenue amounts cannot be negative")

    gross = sum(sum(line.charged_vnd) for line in lines)
    net = sum(line.net_total() for line in lines)
    fixed = [line for line in lines if line.service in FIXED_LIKE]
    postpaid = [line for line in lines if line.service == POSTPAID]
    fixed_net = sum(line.net_total() for line in fixed)
    post_net = sum(line.net_total() for line in postpaid)
    inputs: dict[str, Any] = {
        "months": m,
        "monthly_revenue_vnd": net // m,
        "excluded_voip_vnd_per_month": (gross - net) // m,
        "overdue_debt_vnd_not_counted": sum(line.overdue_debt_vnd for line in lines),
        "subscriptions": len(lines),
        "fixed_like_subscriptions": len(fixed),
        "fixed_like_avg_vnd": fixed_net // (len(fixed) * m) if fixed else 0,
        "postpaid_subscriptions": len(postpaid),
        "postpaid_avg_vnd": post_net // (len(postpaid) * m) if postpaid else 0,
    }
    monthly = inputs["monthly_revenue_vnd"]
    basis_en = (
        f"average charged revenue of the last {m} months (excl. VAT, overdue debt, other carriers' VoIP)"
    )
    basis_vi = f"doanh thu bình quân {m} tháng gần nhất (không gồm VAT, nợ đọng, VoIP của nhà mạng khác)"

    if net >= rules.large_min_vnd * m:
        return TierDecision(
            "large",
            f"monthly_revenue >= {rules.large_min_vnd}",
            inputs,
            f"Khách hàng lớn: {basis_vi} {_vnd_vi(monthly)} ≥ {_vnd_vi(rules.large_min_vnd)}",
            f"Large customer: {basis_en} {_vnd(monthly)} ≥ {_vnd(rules.large_min_vnd)}",
        )
    if net >= rules.sme_min_vnd * m:
        return TierDecision(
            "sme",
            f"{rules.sme_min_vnd} <= monthly_revenue < {rules.large_min_vnd}",
            inputs,
            f"Khách hàng vừa và nhỏ: {basis_vi} {_vnd_vi(monthly)}, từ {_vnd_vi(rules.sme_min_vnd)} "
            f"đến dưới {_vnd_vi(rules.large_min_vnd)}",
            f"SME customer: {basis_en} {_vnd(monthly)}, from {_vnd(rules.sme_min_vnd)} "
            f"to under {_vnd(rules.large_min_vnd)}",
        )
    top = rules.other_max_vnd
    if fixed and rules.fixed_like_min_vnd * len(fixed) * m <= fixed_net < top * len(fixed) * m:
        avg = inputs["fixed_like_avg_vnd"]
        return TierDecision(
            "other",
            f"{rules.fixed_like_min_vnd} <= fixed_like_avg_per_subscription < {top}",
            inputs,
            f"Khách hàng khác: bình quân {_vnd_vi(avg)}/thuê bao/tháng cho cố định, Gphone, internet "
            f"(từ {_vnd_vi(rules.fixed_like_min_vnd)} đến dưới {_vnd_vi(top)})",
            f"Other customer: average {_vnd(avg)} per subscription per month on fixed line, Gphone, "
            f"internet (from {_vnd(rules.fixed_like_min_vnd)} to under {_vnd(top)})",
        )
    if postpaid and rules.postpaid_min_vnd * len(postpaid) * m <= post_net < top * len(postpaid) * m:
        avg = inputs["postpaid_avg_vnd"]
        return TierDecision(
            "other",
            f"{rules.postpaid_min_vnd} <= postpaid_avg_per_subscription < {top}",
            inputs,
            f"Khách hàng khác: bình quân {_vnd_vi(avg)}/thuê bao/tháng di động trả sau "
            f"(từ {_vnd_vi(rules.postpaid_min_vnd)} đến dưới {_vnd_vi(top)})",
            f"Other customer: average {_vnd(avg)} per postpaid mobile subscription per month "
            f"(from {_vnd(rules.postpaid_min_vnd)} to under {_vnd(top)})",
        )
    return TierDecision(
        "standard",
        "no tier threshold reached",
        inputs,
        f"Khách hàng phổ thông: {basis_vi} {_vnd_vi(monthly)}, chưa đạt ngưỡng hạng nào",
        f"Standard customer: {basis_en} {_vnd(monthly)}, below every tier threshold",
    )


def care_card_for(tier: Tier, rules: TierRules | None = None, override: str | None = None) -> CareCard:
    """The care card an agent sees: the customer's manual override if set, else the tier's card."""
    rules = rules or TierRules()
    if override in ("red", "yellow", "green", "none"):
        return cast(CareCard, override)
    return rules.care_cards[tier]


def loyalty_rank(points: int, rules: TierRules | None = None) -> str:
    """The highest rank whose ``min_points`` the customer has reached ("" if below every rank)."""
    rules = rules or TierRules()
    rank = ""
    for r in rules.loyalty_ranks:
        if points >= r.min_points:
            rank = r.name
    return rank


def window_months(today: date, months: int) -> list[str]:
    """The ``months`` complete calendar months before ``today``, oldest first, as 'YYYY-MM'."""
    y, mo = today.year, today.month
    out: list[str] = []
    for _ in range(months):
        mo -= 1
        if mo == 0:
            y, mo = y - 1, 12
        out.append(f"{y:04d}-{mo:02d}")
    return out[::-1]


def is_other_carrier_voip(dialled: str, rules: TierRules | None = None) -> bool:
    """True if a dialled string uses another carrier's VoIP prefix (its revenue is not counted)."""
    rules = rules or TierRules()
    return any(dialled.startswith(p) for p in rules.voip_prefixes)
