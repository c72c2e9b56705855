"""The IVR reads back the overdue debt and the date to pay it by, in Vietnamese and English number and
date forms; no debt and unknown debt each have their own sentence."""

from __future__ import annotations

import datetime as dt
from dataclasses import replace

import pytest
from pydantic import ValidationError

from ivr import numbers
from ivr.config import IvrConfig, SelfServiceNode
from ivr.machine import (
    CallInfo,
    Collect,
    CustomerFacts,
    Digits,
    IvrSession,
    LookupCustomer,
    LookupResult,
    Play,
    Played,
    debt_due_date,
)
from ivr.prompts import word_sounds
from tests.unit.ivr.test_ivr_machine import CALLER, CUSTOMER, OPEN

DEFAULT = IvrConfig.default()


def num(*slugs: str, lang: str = "vi") -> tuple[str, ...]:
    return tuple(f"tongdai/{lang}/num/{s}" for s in slugs)


def p(*ids: str, lang: str = "vi") -> tuple[str, ...]:
    return tuple(f"tongdai/{lang}/{i}" for i in ids)


@pytest.mark.parametrize(
    ("bill_month", "day", "due"),
    [
        (dt.date(2026, 2, 1), 20, dt.date(2026, 3, 20)),
        (dt.date(2026, 12, 1), 20, dt.date(2027, 1, 20)),  # December's bill falls due next year
        (dt.date(2027, 1, 1), 28, dt.date(2027, 2, 28)),  # the latest day every month has
        (dt.date(2026, 3, 1), 1, dt.date(2026, 4, 1)),
    ],
)
def test_debt_due_date(bill_month: dt.date, day: int, due: dt.date) -> None:
    assert debt_due_date(bill_month, day) == due


@pytest.mark.parametrize("day", [0, 29, 31])
def test_a_due_day_not_in_every_month_is_refused(day: int) -> None:
    with pytest.raises(ValidationError, match="debt_due_day"):
        SelfServiceNode.model_validate(
            {"type": "self_service", "what": "debt", "next": "main", "debt_due_day": day}
        )


def _billing_readback(customer: CustomerFacts, language_key: str | None = None) -> Play:
    """Welcome → language → identified by number → main menu 4 (billing) → 1 (bill and debt)."""
    s = IvrSession(DEFAULT, CallInfo(caller=CALLER, caller_name=None, dialled="18001090", now=OPEN))
    step = s.start()
    assert isinstance(step, Collect)
    step = s.feed(Digits(language_key))
    assert step == LookupCustomer("number", CALLER)
    step = s.feed(LookupResult(customer))
    assert isinstance(step, Collect)
    assert isinstance(s.feed(Digits("4")), Collect)
    step = s.feed(Digits("1"))
    assert isinstance(step, Play)
    assert isinstance(s.feed(Played()), Collect)  # back to the billing menu
    assert s.self_served == ["bill", "debt"]
    return step


BILL_VI = (
    p("ss_bill_intro")
    + num("thang1", "hai", "nam", "hai", "nghin2", "khong", "tram", "hai", "muoi", "sau1")
    + p("ss_bill_is")
    + num("mot5", "trieu5", "hai", "tram", "nam", "muoi", "nghin2", "dong2")
)


def test_overdue_debt_and_due_date_in_vietnamese() -> None:
    step = _billing_readback(replace(CUSTOMER, debt_vnd=120_000))  # bill of 02/2026: due 20/03/2026
    debt = num("mot5", "tram", "hai", "muoi", "nghin2", "dong2")
    due = num(
        "ngay2", "hai", "muoi", "thang1", "ba", "nam", "hai", "nghin2", "khong", "tram", "hai", "muoi", "sau1"
    )
    assert step == Play(BILL_VI + p("ss_debt_intro") + debt + p("ss_debt_due") + due)


def test_no_debt_and_unknown_debt_have_their_own_sentences() -> None:
    assert _billing_readback(replace(CUSTOMER, debt_vnd=0)) == Play(BILL_VI + p("ss_no_debt"))
    assert _billing_readback(replace(CUSTOMER, debt_vnd=None)) == Play(BILL_VI + p("ss_no_data"))


def test_overdue_debt_and_due_date_in_english() -> None:
    step = _billing_readback(replace(CUSTOMER, debt_vnd=120_000), language_key="2")
    debt = tuple(word_sounds(numbers.amount_vnd(120_000, "en")))
    due = tuple(word_sounds(numbers.date(dt.date(2026, 3, 20), "en")))
    assert due[0] == "tongdai/en/num/march" and "tongdai/en/num/twentieth" in due, due
    tail = p("ss_debt_intro", lang="en") + debt + p("ss_debt_due", lang="en") + due
    assert step.prompts[-len(tail) :] == tail
