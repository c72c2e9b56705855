"""Tariff configuration: realistic defaults, and clear errors naming the field for every bad tariff."""

from __future__ import annotations

from datetime import date, time
from decimal import Decimal
from typing import Any

import pytest
import yaml
from pydantic import ValidationError

from billing.tariffs import BillingConfig, canonical_prefix


def errors(data: dict[str, Any]) -> list[str]:
    """Every validation problem as 'dotted.path: message'."""
    with pytest.raises(ValidationError) as err:
        BillingConfig.model_validate(data)
    return [".".join(str(p) for p in e["loc"]) + ": " + e["msg"] for e in err.value.errors()]


def plan(destinations: dict[str, Any] | None = None, **extra: Any) -> dict[str, Any]:
    dests = destinations or {"m": {"label": "Mobile", "prefixes": ["09"], "rate_per_minute": 1000}}
    return {"plans": {"p": {"label": "P", "destinations": dests, **extra}}, "default_plan": "p"}


def test_defaults_are_valid_and_vietnamese() -> None:
    cfg = BillingConfig()
    assert (cfg.currency, cfg.vat_rate, cfg.vat_basis_points(), cfg.default_plan) == (
        "VND",
        Decimal("0.10"),
        1000,
        "standard",
    )
    std = cfg.plans["standard"]
    assert (std.blocks.first_seconds, std.blocks.next_seconds) == (6, 1)
    prefixes = {name: {canonical_prefix(p) for p in d.prefixes} for name, d in std.destinations.items()}
    assert {"8496", "8497", "8498", "8486", *(f"843{i}" for i in range(2, 10))} == prefixes["viettel"]
    assert {"8488", "8491", "8494", *(f"848{i}" for i in range(1, 6))} == prefixes["vinaphone"]
    assert {"8489", "8490", "8493", "8470", *(f"847{i}" for i in range(6, 10))} == prefixes["mobifone"]
    assert prefixes["vietnamobile"] == {"8492", "8456", "8458"}
    assert prefixes["gmobile"] == {"8499", "8459"}
    assert prefixes["international"] == {"00"}
    assert std.destinations["tollfree"].charged_party == "operator"
    premium = std.destinations["premium"]
    assert premium.blocks is not None and (premium.blocks.first_seconds, premium.blocks.next_seconds) == (
        60,
        60,
    )
    assert [(b.name, b.start, b.end, b.percent) for b in std.time_bands] == [
        ("offpeak", time(23), time(6), 70)
    ]
    assert date(2025, 9, 2) in cfg.holiday_dates() and date(2025, 9, 3) not in cfg.holiday_dates()
    # Round trip through YAML as the lead's loader would see it.
    dumped = yaml.safe_dump(cfg.model_dump(mode="json"))
    assert BillingConfig.model_validate(yaml.safe_load(dumped)) == cfg


def test_a_yaml_config_loads() -> None:
    text = """
    vat_rate: 0.10
    home_area_code: "24"
    holidays: [2026-02-16, 2026-02-17]
    plans:
      standard:
        label: Standard
        time_bands:
          - {name: night, start: "23:00", end: "06:00", percent: 70}
          - {name: lunch, start: "11:30:00", end: "13:00", percent: 90}
        destinations:
          local: {label: Hà Nội, prefixes: ["024"], rate_per_minute: 200}
          fixed: {label: Fixed, prefixes: ["02"], rate_per_minute: 818}
          premium:
            label: "1900"
            prefixes: ["1900"]
            rate_per_minute: 3000
            blocks: {first_seconds: 60, next_seconds: 60}
    """
    cfg = BillingConfig.model_validate(yaml.safe_load(text))
    assert cfg.home_area_code == "24"
    assert cfg.plans["standard"].time_bands[1].start == time(11, 30)
    assert date(2026, 2, 17) in cfg.holiday_dates()


@pytest.mark.parametrize(
    ("raw", "canonical"),
    [
        ("096", "8496"),
        ("+8496", "8496"),
        ("8496", "8496"),
        ("0084 96", "8496"),
        ("+84 (0) 96", "8496"),
        ("028", "8428"),
        ("00", "00"),
        ("0086", "0086"),
        ("+86", "0086"),
        ("1800", "841800"),
        ("1900", "841900"),
    ],
)
def test_prefixes_are_written_as_dialled(raw: str, canonical: str) -> None:
    assert canonical_prefix(raw) == canonical


