"""Rating: the 6 s + 1 s arithmetic, 1800 vs 1900, longest-prefix matching, time bands, holidays, VAT."""

from __future__ import annotations

import math
import random
from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from billing.rating import VN_TZ, CallToRate, RatedLine, Rater, UnratableCall, normalise_number
from billing.tariffs import BillingConfig, canonical_prefix

# A Monday, peak time, not a holiday.
DAY = datetime(2025, 3, 3, 10, 0, tzinfo=VN_TZ)


@pytest.fixture(scope="module")
def rater() -> Rater:
    return Rater(BillingConfig())


def call(
    callee: str = "0961234567",
    seconds: float = 61.2,
    *,
    start: datetime = DAY,
    answered: bool = True,
    direction: str = "outbound",
    caller: str = "02838123456",
    account: str = "",
) -> CallToRate:
    return CallToRate("c1", direction, caller, callee, start, seconds, answered, account)  # type: ignore[arg-type]


def plan_config(destinations: dict[str, Any], **plan: Any) -> BillingConfig:
    return BillingConfig.model_validate(
        {"plans": {"p": {"label": "P", "destinations": destinations, **plan}}, "default_plan": "p"}
    )


# --- 6 s + 1 s blocks ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("seconds", "billed", "blocks"),
    [
        (1, 6, 1),
        (5.999999, 6, 1),
        (6, 6, 1),
        (6.0001, 7, 2),
        (6.000001, 7, 2),  # one microsecond past the first block starts a second
        (7, 7, 2),
        (7.5, 8, 3),
        (60, 60, 55),
        (61, 61, 56),
        (61.2, 62, 57),
        (3600, 3600, 3595),
    ],
)
def test_first_block_6s_then_each_started_second(
    rater: Rater, seconds: float, billed: int, blocks: int
) -> None:
    line = rater.rate(call(seconds=seconds))
    assert (line.billed_seconds, line.blocks) == (billed, blocks)
    assert (line.first_block_seconds, line.next_block_seconds) == (6, 1)
    # Viettel's rule, written out independently: 6 if t <= 6 else 6 + ceil(t - 6).
    expected = 6 if seconds <= 6 else 6 + math.ceil(Decimal(str(seconds)) - 6)
    assert line.billed_seconds == expected


@pytest.mark.parametrize(("seconds", "answered"), [(0, True), (0.0, True), (0, False), (42.0, False)])
def test_zero_answered_or_unanswered_bills_nothing(rater: Rater, seconds: float, answered: bool) -> None:
    line = rater.rate(call(seconds=seconds, answered=answered))
    assert (line.billed_seconds, line.blocks, line.amount, line.vat, line.total) == (0, 0, 0, 0, 0)
    assert line.charged_party == "none"
    assert line.destination == "viettel"  # the destination is still recorded for the detail listing


def test_float_noise_below_a_microsecond_does_not_bill_an_extra_second(rater: Rater) -> None:
    t = 0.1 * 3 * 20
    assert t > 6  # 6.000000000000001: naive ceil(t - 6) would bill 7 s
    assert rater.rate(call(seconds=t)).billed_seconds == 6
    assert rater.rate(call(seconds=0.1 * 3 * 20 + 1)).billed_seconds == 7


def test_truncated_billsec_would_underbill(rater: Rater) -> None:
    # Asterisk's billsec says 61 for this call; the exact duration bills 62 s.
    assert rater.rate(call(seconds=61.2)).billed_seconds == 62
    assert rater.rate(call(seconds=61.0)).billed_seconds == 61


def test_amount_is_rate_times_billed_seconds_rounded_half_up(rater: Rater) -> None:
    line = rater.rate(call(seconds=61.2))  # Viettel 1,090 VND/min, 62 s → 1,126.333 VND
    assert line.rate_milli_per_minute == 1_090_000
    assert (line.amount, line.vat, line.total) == (1126, 113, 1239)
    assert line.charged_party == "caller"
    assert line.exact_us == 61_200_000


