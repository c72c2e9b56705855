"""What becomes of a contact after a dial or a refusal: done, tried again (when), or never again.
Pure: no clock, no I/O (``now`` is given, timezone-aware).

- ``reached`` (the customer answered) is final: the contact is ``done``.
- Any other outcome is retried after the campaign's ``retry_minutes[outcome]``, until ``max_attempts``
  dials were made; an outcome without a retry rule is final (``exhausted``).
- A refusal by a lasting rule (do-not-call, no consent) is final (``refused``); by a rule of time
  (outside the window, too soon, the day's attempts used) the contact waits for the moment the rule
  allows, and is checked again then.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass

from campaigns.rules import CallingRules, Refusal
from core.vietnam import VN_TZ

LASTING: frozenset[Refusal] = frozenset({"dnc_national", "dnc_operator", "no_consent"})


@dataclass(frozen=True)
class Next:
    state: str  # pending | done | exhausted | refused
    at: dt.datetime | None = None  # pending: not before this time


def after_dial(
    outcome: str, attempts: int, *, max_attempts: int, retry_minutes: Mapping[str, float], now: dt.datetime
) -> Next:
    """``attempts``: dials made so far, this one included."""
    if outcome == "reached":
        return Next("done")
    if outcome == "failed":  # not placed at all (no AMI link): not an attempt, tried again soon
        return Next("pending", now + dt.timedelta(minutes=1))
    minutes = retry_minutes.get(outcome)
    if minutes is None or attempts >= max_attempts:
        return Next("exhausted")
    return Next("pending", now + dt.timedelta(minutes=float(minutes)))


def window_opens(rules: CallingRules, now: dt.datetime) -> dt.datetime:
    """The next start of the calling window after ``now`` (Việt Nam days)."""
    local = now.astimezone(VN_TZ)
    today = dt.datetime.combine(local.date(), rules.window_start, tzinfo=VN_TZ)
    return today if local < today else today + dt.timedelta(days=1)


def after_refusal(
    reason: Refusal, rules: CallingRules, *, last_call_at: dt.datetime | None, now: dt.datetime
) -> Next:
    if reason in LASTING:
        return Next("refused")
    if reason == "frequency" and last_call_at is not None:
        return Next("pending", last_call_at + dt.timedelta(hours=rules.min_gap_hours))
    if reason == "max_attempts":  # the day's attempts: tomorrow's window
        local = now.astimezone(VN_TZ)
        tomorrow = dt.datetime.combine(local.date() + dt.timedelta(days=1), rules.window_start, tzinfo=VN_TZ)
        return Next("pending", tomorrow)
    return Next("pending", window_opens(rules, now))


# What an agent's disposition may do to its contact (a campaign's ``disposition_rules``): ``done``
# (the default: the contact is finished), ``callback`` (the customer asked to be called at a time the
# agent gives), or the outcome the call turns out to have been — ``wrong_number`` (the person who
# answered is not the customer), ``no_answer``, ``busy``, ``machine`` — which follows that outcome's
# retry rule like a dial with that outcome (no rule: final).
EFFECTS = ("done", "callback", "wrong_number", "no_answer", "busy", "machine")


def after_disposition(
    effect: str,
    attempts: int,
    *,
    max_attempts: int,
    retry_minutes: Mapping[str, float],
    now: dt.datetime,
    callback_at: dt.datetime | None = None,
) -> Next:
    """The contact's next step once an agent saved a disposition of this ``effect``. A callback the
    customer asked for is kept even past ``max_attempts`` (that cap is for calls nobody took)."""
    if effect == "done":
        return Next("done")
    if effect == "callback":
        if callback_at is None:
            raise ValueError("a callback needs the time to call back")
        return Next("pending", callback_at)
    return after_dial(effect, attempts, max_attempts=max_attempts, retry_minutes=retry_minutes, now=now)