def test_duplicate_prefix_across_destinations_names_both() -> None:
    msgs = errors(
        plan(
            {
                "viettel": {"label": "V", "prefixes": ["096"], "rate_per_minute": 1000},
                "other": {"label": "O", "prefixes": ["+8496"], "rate_per_minute": 900},
            }
        )
    )
    assert len(msgs) == 1
    assert msgs[0].startswith("plans.p: ")
    assert (
        "destinations.other.prefixes: '+8496' duplicates '096' of destinations.viettel (both are 8496)"
        in msgs[0]
    )


def test_duplicate_and_nested_prefixes_in_one_destination() -> None:
    dup = errors(plan({"m": {"label": "M", "prefixes": ["096", "096"], "rate_per_minute": 1}}))
    assert "destinations.m.prefixes: '096' duplicates '096' of destinations.m" in dup[0]
    nested = errors(plan({"m": {"label": "M", "prefixes": ["09", "096"], "rate_per_minute": 1}}))
    assert "destinations.m.prefixes: '096' is already covered by '09' of the same destination" in nested[0]
    # Nested across destinations is the point of longest-prefix matching: allowed.
    BillingConfig.model_validate(
        plan(
            {
                "a": {"label": "A", "prefixes": ["09"], "rate_per_minute": 1},
                "b": {"label": "B", "prefixes": ["096"], "rate_per_minute": 2},
            }
        )
    )


@pytest.mark.parametrize(
    ("prefix", "hint"),
    [("96", "not in a dialled form"), ("09a", "only digits"), ("", "not in a dialled form")],
)
def test_bad_prefix_forms(prefix: str, hint: str) -> None:
    msgs = errors(plan({"m": {"label": "M", "prefixes": [prefix], "rate_per_minute": 1}}))
    assert msgs[0].startswith("plans.p.destinations.m.prefixes: ")
    assert hint in msgs[0]


def test_unquoted_yaml_prefix_and_time_are_refused_with_a_hint() -> None:
    data = yaml.safe_load(
        """
        plans:
          p:
            label: P
            time_bands: [{name: night, start: 23:00, end: "06:00", percent: 70}]
            destinations:
              viettel: {label: V, prefixes: [032, "096"], rate_per_minute: 1000}
        default_plan: p
        """
    )
    assert data["plans"]["p"]["destinations"]["viettel"]["prefixes"][0] == 26  # PyYAML's octal
    msgs = errors(data)
    assert any(
        m.startswith("plans.p.destinations.viettel.prefixes: ") and "quoted string" in m and "26" in m
        for m in msgs
    ), msgs
    assert any(
        m.startswith("plans.p.time_bands.0.start: ") and "1380" in m and "'23:00'" in m for m in msgs
    ), msgs


@pytest.mark.parametrize(
    ("band", "loc", "text"),
    [
        (
            {"name": "x", "start": "23:00", "end": "23:00", "percent": 70},
            "plans.p.time_bands.0",
            "must not be empty",
        ),
        ({"name": "x", "start": "25:00", "end": "06:00", "percent": 70}, "plans.p.time_bands.0.start", ""),
        (
            {"name": "x", "start": "11pm", "end": "06:00", "percent": 70},
            "plans.p.time_bands.0.start",
            "HH:MM",
        ),
        ({"name": "x", "start": "23:00", "end": "06:00", "percent": -1}, "plans.p.time_bands.0.percent", ""),
        (
            {"name": "peak", "start": "23:00", "end": "06:00", "percent": 70},
            "plans.p.time_bands.0.name",
            "reserved",
        ),
        (
            {"name": "x", "start": "23:00+07:00", "end": "06:00", "percent": 70},
            "plans.p.time_bands.0.start",
            "HH:MM",
        ),
    ],
)
def test_bad_time_windows(band: dict[str, Any], loc: str, text: str) -> None:
    msgs = errors(plan(time_bands=[band]))
    assert any(m.startswith(loc + ": ") and text in m for m in msgs), msgs


