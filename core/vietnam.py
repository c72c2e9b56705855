"""Việt Nam's clock: one time zone for business hours, billing bands, report days and the desktop."""

from __future__ import annotations

from datetime import date, datetime, timedelta, timezone

# UTC+7 all year: Việt Nam has no daylight saving time, so a fixed offset is exact and needs no tzdata.
VN_OFFSET_SECONDS = 7 * 3600
VN_TZ = timezone(timedelta(seconds=VN_OFFSET_SECONDS), "ICT")


def now_vn() -> datetime:
    """The current time in Việt Nam, timezone-aware."""
    return datetime.now(VN_TZ)


def today_vn() -> date:
    """Today's date in Việt Nam (a report day, a tier month)."""
    return now_vn().date()
