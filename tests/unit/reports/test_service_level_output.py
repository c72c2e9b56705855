"""The report's pure parts: period parsing, the exact compliance verdict, the CSV and the table."""

from __future__ import annotations

import csv
import io
from datetime import UTC, date, datetime
from fractions import Fraction

import pytest

from reports.service_level import (
    AgentFigures,
    BadPeriod,
    Figures,
    ServiceLevelReport,
    day_start_utc,
    format_table,
    parse_period,
    write_csv,
)

EIGHTY = Fraction(4, 5)


def test_parse_period() -> None:
    assert parse_period("2026-11-01", "2026-12-01") == (date(2026, 11, 1), date(2026, 12, 1))
    for since, until, words in [
        (None, "2026-12-01", "since is required"),
        ("2026-11-01", "", "until is required"),
        ("01/11/2026", "2026-12-01", "since='01/11/2026' is not a date"),
        ("2026-11-31", "2026-12-01", "is not a date"),
        ("2026-12-01", "2026-12-01", "must be after since"),
        ("2025-01-01", "2026-12-01", "at most 366 days"),
    ]:
        with pytest.raises(BadPeriod, match=words):
            parse_period(since, until)


def test_vietnam_midnight_is_17_utc() -> None:
    assert day_start_utc(date(2026, 11, 1)) == datetime(2026, 10, 31, 17, 0, tzinfo=UTC)


def test_compliance_is_exact_at_the_target() -> None:
    assert Figures(EIGHTY, answered=4, answered_in_sl=4, abandoned=1).compliant is True  # 4/5 = 80 %
    assert Figures(EIGHTY, answered=79, answered_in_sl=79, abandoned=21).compliant is False
    assert Figures(EIGHTY).compliant is None


def _report() -> ServiceLevelReport:
    f = Figures(
        EIGHTY, offered=3, answered=2, answered_in_sl=2, abandoned=1, wait_sum=30, talk_sum=90, talked=2
    )
    return ServiceLevelReport(
        since=date(2026, 11, 1),
        until=date(2026, 11, 2),
        queue=None,
        threshold_seconds=60,
        target=0.8,
        short_abandon_seconds=5,
        total=f,
        days={date(2026, 11, 1): f},
        queues={'=HYPERLINK("http://x")': f},
        tiers={"vip": f},
        agents=[AgentFigures("1001", 2, 90.0, {"paused:@lunch": 60.0, "ready": 100.0})],
    )


def test_csv_is_spreadsheet_safe_and_numeric() -> None:
    out = io.StringIO()
    write_csv(_report(), out)
    rows = list(csv.reader(io.StringIO(out.getvalue())))
    assert rows[0][:3] == ["scope", "key", "offered"]
    queue_row = next(r for r in rows if r and r[0] == "queue")
    assert queue_row[1] == '\'=HYPERLINK("http://x")'
    assert queue_row[2:6] == ["3", "2", "2", "1"] and queue_row[-1] == "no"  # 2/3 < 80 %
    agent_header = rows[rows.index([]) + 1]
    assert agent_header == ["agent", "calls", "talk_seconds", "state:paused:@lunch", "state:ready"]
    assert rows[-1] == ["1001", "2", "90.0", "60.0", "100.0"]


def test_table_reads() -> None:
    text = format_table(_report())
    assert "answered within 60 s" in text and "target 80%" in text
    assert "QCVN 36:2022 compliant over the period: no" in text
    assert "1001" in text and "paused:@lunch 60" in text
