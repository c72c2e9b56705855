"""Business hours in Asia/Ho_Chi_Minh and the Vietnamese public holidays."""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

import pytest
from pydantic import ValidationError

from ivr.hours import BusinessHours, Holiday, is_open, next_opening, parse_range

HCM = ZoneInfo("Asia/Ho_Chi_Minh")
UTC = dt.UTC


def at(y: int, m: int, d: int, h: int, mi: int = 0, *, tz: dt.tzinfo = HCM) -> dt.datetime:
    return dt.datetime(y, m, d, h, mi, tzinfo=tz)


OFFICE = BusinessHours(
    weekly={
        "mon": ["08:00-12:00", "13:00-17:30"],
        "tue": ["08:00-12:00", "13:00-17:30"],
        "sat": ["08:00-12:00"],
    },
    holidays=[Holiday(date=dt.date(2026, 3, 10), name="test")],
)


def test_default_hours_every_day_seven_to_ten() -> None:
    hours = BusinessHours()
    assert is_open(hours, at(2026, 3, 10, 7, 0))
    assert is_open(hours, at(2026, 3, 10, 21, 59))
    assert not is_open(hours, at(2026, 3, 10, 6, 59))
    assert not is_open(hours, at(2026, 3, 10, 22, 0))  # the end is exclusive
    assert is_open(hours, at(2026, 3, 15, 12, 0))  # a Sunday


def test_instant_in_another_zone_is_judged_in_vietnam() -> None:
    hours = BusinessHours()
    assert is_open(hours, at(2026, 3, 10, 2, 0, tz=UTC))  # 09:00 in Hồ Chí Minh City
    assert not is_open(hours, at(2026, 3, 10, 16, 0, tz=UTC))  # 23:00 there


def test_naive_datetime_is_refused() -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        is_open(BusinessHours(), dt.datetime(2026, 3, 10, 9, 0))


@pytest.mark.parametrize(
    ("day", "name"),
    [
        (dt.date(2026, 1, 1), "Tết Dương lịch"),
        (dt.date(2026, 2, 16), "Tết Nguyên đán"),
        (dt.date(2026, 2, 17), "Tết Nguyên đán"),
        (dt.date(2026, 2, 20), "Tết Nguyên đán"),
        (dt.date(2026, 4, 26), "Giỗ Tổ Hùng Vương"),
        (dt.date(2026, 4, 27), "Giỗ Tổ Hùng Vương"),  # Sunday: the Monday after is the day off
        (dt.date(2026, 4, 30), "Chiến thắng"),
        (dt.date(2026, 5, 1), "Lao động"),
        (dt.date(2026, 9, 2), "Quốc khánh"),
        (dt.date(2027, 2, 6), "Tết Nguyên đán"),
        (dt.date(2027, 2, 9), "Tết Nguyên đán"),
        (dt.date(2027, 4, 16), "Giỗ Tổ Hùng Vương"),
        (dt.date(2027, 9, 2), "Quốc khánh"),
    ],
)
def test_default_holidays_close_the_centre(day: dt.date, name: str) -> None:
    hours = BusinessHours()
    holiday = hours.holiday(day)
    assert holiday is not None and name.lower() in holiday.name.lower()
    assert not is_open(hours, dt.datetime.combine(day, dt.time(10, 0), tzinfo=HCM))


def test_day_before_tet_span_is_open() -> None:
    hours = BusinessHours()
    assert is_open(hours, at(2026, 2, 15, 10))
    assert is_open(hours, at(2026, 2, 21, 10))
    assert is_open(hours, at(2027, 2, 3, 10))  # the 2027 span starts on 29 Chạp, 4 February


