"""Which scheduled report files are due (reports/scheduled.py): yesterday's once ``at`` has passed in
Việt Nam time, missed days within the catch-up window, never a file already written."""

from __future__ import annotations

from datetime import UTC, date, datetime, time

from reports.config import ScheduleConfig
from reports.scheduled import due, file_name


def at_vn(text: str) -> datetime:
    # 2026-12-05 05:59 in Việt Nam is 2026-12-04 22:59 UTC: the rule must use Việt Nam's day.
    from core.vietnam import VN_TZ

    return datetime.fromisoformat(text).replace(tzinfo=VN_TZ).astimezone(UTC)


def test_yesterday_is_due_only_after_the_hour() -> None:
    cfg = ScheduleConfig(directory="/x", at=time(6, 0), formats=["csv"], catch_up_days=1)
    assert due(at_vn("2026-12-05 05:59"), cfg, lambda n: False) == [(date(2026, 12, 3), "csv")]
    assert due(at_vn("2026-12-05 06:00"), cfg, lambda n: False) == [(date(2026, 12, 4), "csv")]


def test_written_files_are_skipped_and_missed_days_caught_up() -> None:
    cfg = ScheduleConfig(directory="/x", at=time(6, 0), formats=["csv", "xlsx"], catch_up_days=3)
    written = {file_name(date(2026, 12, 4), "csv"), file_name(date(2026, 12, 3), "xlsx")}
    got = due(at_vn("2026-12-05 07:00"), cfg, written.__contains__)
    assert got == [
        (date(2026, 12, 2), "csv"),
        (date(2026, 12, 2), "xlsx"),
        (date(2026, 12, 3), "csv"),
        (date(2026, 12, 4), "xlsx"),
    ]
    assert file_name(date(2026, 12, 4), "xlsx") == "service-level-2026-12-04.xlsx"
