"""Pure routing rules: carrier number forms, dial patterns, international reach, route choice."""

from __future__ import annotations

import re
from dataclasses import dataclass

import pytest

from trunks.routes import choose_route, did_forms, national, pattern_regex, reaches_international


@pytest.mark.parametrize(
    ("given", "expected"),
    [
        ("+84912345678", "0912345678"),
        ("84912345678", "0912345678"),
        ("0084912345678", "0912345678"),
        ("0912345678", "0912345678"),
        ("+84 24 3700 1234", "02437001234"),
        ("+8418001090", "18001090"),
        ("8418001090", "18001090"),
        ("18001090", "18001090"),
        ("+12025550100", "0012025550100"),
    ],
)
def test_carrier_forms_become_national(given: str, expected: str) -> None:
    assert national(given) == expected


def test_did_forms_cover_what_carriers_send() -> None:
    assert did_forms("18001090") == ["18001090", "8418001090", "+8418001090"]
    assert did_forms("+842437001234") == ["02437001234", "842437001234", "+842437001234"]


@pytest.mark.parametrize(
    ("pattern", "yes", "no"),
    [
        ("0[35789]XXXXXXXX", "0912345678", "0212345678"),
        ("1800X.", "18001090", "1800"),
        ("02X.", "02437001234", "03437001234"),
        ("NXX", "234", "134"),
        ("0[1-9]X.", "0912", "0012345"),
    ],
)
def test_pattern_regex_matches_like_asterisk(pattern: str, yes: str, no: str) -> None:
    rx = pattern_regex(pattern)
    assert re.fullmatch(rx, yes) and not re.fullmatch(rx, no)


def test_bad_patterns_are_refused() -> None:
    for bad in ("_0X.", "0X.X", "0,1", "0[a]", ""):
        with pytest.raises(ValueError, match="not a dial pattern"):
            pattern_regex(bad)


@pytest.mark.parametrize(
    ("pattern", "international"),
    [
        ("0X.", True),
        ("X.", True),
        ("0!", True),
        ("00X.", True),
        ("[0-1]0X", True),
        ("0[1-9]X.", False),
        ("0[35789]XXXXXXXX", False),
        ("1800X.", False),
        ("Z.", False),
    ],
)
def test_international_reach_is_detected(pattern: str, international: bool) -> None:
    assert reaches_international(pattern) is international


@dataclass
class R:
    name: str
    patterns: list[str]


def test_the_first_matching_route_wins() -> None:
    routes = [R("mobile", ["0[35789]XXXXXXXX"]), R("any", ["0[1-9]X."])]
    assert choose_route("0912345678", routes) == routes[0]
    assert choose_route("02437001234", routes) == routes[1]
    assert choose_route("0012025550100", routes) is None
