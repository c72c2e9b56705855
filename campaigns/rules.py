"""Who a campaign may call, and when: Việt Nam's rules for advertising calls, enforced before dialling.

Decree 91/2020/ND-CP (in force since 2020-10-01) on advertising calls:
- only to recipients who consented beforehand (silence is not consent: Decree 13/2023 too);
- never to a number on the national Do-Not-Call register, nor on the operator's own list;
- at most one advertising call per recipient per 24 hours;
- only between 08:00 and 17:00 (Việt Nam time).
Each limit is configurable only *within* the law for advertising (a narrower window, a longer gap);
care campaigns (a telecom operator's service calls to its own customers, which are not advertising)
follow the operator's own window and daily attempt limit. Every refusal has a stable reason, counted
in the campaign's report.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Set
from dataclasses import dataclass
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from core.vietnam import VN_TZ

Purpose = Literal["care", "advertising"]
Refusal = Literal["no_consent", "dnc_national", "dnc_operator", "frequency", "outside_window", "max_attempts"]

LAW_EARLIEST, LAW_LATEST = dt.time(8, 0), dt.time(17, 0)
LAW_MIN_GAP_HOURS = 24.0

EXPLANATIONS: dict[Refusal, str] = {
    "no_consent": "advertising needs the recipient's prior consent (Decree 91/2020, art. 12)",
    "dnc_national": "number is on the national Do-Not-Call register",
    "dnc_operator": "number is on the operator's own do-not-call list",
    "frequency": "already called within the minimum gap (advertising: one call per 24 h)",
    "outside_window": "outside the calling window (advertising: 08:00-17:00 Việt Nam time)",
    "max_attempts": "the contact's attempts for today are used up",
}


class CallingRules(BaseModel):
    """A campaign's calling limits; for advertising, validation keeps them inside the law."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    purpose: Purpose
    window_start: dt.time = LAW_EARLIEST
    window_end: dt.time = LAW_LATEST
    min_gap_hours: float = Field(LAW_MIN_GAP_HOURS, ge=0)
    max_attempts_per_day: int = Field(3, ge=1, le=20)
    honour_operator_dnc: bool = True

    @model_validator(mode="after")
    def _within_the_law(self) -> CallingRules:
        if self.window_end <= self.window_start:
            raise ValueError("window_end must be after window_start (no window across midnight)")
        if self.purpose == "advertising":
            if self.window_start < LAW_EARLIEST or self.window_end > LAW_LATEST:
                raise ValueError(
                    "advertising calls are allowed only between 08:00 and 17:00 (Decree 91/2020)"
                )
            if self.min_gap_hours < LAW_MIN_GAP_HOURS:
                raise ValueError(
                    "advertising allows at most one call per recipient per 24 hours (Decree 91/2020)"
                )
            if not self.honour_operator_dnc:
                raise ValueError("advertising must honour the operator's do-not-call list")
        return self


@dataclass(frozen=True)
class Recipient:
    number: str  # E.164
    consent_marketing: bool
    last_call_at: dt.datetime | None  # the campaign purpose's last call to this number (any outcome)
    attempts_today: int = 0


@dataclass(frozen=True)
class DoNotCall:
    national: Set[str]
    operator: Set[str]


def refusal(rules: CallingRules, who: Recipient, dnc: DoNotCall, now: dt.datetime) -> Refusal | None:
    """Why this call may not be placed now, or None when it may. ``now`` must be timezone-aware."""
    if now.tzinfo is None:
        raise ValueError("refusal() needs a timezone-aware now")
    if who.number in dnc.national and rules.purpose == "advertising":
        return "dnc_national"
    if who.number in dnc.operator and rules.honour_operator_dnc:
        return "dnc_operator"
    if rules.purpose == "advertising" and not who.consent_marketing:
        return "no_consent"
    local = now.astimezone(VN_TZ).time()
    if not rules.window_start <= local < rules.window_end:
        return "outside_window"
    if who.last_call_at is not None and now - who.last_call_at < dt.timedelta(hours=rules.min_gap_hours):
        return "frequency"
    if who.attempts_today >= rules.max_attempts_per_day:
        return "max_attempts"
    return None