def test_explanation_tells_the_whole_story(rater: Rater) -> None:
    text = rater.rate(call(seconds=61.2)).explanation()
    assert text == (
        "call c1 2025-03-03 10:00:00 to 0961234567: 61.2 s → 6 s + 56 × 1 s = 62 s; "
        "Viettel mobile (prefix 8496) peak 1,090 VND/min × 62/60 min = 1,126.333 → 1,126 VND "
        "+ VAT 10% 113 = 1,239 VND, charged to the caller"
    )
    night = rater.rate(call(seconds=1, start=DAY.replace(hour=23))).explanation()
    assert "1 s → first block 6 s" in night
    assert "offpeak 70% of 1,090 = 763 VND/min × 6/60 min = 76.3 → 76 VND" in night
    assert "unanswered → 0 s billed" in rater.rate(call(answered=False)).explanation()


# --- 1800 vs 1900 ----------------------------------------------------------------------------------


def test_tollfree_1800_is_charged_to_the_operator(rater: Rater) -> None:
    line = rater.rate(call("18001090", 61))
    assert line.destination == "tollfree"
    assert line.prefix == "841800"
    assert line.charged_party == "operator"
    assert (line.billed_seconds, line.blocks) == (61, 56)  # 6 s + 1 s like any call
    assert line.amount == 1017  # 1,000 VND/min × 61/60 = 1,016.67, paid by the 1800 number's owner
    assert "charged to the operator (the caller pays 0)" in line.explanation()
    inbound = rater.rate(call("1800 1090", 61, direction="inbound", caller="0912345678"))
    assert (inbound.destination, inbound.charged_party, inbound.amount) == ("tollfree", "operator", 1017)
    assert inbound.account == "1800 1090"  # inbound lines belong to the number that was called


@pytest.mark.parametrize(
    ("seconds", "billed", "blocks"), [(1, 60, 1), (59, 60, 1), (60, 60, 1), (61, 120, 2)]
)
def test_premium_1900_is_charged_to_the_caller_per_minute_block(
    rater: Rater, seconds: float, billed: int, blocks: int
) -> None:
    line = rater.rate(call("19001091", seconds))
    assert line.destination == "premium"
    assert line.charged_party == "caller"
    assert (line.first_block_seconds, line.next_block_seconds) == (60, 60)
    assert (line.billed_seconds, line.blocks, line.amount) == (billed, blocks, 2000 * blocks)
    # Premium numbers are not discounted at night.
    night = rater.rate(call("19001091", seconds, start=DAY.replace(hour=23, minute=30)))
    assert (night.band, night.band_percent, night.amount) == ("offpeak", 100, 2000 * blocks)


def test_inbound_calls_to_ordinary_numbers_and_internal_calls_are_free(rater: Rater) -> None:
    line = rater.rate(call("02838123456", 300, direction="inbound", caller="0912345678"))
    assert (line.destination, line.charged_party, line.amount, line.billed_seconds) == (
        "inbound",
        "none",
        0,
        0,
    )
    assert line.exact_us == 300_000_000
    internal = rater.rate(call("1001", 300, direction="internal"))
    assert (internal.destination, internal.total) == ("internal", 0)
    assert rater.rate(call("s", 10, direction="inbound")).destination == "inbound"


# --- prefixes --------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("dialled", "destination", "prefix"),
    [
        ("0961234567", "viettel", "8496"),
        ("0321234567", "viettel", "8432"),
        ("0861234567", "viettel", "8486"),
        ("+84 912 345 678", "vinaphone", "8491"),
        ("0084812345678", "vinaphone", "8481"),
        ("84901234567", "mobifone", "8490"),
        ("0771234567", "mobifone", "8477"),
        ("0921234567", "vietnamobile", "8492"),
        ("0591234567", "gmobile", "8459"),
        ("02838123456", "local", "8428"),  # 028 (local) inside 02 (inter-province): longest wins
        ("38123456", "local", "8428"),  # local number dialled without the area code
        ("02438123456", "inter_province", "842"),
        ("02363123456", "inter_province", "842"),
        ("+8613812345678", "intl_china", "0086"),
        ("0012125551234", "intl_us_canada", "001"),
        ("+33142685300", "international", "00"),
        ("18001090", "tollfree", "841800"),
        ("19001091", "premium", "841900"),
        ("113", "emergency", "84113"),
    ],
)
def test_destination_by_longest_prefix(rater: Rater, dialled: str, destination: str, prefix: str) -> None:
    line = rater.rate(call(dialled, 30))
    assert (line.destination, line.prefix) == (destination, prefix)


