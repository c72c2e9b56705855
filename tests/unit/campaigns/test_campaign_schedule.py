"""After a dial or a refusal: done, retried (when) or never again."""

from __future__ import annotations

import datetime as dt

from campaigns.rules import CallingRules
from campaigns.schedule import Next, after_dial, after_refusal, window_opens
from core.vietnam import VN_TZ

NOW = dt.datetime(2026, 12, 3, 10, 0, tzinfo=VN_TZ)
RETRY = {"no_answer": 30.0, "busy": 5.0}
ADS = CallingRules(purpose="advertising")


def test_outcomes_follow_the_retry_rules_until_attempts_run_out() -> None:
    assert after_dial("reached", 1, max_attempts=3, retry_minutes=RETRY, now=NOW) == Next("done")
    assert after_dial("busy", 1, max_attempts=3, retry_minutes=RETRY, now=NOW) == Next(
        "pending", NOW + dt.timedelta(minutes=5)
    )
    assert after_dial("no_answer", 3, max_attempts=3, retry_minutes=RETRY, now=NOW) == Next("exhausted")
    assert after_dial("wrong_number", 1, max_attempts=3, retry_minutes=RETRY, now=NOW) == Next("exhausted")
    assert after_dial("failed", 0, max_attempts=3, retry_minutes=RETRY, now=NOW).state == "pending"


def test_refusals_wait_for_what_the_rule_allows_or_end_the_contact() -> None:
    late = dt.datetime(2026, 12, 3, 17, 30, tzinfo=VN_TZ)
    tomorrow_8 = dt.datetime(2026, 12, 4, 8, 0, tzinfo=VN_TZ)
    assert after_refusal("outside_window", ADS, last_call_at=None, now=late) == Next("pending", tomorrow_8)
    early = dt.datetime(2026, 12, 3, 6, 0, tzinfo=VN_TZ)
    assert window_opens(ADS, early) == dt.datetime(2026, 12, 3, 8, 0, tzinfo=VN_TZ)
    for reason in ("dnc_national", "dnc_operator", "no_consent"):
        assert after_refusal(reason, ADS, last_call_at=None, now=NOW) == Next("refused")
    last = NOW - dt.timedelta(hours=2)
    assert after_refusal("frequency", ADS, last_call_at=last, now=NOW) == Next(
        "pending", last + dt.timedelta(hours=24)
    )
    assert after_refusal("max_attempts", ADS, last_call_at=None, now=NOW) == Next("pending", tomorrow_8)
