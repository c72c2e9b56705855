"""Business hours and Vietnamese public holidays: is the contact centre open at a given instant?

Pure: no clock is read here, the caller passes ``now`` (timezone-aware). Hours are wall-clock times in
the schedule's zone (``Asia/Ho_Chi_Minh`` by default; Vietnam has no daylight saving, but the zone is
still converted through :mod:`zoneinfo` so a ``now`` in UTC or any other zone is judged correctly).

Statutory days off (Labour Code 2019, art. 112: Tết, the Hùng Kings' day, 30/4, 1/5, 2/9 …) come from
the ``holidays`` library for any year (``country``, default ``VN``; see core/holiday_calendar.py), with
its known substitute days. The government fixes some days each year (the day next to 2 September, the
Tết span and swaps): a site adds what the library does not know yet in ``holidays`` and lists the
statutory days it works anyway in ``working_days``.
"""

from __future__ import annotations

import datetime as dt
import itertools
import re
from typing import Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import BaseModel, ConfigDict, Field, field_validator

from core.holiday_calendar import HolidayCountry, statutory_days_off

Weekday = Literal["mon", "tue", "wed", "thu", "fri", "sat", "sun"]
WEEKDAYS: tuple[Weekday, ...] = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
_RANGE = re.compile(r"^([01]\d|2[0-3]):([0-5]\d)-([01]\d|2[0-3]|24):([0-5]\d)$")


class Holiday(BaseModel):
    """One closed day (a whole calendar day in the schedule's zone)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    date: dt.date
    name: str = ""


_DEFAULT_WEEK: dict[Weekday, list[str]] = {d: ["07:00-22:00"] for d in WEEKDAYS}


def _minutes(hhmm: str) -> int:
    h, m = hhmm.split(":")
    return int(h) * 60 + int(m)


def parse_range(text: str) -> tuple[int, int]:
    """``"08:00-17:30"`` → (480, 1050) minutes of the day; ``24:00`` closes at midnight."""
    m = _RANGE.match(text)
    if not m:
        raise ValueError(f"{text!r} is not a time range like '08:00-17:30'")
    start, end = _minutes(text[:5]), _minutes(text[6:])
    if end > 24 * 60 or end <= start:
        raise ValueError(f"{text!r}: the end must be after the start, at most 24:00")
    return start, end


class BusinessHours(BaseModel):
    """Opening hours per weekday (a missing day is closed) and closed holidays."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    timezone: str = "Asia/Ho_Chi_Minh"
    weekly: dict[Weekday, list[str]] = Field(
        default_factory=lambda: {d: list(r) for d, r in _DEFAULT_WEEK.items()}
    )
    # Whose statutory days off close the centre (ISO country code; null: none).
    country: HolidayCountry = "VN"
    # The site's own closures on top of the statutory ones (and days the library does not know yet).
    holidays: list[Holiday] = []
    # Statutory days off this site works anyway (a government swap, a 24/7 line's policy).
    working_days: list[dt.date] = []

    @field_validator("timezone")
    @classmethod
    def _zone(cls, v: str) -> str:
        try:
            ZoneInfo(v)
        except (ZoneInfoNotFoundError, ValueError) as err:
            raise ValueError(f"unknown time zone {v!r}") from err
        return v

    @field_validator("weekly")
    @classmethod
    def _ranges(cls, v: dict[Weekday, list[str]]) -> dict[Weekday, list[str]]:
        for day, ranges in v.items():
            spans = sorted(parse_range(r) for r in ranges)
            for (_, end), (start, _) in itertools.pairwise(spans):
                if start < end:
                    raise ValueError(f"{day}: time ranges overlap")
        return v

    def zone(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)

    def holiday(self, day: dt.date) -> Holiday | None:
        for h in self.holidays:
            if h.date == day:
                return h
        if self.country is None or day in self.working_days:
            return None
        name = statutory_days_off(self.country, day.year).get(day)
        return Holiday(date=day, name=name) if name is not None else None


def is_open(hours: BusinessHours, now: dt.datetime) -> bool:
    """True when ``now`` falls inside an opening range of its local weekday and is not a holiday."""
    if now.tzinfo is None or now.utcoffset() is None:
        # A naive datetime is ambiguous (server clock in UTC? local?): refuse rather than guess.
        raise ValueError("is_open needs a timezone-aware datetime")
    local = now.astimezone(hours.zone())
    if hours.holiday(local.date()) is not None:
        return False
    minute = local.hour * 60 + local.minute
    for text in hours.weekly.get(WEEKDAYS[local.weekday()], []):
        start, end = parse_range(text)
        if start <= minute < end:
            return True
    return False


def next_opening(hours: BusinessHours, now: dt.datetime, *, horizon_days: int = 14) -> dt.datetime | None:
    """The next instant (local, aware) at which the centre opens, or None within ``horizon_days``.

    Returns ``now`` itself (converted) when already open.
    """
    if now.tzinfo is None or now.utcoffset() is None:
        raise ValueError("next_opening needs a timezone-aware datetime")
    zone = hours.zone()
    local = now.astimezone(zone)
    if is_open(hours, local):
        return local
    for offset in range(horizon_days + 1):
        day = local.date() + dt.timedelta(days=offset)
        if hours.holiday(day) is not None:
            continue
        starts = sorted(parse_range(r)[0] for r in hours.weekly.get(WEEKDAYS[day.weekday()], []))
        for start in starts:
            candidate = dt.datetime.combine(day, dt.time(start // 60, start % 60), tzinfo=zone)
            if candidate > local:
                return candidate
    return None
