"""The callback form's guard (signed token, timing, proof of work, single use), its window rule and the
message rule, with the clock passed in."""

from __future__ import annotations

import datetime as dt

import pytest

from ivr.hours import BusinessHours
from webchat.abuse import BadWork, FormExpired, FormGuard, FormRefused, FormTooFast, leading_zero_bits, solve
from webchat.callback_form import BadWindow, parse_window
from webchat.text import EmptyMessage, MessageTooLong, clean

VN = dt.timezone(dt.timedelta(hours=7))
T0 = 1_800_000_000.0


def guard(bits: int = 8) -> FormGuard:
    return FormGuard(b"k" * 32, bits, min_fill_seconds=2, ttl_seconds=600)


def test_zero_bits() -> None:
    assert leading_zero_bits(b"\x00\x0f") == 12
    assert leading_zero_bits(b"\x80") == 0
    assert leading_zero_bits(b"\x00\x00") == 16


def test_a_solved_form_is_accepted_once() -> None:
    g = guard()
    token = g.issue(T0)
    work = solve(token, 8)
    g.check(token, work, T0 + 5)
    with pytest.raises(FormRefused, match="already sent"):
        g.check(token, work, T0 + 6)


def test_forged_fast_stale_and_unworked_forms_are_refused() -> None:
    g = guard()
    token = g.issue(T0)
    work = solve(token, 8)
    issued, nonce, _bits, mac = token.split(".")
    with pytest.raises(FormRefused, match="not valid"):
        g.check(f"{issued}.{nonce}.0.{mac}", work, T0 + 5)  # bits lowered: the MAC no longer matches
    with pytest.raises(FormRefused, match="not valid"):
        guard().__class__(b"x" * 32, 8, 2, 600).check(token, work, T0 + 5)  # another node's key
    with pytest.raises(FormTooFast):
        g.check(token, work, T0 + 1)
    with pytest.raises(FormExpired):
        g.check(token, work, T0 + 601)
    wrong = next(str(n) for n in range(10_000) if str(n) != work and not _ok(token, str(n)))
    with pytest.raises(BadWork):
        g.check(token, wrong, T0 + 5)


def _ok(token: str, work: str) -> bool:
    from webchat.abuse import work_ok

    return work_ok(token, work, 8)


HOURS = BusinessHours(
    weekly={d: ["08:00-20:00"] for d in ("mon", "tue", "wed", "thu", "fri", "sat")}, country=None
)
MONDAY_10 = dt.datetime(2026, 12, 7, 10, 0, tzinfo=VN)  # a Monday


def test_window_inside_the_hours() -> None:
    w = parse_window("2026-12-07", "14:00", "16:00", hours=HOURS, now=MONDAY_10, max_days_ahead=7)
    assert w.start == dt.datetime(2026, 12, 7, 7, 0, tzinfo=dt.UTC)
    assert w.end == dt.datetime(2026, 12, 7, 9, 0, tzinfo=dt.UTC)
    begun = parse_window("2026-12-07", "09:00", "11:00", hours=HOURS, now=MONDAY_10, max_days_ahead=7)
    assert begun.start == MONDAY_10.astimezone(dt.UTC)  # a window already begun starts now


@pytest.mark.parametrize(
    ("day", "start", "end", "why"),
    [
        ("2026-12-07", "19:00", "21:00", "outside"),  # runs past closing
        ("2026-12-06", "09:00", "11:00", "already over"),  # yesterday (a Sunday)
        ("2026-12-13", "09:00", "11:00", "outside"),  # Sunday: closed
        ("2026-12-07", "11:00", "10:00", "end after"),
        ("2026-12-15", "09:00", "11:00", "days ahead"),
        ("07/12/2026", "09:00", "11:00", "like 2026"),
        ("2026-12-07", "9h", "11:00", "like 09:00"),
        ("2026-12-07", "24:00", "24:00", "midnight"),
    ],
)
def test_bad_windows(day: str, start: str, end: str, why: str) -> None:
    with pytest.raises(BadWindow, match=why):
        parse_window(day, start, end, hours=HOURS, now=MONDAY_10, max_days_ahead=7)


def test_midnight_ends_a_day() -> None:
    always = BusinessHours(weekly={"mon": ["00:00-24:00"]}, country=None)
    w = parse_window("2026-12-07", "00:00", "24:00", hours=always, now=MONDAY_10, max_days_ahead=0)
    assert w.end == dt.datetime(2026, 12, 8, 0, 0, tzinfo=VN)


def test_messages_are_text_within_a_size() -> None:
    assert clean("  <b>hi</b>\r\nthere\x00\x1b[31m  ", 100) == "<b>hi</b>\nthere[31m"
    assert clean("\u202eabc\u202c", 100) == "\u202eabc\u202c"  # bidi marks are kept (shown isolated)
    with pytest.raises(MessageTooLong):
        clean("ă" * 51, 100)  # 102 bytes
    for empty in ("", "   ", "\x00", None, 5):
        with pytest.raises(EmptyMessage):
            clean(empty, 100)
