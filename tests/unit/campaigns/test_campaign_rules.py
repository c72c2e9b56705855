"""Decree 91/2020's limits on advertising calls, enforced at their boundaries; care calls follow the
operator's own window; configuration cannot loosen the law for advertising."""

from __future__ import annotations

import datetime as dt

import pytest
from pydantic import ValidationError

from campaigns.rules import EXPLANATIONS, CallingRules, DoNotCall, Recipient, refusal
from core.vietnam import VN_TZ

AD = CallingRules(purpose="advertising")
CARE = CallingRules(purpose="care", window_start=dt.time(7, 0), window_end=dt.time(21, 0), min_gap_hours=0)
NONE = DoNotCall(frozenset(), frozenset())
NUM = "+84912345678"


def at(h: int, m: int = 0, s: int = 0) -> dt.datetime:
    return dt.datetime(2026, 12, 2, h, m, s, tzinfo=VN_TZ)


def who(consent: bool = True, last: dt.datetime | None = None, attempts: int = 0) -> Recipient:
    return Recipient(NUM, consent, last, attempts)


@pytest.mark.parametrize(
    ("now", "expected"),
    [
        (at(7, 59, 59), "outside_window"),
        (at(8, 0), None),
        (at(16, 59, 59), None),
        (at(17, 0), "outside_window"),
        (at(17, 30), "outside_window"),
        (dt.datetime(2026, 12, 2, 2, 0, tzinfo=dt.UTC), None),  # 09:00 in Việt Nam
        (dt.datetime(2026, 12, 2, 10, 0, tzinfo=dt.UTC), "outside_window"),  # 17:00 there
    ],
)
def test_advertising_window_is_eight_to_five_vietnam_time(now: dt.datetime, expected: str | None) -> None:
    assert refusal(AD, who(), NONE, now) == expected


def test_advertising_needs_consent_and_respects_both_dnc_lists() -> None:
    assert refusal(AD, who(consent=False), NONE, at(9)) == "no_consent"
    assert refusal(AD, who(), DoNotCall(frozenset({NUM}), frozenset()), at(9)) == "dnc_national"
    assert refusal(AD, who(), DoNotCall(frozenset(), frozenset({NUM})), at(9)) == "dnc_operator"
    # Care calls are not advertising: no consent flag needed, the national register does not apply …
    assert refusal(CARE, who(consent=False), DoNotCall(frozenset({NUM}), frozenset()), at(9)) is None
    # … but the operator's own list does.
    assert refusal(CARE, who(), DoNotCall(frozenset(), frozenset({NUM})), at(9)) == "dnc_operator"


def test_one_advertising_call_per_24_hours() -> None:
    yesterday = at(9) - dt.timedelta(hours=24)
    assert refusal(AD, who(last=yesterday + dt.timedelta(seconds=1)), NONE, at(9)) == "frequency"
    assert refusal(AD, who(last=yesterday), NONE, at(9)) is None
    assert refusal(CARE, who(last=at(8, 59)), NONE, at(9)) is None  # care: the operator's own gap
    assert refusal(CARE, who(attempts=3), NONE, at(9)) == "max_attempts"


def test_care_window_is_the_operators() -> None:
    assert refusal(CARE, who(), NONE, at(7, 0)) is None and refusal(CARE, who(), NONE, at(20, 59)) is None
    assert refusal(CARE, who(), NONE, at(21, 0)) == "outside_window"


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"window_start": dt.time(7, 30)}, "between 08:00 and 17:00"),
        ({"window_end": dt.time(18, 0)}, "between 08:00 and 17:00"),
        ({"min_gap_hours": 12}, "24 hours"),
        ({"honour_operator_dnc": False}, "do-not-call"),
        ({"window_start": dt.time(12), "window_end": dt.time(9)}, "after window_start"),
    ],
)
def test_advertising_limits_cannot_be_loosened(fields: dict[str, object], message: str) -> None:
    with pytest.raises(ValidationError, match=message):
        CallingRules(purpose="advertising", **fields)  # type: ignore[arg-type]
    narrower = CallingRules(purpose="advertising", window_start=dt.time(9), min_gap_hours=48)
    assert refusal(narrower, who(), NONE, at(8, 30)) == "outside_window"


def test_every_refusal_is_explained() -> None:
    assert set(EXPLANATIONS) == {"no_consent", "dnc_national", "dnc_operator", "frequency", "outside_window",
                                 "max_attempts"}  # fmt: skip
    with pytest.raises(ValueError, match="timezone-aware"):
        refusal(AD, who(), NONE, dt.datetime(2026, 12, 2, 9))