def test_overlapping_bands_including_across_midnight() -> None:
    msgs = errors(
        plan(
            time_bands=[
                {"name": "night", "start": "23:00", "end": "06:00", "percent": 70},
                {"name": "early", "start": "05:30", "end": "07:00", "percent": 80},
            ]
        )
    )
    assert "time_bands.1: 'early' (05:30:00-07:00:00) overlaps time_bands.0 'night'" in msgs[0]
    # Touching bands (end exclusive) do not overlap.
    BillingConfig.model_validate(
        plan(
            time_bands=[
                {"name": "night", "start": "23:00", "end": "06:00", "percent": 70},
                {"name": "early", "start": "06:00", "end": "07:00", "percent": 80},
            ]
        )
    )


M = "plans.p.destinations.m"


@pytest.mark.parametrize(
    ("extra", "loc"),
    [
        ({"rate_per_minute": -1}, f"{M}.rate_per_minute"),
        ({"rate_per_minute": "1.0001"}, f"{M}.rate_per_minute"),
        ({"prefixes": []}, f"{M}.prefixes"),
        ({"blocks": {"first_seconds": 0}}, f"{M}.blocks.first_seconds"),
        ({"blocks": {"next_seconds": -1}}, f"{M}.blocks.next_seconds"),
        ({"colour": "red"}, f"{M}.colour"),
        ({"charged_party": "bank"}, f"{M}.charged_party"),
        ({"prefixes": ["113"], "rate_per_minute": 5, "charged_party": "none"}, M),
    ],
)
def test_bad_destination_fields(extra: dict[str, Any], loc: str) -> None:
    msgs = errors(plan({"m": {"label": "M", "prefixes": ["09"], "rate_per_minute": 1, **extra}}))
    assert any(m.startswith(loc + ": ") for m in msgs), msgs


def test_reserved_destination_names_and_plan_references() -> None:
    msgs = errors(plan({"inbound": {"label": "I", "prefixes": ["09"], "rate_per_minute": 1}}))
    assert "destinations.inbound: the name 'inbound' is reserved" in msgs[0]
    msgs = errors({**plan(), "default_plan": "gold", "accounts": {"acme": "silver"}})
    assert "default_plan: 'gold' is not a plan" in msgs[0]
    assert "accounts.acme: 'silver' is not a plan" in msgs[0]


@pytest.mark.parametrize(
    ("field", "value", "loc"),
    [
        ("vat_rate", "0.12345", "vat_rate"),
        ("vat_rate", -0.1, "vat_rate"),
        ("currency", "USD", "currency"),
        ("home_area_code", "028", "home_area_code"),
        ("home_area_code", 28, "home_area_code"),
        ("recurring_holidays", ["02-30"], "recurring_holidays"),
        ("holidays", ["2025-13-01"], "holidays.0"),
        ("surprise", 1, "surprise"),
    ],
)
def test_bad_top_level_fields(field: str, value: Any, loc: str) -> None:
    msgs = errors({field: value})
    assert any(m.startswith(loc + ": ") for m in msgs), msgs


def test_leap_day_recurring_holiday_only_in_leap_years() -> None:
    days = BillingConfig(country=None, recurring_holidays=["02-29"]).holiday_dates(2023, 2025)
    assert days == {date(2024, 2, 29)}


def test_statutory_days_off_for_any_year_with_site_overrides() -> None:
    days = BillingConfig().holiday_dates(2028, 2035)
    assert {date(2028, 1, 26), date(2030, 2, 2), date(2035, 2, 8)} <= days  # Tết, lunar, no list written
    assert date(2030, 2, 3) in days and date(2030, 1, 30) not in days
    site = BillingConfig(working_days=[date(2028, 5, 1)], holidays=[date(2028, 3, 8)]).holiday_dates(
        2028, 2028
    )
    assert date(2028, 5, 1) not in site and date(2028, 3, 8) in site and date(2028, 9, 2) in site
    with pytest.raises(ValidationError, match="no public-holiday calendar"):
        BillingConfig(country="XX")