def test_longest_prefix_wins_whatever_the_configured_order() -> None:
    dests = {
        "special": {"label": "Special", "prefixes": ["0961"], "rate_per_minute": 500},
        "mobile": {"label": "Mobile", "prefixes": ["09"], "rate_per_minute": 1000},
        "viettel": {"label": "Viettel", "prefixes": ["+8496"], "rate_per_minute": 1100},
        "long": {"label": "Long", "prefixes": ["0961234"], "rate_per_minute": 1},
    }
    r = Rater(plan_config(dests))
    got = {n: r.rate(call(n, 60)) for n in ["0961234567", "0961999999", "0969999999", "0979999999"]}
    assert {n: (x.destination, x.prefix, x.amount) for n, x in got.items()} == {
        "0961234567": ("long", "84961234", 1),
        "0961999999": ("special", "84961", 500),
        "0969999999": ("viettel", "8496", 1100),
        "0979999999": ("mobile", "849", 1000),
    }


def test_fast_lookup_agrees_with_a_brute_force_longest_match(rater: Rater) -> None:
    cfg = BillingConfig()
    prefixes = {
        canonical_prefix(p): name
        for name, d in cfg.plans["standard"].destinations.items()
        for p in d.prefixes
    }
    rnd = random.Random(3)
    heads = ["0", "00", "1", "+", "+84", "02", "09", "018", "019", "0084", "11"]
    for _ in range(20000):
        dialled = rnd.choice(heads) + "".join(rnd.choice("0123456789") for _ in range(rnd.randrange(0, 11)))
        number = normalise_number(dialled, "28")
        best = max((p for p in prefixes if number and number.startswith(p)), key=len, default=None)
        c = call(dialled, 10)
        if best is None:
            with pytest.raises(UnratableCall):
                rater.rate(c)
        else:
            line = rater.rate(c)
            assert (line.prefix, line.destination) == (best, prefixes[best]), dialled


def test_answered_call_with_no_tariff_is_refused_not_billed_zero(rater: Rater) -> None:
    with pytest.raises(UnratableCall) as err:
        rater.rate(call("0871234567", 30))  # 087 is not in the default plan
    assert err.value.error_id == "billing.unratable"
    assert "0871234567" in str(err.value)
    with pytest.raises(UnratableCall, match="is not a number"):
        rater.rate(call("=1+1", 30))
    unanswered = rater.rate(call("0871234567", 0, answered=False))
    assert (unanswered.destination, unanswered.total) == ("unmatched", 0)


def test_rate_many_keeps_order_and_collects_rejects(rater: Rater) -> None:
    calls = [call("0961234567", 10), call("0871234567", 10), call("19001091", 10)]
    with pytest.raises(UnratableCall):
        rater.rate_many(calls)
    rejects: list[tuple[CallToRate, UnratableCall]] = []
    lines = rater.rate_many(calls, rejects)
    assert [x.destination for x in lines] == ["viettel", "premium"]
    assert [(c.callee, type(e)) for c, e in rejects] == [("0871234567", UnratableCall)]


# --- number normalisation ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("dialled", "canonical"),
    [
        ("0912345678", "84912345678"),
        ("+84912345678", "84912345678"),
        ("0084912345678", "84912345678"),
        ("84912345678", "84912345678"),
        ("+84 (0) 912 345 678", "84912345678"),
        ("091-234.5678", "84912345678"),
        ("02838123456", "842838123456"),
        ("38123456", "842838123456"),
        ("3812345", "84283812345"),
        ("18001090", "8418001090"),
        ("1900 1091", "8419001091"),
        ("113", "84113"),
        ("+8613812345678", "008613812345678"),
        ("008613812345678", "008613812345678"),
        ("", ""),
        ("+", ""),
        ("*100#", ""),
        ("abc", ""),
        ("٠٩١٢٣٤٥٦٧٨", ""),  # Arabic-Indic digits are digits to Python, not to a switch
        ("912", ""),
    ],
)
def test_normalise_number(dialled: str, canonical: str) -> None:
    assert normalise_number(dialled, "28") == canonical


@pytest.mark.parametrize(
    "form", ["0961234567", "+84961234567", "0084961234567", "+8613812345678", "18001090"]
)
def test_numbers_and_prefixes_share_one_key_space(form: str) -> None:
    assert normalise_number(form, "28") == canonical_prefix(form)