@pytest.mark.parametrize(
    ("year", "eve", "first_day"),
    [
        (2028, dt.date(2028, 1, 25), dt.date(2028, 1, 26)),
        # Việt Nam's new moon (UTC+7) falls on 2 February 2030, China's (UTC+8) on the 3rd.
        (2030, dt.date(2030, 2, 1), dt.date(2030, 2, 2)),
        (2035, dt.date(2035, 2, 7), dt.date(2035, 2, 8)),
    ],
)
def test_tet_is_known_for_years_no_list_was_written_for(year: int, eve: dt.date, first_day: dt.date) -> None:
    hours = BusinessHours()
    for day in (eve, first_day, first_day + dt.timedelta(days=3)):
        holiday = hours.holiday(day)
        assert holiday is not None and "tết" in holiday.name.lower(), (day, holiday)
        assert not is_open(hours, dt.datetime.combine(day, dt.time(10, 0), tzinfo=HCM))
    assert hours.holiday(eve - dt.timedelta(days=7)) is None
    assert hours.holiday(dt.date(year, 9, 2)) is not None  # and the solar ones, every year
    assert hours.holiday(dt.date(year, 3, 10)) is None


def test_site_additions_and_working_days_override_the_statutory_calendar() -> None:
    site = BusinessHours(
        holidays=[Holiday(date=dt.date(2028, 3, 8), name="Ngày hội công ty")],
        working_days=[dt.date(2028, 5, 1)],
    )
    assert site.holiday(dt.date(2028, 3, 8)) == Holiday(date=dt.date(2028, 3, 8), name="Ngày hội công ty")
    assert site.holiday(dt.date(2028, 5, 1)) is None  # a statutory day the site works
    assert is_open(site, at(2028, 5, 1, 10))
    assert site.holiday(dt.date(2028, 1, 26)) is not None  # the rest of the calendar still applies
    none = BusinessHours(country=None)
    assert none.holiday(dt.date(2028, 1, 26)) is None and is_open(none, at(2028, 1, 26, 10))
    with pytest.raises(ValidationError, match="no public-holiday calendar"):
        BusinessHours(country="XX")


def test_lunch_break_weekend_and_own_holiday() -> None:
    assert is_open(OFFICE, at(2026, 3, 9, 11, 59))  # Monday morning
    assert not is_open(OFFICE, at(2026, 3, 9, 12, 30))  # lunch
    assert is_open(OFFICE, at(2026, 3, 9, 13, 0))
    assert not is_open(OFFICE, at(2026, 3, 9, 17, 30))
    assert not is_open(OFFICE, at(2026, 3, 10, 9, 0))  # Tuesday, but listed as a holiday
    assert not is_open(OFFICE, at(2026, 3, 11, 9, 0))  # Wednesday: not listed, closed
    assert is_open(OFFICE, at(2026, 3, 14, 9, 0))  # Saturday morning


def test_next_opening() -> None:
    # Monday at lunch → 13:00 the same day; Monday evening → Tuesday is a holiday → Saturday 08:00.
    assert next_opening(OFFICE, at(2026, 3, 9, 12, 30)) == at(2026, 3, 9, 13, 0)
    assert next_opening(OFFICE, at(2026, 3, 9, 18, 0)) == at(2026, 3, 14, 8, 0)
    assert next_opening(OFFICE, at(2026, 3, 9, 9, 0)) == at(2026, 3, 9, 9, 0)
    assert next_opening(BusinessHours(weekly={}), at(2026, 3, 9, 9, 0)) is None


def test_whole_day_and_range_parsing() -> None:
    hours = BusinessHours(weekly={"sun": ["00:00-24:00"]}, holidays=[])
    assert is_open(hours, at(2026, 3, 15, 23, 59))
    assert parse_range("08:00-17:30") == (480, 1050)
    for bad in ("8:00-17:00", "17:00-08:00", "08:00-08:00", "08:00-24:30", "25:00-26:00"):
        with pytest.raises(ValueError):
            parse_range(bad)


def test_bad_hours_config_is_rejected() -> None:
    with pytest.raises(ValidationError, match="overlap"):
        BusinessHours(weekly={"mon": ["08:00-12:00", "11:00-13:00"]})
    with pytest.raises(ValidationError, match="time zone"):
        BusinessHours(timezone="Asia/Saigon_Nowhere")
    with pytest.raises(ValidationError):
        BusinessHours.model_validate({"weekly": {"monday": ["08:00-12:00"]}})