# --- time bands and holidays -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("local", "band", "percent"),
    [
        ("22:59:59", "peak", 100),
        ("22:59:59.999999", "peak", 100),
        ("23:00:00", "offpeak", 70),  # start inclusive
        ("23:59:59", "offpeak", 70),
        ("00:00:00", "offpeak", 70),
        ("05:59:59.999999", "offpeak", 70),
        ("06:00:00", "peak", 100),  # end exclusive
        ("12:00:00", "peak", 100),
    ],
)
def test_offpeak_boundaries(rater: Rater, local: str, band: str, percent: int) -> None:
    start = datetime.fromisoformat(f"2025-03-03T{local}").replace(tzinfo=VN_TZ)
    # The same instant written in local time, in UTC, through zoneinfo and in another fixed zone.
    for tz in (VN_TZ, UTC, ZoneInfo("Asia/Ho_Chi_Minh"), timezone(timedelta(hours=-5))):
        line = rater.rate(call(seconds=60, start=start.astimezone(tz)))
        assert (line.band, line.band_percent, line.holiday) == (band, percent, False), tz
        assert line.amount == (1090 * percent + 50) // 100


def test_a_call_is_rated_in_the_band_it_started_in(rater: Rater) -> None:
    line = rater.rate(call(seconds=3600, start=DAY.replace(hour=22, minute=59, second=59)))
    assert (line.band, line.amount) == ("peak", 1090 * 60)


@pytest.mark.parametrize(
    ("start", "holiday", "band", "percent"),
    [
        (datetime(2025, 9, 2, 10, 0, tzinfo=VN_TZ), True, "holiday", 70),
        # Local midnight of 1 September (a day off) is still 31 August in UTC: the local date decides.
        (datetime(2025, 8, 31, 17, 0, tzinfo=UTC), True, "holiday", 70),
        (datetime(2025, 8, 31, 16, 59, 59, tzinfo=UTC), False, "offpeak", 70),
        # Local 3 September 00:00 is a working day, though UTC still says 2 September.
        (datetime(2025, 9, 2, 17, 0, tzinfo=UTC), False, "offpeak", 70),
        (datetime(2026, 1, 1, 12, 0, tzinfo=VN_TZ), True, "holiday", 70),  # New Year
        # The lunar holidays of any year, no list written: Hùng Kings' day 2025 and Tết 2028.
        (datetime(2025, 4, 7, 12, 0, tzinfo=VN_TZ), True, "holiday", 70),
        (datetime(2028, 1, 26, 12, 0, tzinfo=VN_TZ), True, "holiday", 70),
        (datetime(2028, 2, 7, 12, 0, tzinfo=VN_TZ), False, "peak", 100),
    ],
)
def test_holidays_in_local_time(
    rater: Rater, start: datetime, holiday: bool, band: str, percent: int
) -> None:
    line = rater.rate(call(seconds=60, start=start))
    assert (line.holiday, line.band, line.band_percent) == (holiday, band, percent)


def test_holiday_and_offpeak_do_not_stack_the_lower_wins() -> None:
    dests = {"m": {"label": "M", "prefixes": ["09"], "rate_per_minute": 1000}}
    night = {"name": "night", "start": "23:00", "end": "06:00", "percent": 70}
    cheap_holiday = Rater(
        plan_config(dests, time_bands=[night], holiday_percent=50).model_copy(
            update={"holidays": [datetime(2025, 4, 7).date()]}
        )
    )
    dear_holiday = Rater(
        plan_config(dests, time_bands=[night], holiday_percent=80).model_copy(
            update={"holidays": [datetime(2025, 4, 7).date()]}
        )
    )
    at_night = datetime(2025, 4, 7, 23, 30, tzinfo=VN_TZ)
    at_noon = datetime(2025, 4, 7, 12, 0, tzinfo=VN_TZ)
    got = [
        (x.band, x.band_percent, x.holiday, x.amount)
        for x in (
            cheap_holiday.rate(call("0912345678", 60, start=at_night)),
            dear_holiday.rate(call("0912345678", 60, start=at_night)),
            dear_holiday.rate(call("0912345678", 60, start=at_noon)),
        )
    ]
    assert got == [("holiday", 50, True, 500), ("night", 70, True, 700), ("holiday", 80, True, 800)]
    assert "night (holiday) 70%" in dear_holiday.rate(call("0912345678", 60, start=at_night)).explanation()


# --- VAT and rounding ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("rate", "seconds", "amount", "vat"),
    [
        ("50", 6, 5, 1),  # 5 VND: VAT 0.5 rounds half up to 1
        ("40", 6, 4, 0),  # VAT 0.4 → 0
        ("150", 6, 15, 2),  # VAT 1.5 → 2
        ("140", 6, 14, 1),
        ("1", 30, 1, 0),  # 0.5 VND → 1 (half up)
        ("1", 29, 0, 0),  # 0.483 VND → 0
        ("763.636", 60, 764, 76),  # 3 decimals of VND per minute are kept exactly
        ("0.001", 60, 0, 0),
    ],
)
def test_rounding_half_up_on_each_line(rate: str, seconds: float, amount: int, vat: int) -> None:
    r = Rater(plan_config({"m": {"label": "M", "prefixes": ["09"], "rate_per_minute": rate}}))
    line = r.rate(call("0912345678", seconds))
    assert (line.amount, line.vat, line.total) == (amount, vat, amount + vat)
    assert isinstance(line.amount, int) and isinstance(line.vat, int)


def test_vat_rate_is_configurable() -> None:
    cfg = plan_config({"m": {"label": "M", "prefixes": ["09"], "rate_per_minute": 1000}})
    r = Rater(cfg.model_copy(update={"vat_rate": Decimal("0.08")}))
    line = r.rate(call("0912345678", 60))
    assert (line.amount, line.vat_basis_points, line.vat, line.total) == (1000, 800, 80, 1080)
    assert "VAT 8% 80 = 1,080 VND" in line.explanation()


# --- plans and accounts -----------------------------------------------------------------------------


def mobile(rate: int) -> dict[str, Any]:
    return {"label": "M", "prefixes": ["09"], "rate_per_minute": rate}


def test_account_selects_its_plan() -> None:
    cfg = BillingConfig.model_validate(
        {
            "plans": {
                "standard": {"label": "S", "destinations": {"m": mobile(1000)}},
                "vip": {"label": "V", "destinations": {"m": mobile(600)}},
            },
            "accounts": {"acme": "vip", "02838000001": "vip"},
        }
    )  # fmt: skip
    r = Rater(cfg)
    assert r.rate(call("0912345678", 60)).amount == 1000
    assert (r.rate(call("0912345678", 60, account="acme")).plan_id, r.rate(call(account="acme")).account) == (
        "vip",
        "acme",
    )
    assert r.rate(call("0912345678", 60, caller="02838000001")).amount == 600  # caller number as account


# --- input checks -----------------------------------------------------------------------------------


def test_call_to_rate_refuses_bad_input() -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        call(start=datetime(2025, 3, 3, 10, 0))
    with pytest.raises(ValueError, match="direction"):
        call(direction="sideways")
    for bad in (-1.0, float("nan"), float("inf")):
        with pytest.raises(ValueError, match="answered_seconds"):
            call(seconds=bad)


def test_rated_line_is_immutable_and_flat_readable(rater: Rater) -> None:
    line = rater.rate(call(seconds=7))
    assert isinstance(line, RatedLine)
    with pytest.raises(AttributeError):
        line.amount = 0  # type: ignore[misc]
    assert (line.call_id, line.callee, line.plan_id, line.destination_label) == (
        "c1",
        "0961234567",
        "standard",
        "Viettel mobile",
    )
    assert line.local_start == DAY
    assert line.exact_seconds == 7.0


def test_rerating_after_a_tariff_fix_uses_the_calls_kept_in_the_lines(rater: Rater) -> None:
    lines = rater.rate_many([call("0961234567", 61.2), call("0912345678", 30), call("19001091", 61)])
    fixed = BillingConfig().model_dump()
    fixed["plans"]["standard"]["destinations"]["viettel"]["rate_per_minute"] = Decimal("990")
    again = Rater(BillingConfig.model_validate(fixed)).rate_many(x.call for x in lines)
    assert [(x.destination, x.amount) for x in again] == [
        ("viettel", 1023),
        ("vinaphone", 545),
        ("premium", 4000),
    ]
    assert [x.call for x in again] == [x.call for x in lines]


def test_lines_pickle_for_worker_processes(rater: Rater) -> None:
    import pickle

    line = rater.rate(call(seconds=61.2, start=DAY.replace(hour=23)))
    copy = pickle.loads(pickle.dumps(line))
    assert copy == line
    assert copy.tariff.eff2 == line.tariff.eff2
    assert copy.explanation() == line.explanation()
