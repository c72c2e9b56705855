"""CSV export and statements: formula injection neutralised, numbers kept numeric, totals reconcile."""

from __future__ import annotations

import csv
import io
from datetime import UTC, date, datetime

import pytest

from billing.export import (
    RATED_COLUMNS,
    STATEMENT_COLUMNS,
    build_statement,
    neutralise,
    rated_row,
    write_rated_csv,
    write_statement_csv,
)
from billing.rating import CallToRate, RatedLine, Rater
from billing.tariffs import BillingConfig
from core.vietnam import VN_TZ


@pytest.fixture(scope="module")
def rater() -> Rater:
    return Rater(BillingConfig())


def rate(
    rater: Rater,
    callee: str,
    seconds: float,
    start: datetime,
    *,
    caller: str = "0281",
    direction: str = "outbound",
) -> RatedLine:
    return rater.rate(CallToRate("c-" + callee, direction, caller, callee, start, seconds, True))  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("text", "out"),
    [
        ('=HYPERLINK("http://x")', '\'=HYPERLINK("http://x")'),
        ("+84912345678", "'+84912345678"),
        ("-2+3+cmd|' /C calc'!A0", "'-2+3+cmd|' /C calc'!A0"),
        ("@SUM(A1)", "'@SUM(A1)"),
        ("\t=1", "'\t=1"),
        ("\r=1", "'\r=1"),
        ("\n=1", "'\n=1"),
        ("  =1+1", "'  =1+1"),  # blanks before the trigger do not hide it
        ("＝1+1", "'＝1+1"),  # full-width equals sign
        ("-5", "'-5"),  # text that looks like a number is still text
        ("0912345678", "0912345678"),
        ("Viettel mobile", "Viettel mobile"),
        ("a=b", "a=b"),
        ("", ""),
    ],
)
def test_neutralise(text: str, out: str) -> None:
    assert neutralise(text) == out


def test_rated_csv_neutralises_text_and_keeps_numbers(rater: Rater) -> None:
    line = rate(rater, "0961234567", 61.2, datetime(2025, 3, 3, 10, tzinfo=VN_TZ), caller="=cmd|'/C calc'!A0")
    row = rated_row(line)
    assert len(row) == len(RATED_COLUMNS)
    cells = dict(zip(RATED_COLUMNS, row, strict=True))
    assert cells["caller"] == "'=cmd|'/C calc'!A0"
    assert cells["account"] == "'=cmd|'/C calc'!A0"
    assert (cells["amount_vnd"], cells["vat_vnd"], cells["total_vnd"]) == (1126, 113, 1239)
    assert all(type(cells[c]) is int for c in ("billed_seconds", "blocks", "amount_vnd", "band_percent"))
    assert (cells["exact_seconds"], cells["rate_vnd_per_minute"], cells["answered"]) == (
        "61.2",
        "1090",
        "yes",
    )
    assert cells["start_local"] == "2025-03-03T10:00:00+07:00"

    buf = io.StringIO(newline="")
    assert write_rated_csv([line], buf) == 1
    parsed = list(csv.reader(io.StringIO(buf.getvalue(), newline="")))
    assert parsed[0] == list(RATED_COLUMNS)
    assert parsed[1][RATED_COLUMNS.index("caller")] == "'=cmd|'/C calc'!A0"
    # No cell of the file can start a formula.
    assert not any(cell and cell.lstrip(" ")[0] in "=+-@\t\r\n" for r in parsed for cell in r)
    assert buf.getvalue().endswith("\r\n")


def test_real_negative_numbers_stay_numeric() -> None:
    # Our own computed numbers are written bare, even negative ones (e.g. a credit): a bare number is
    # not a formula and must remain summable.
    from billing.export import _cell

    assert _cell(-5) == -5
    assert _cell("-5") == "'-5"
    buf = io.StringIO()
    csv.writer(buf).writerow([_cell(-5), _cell("-5")])
    assert buf.getvalue() == "-5,'-5\r\n"


def test_statement_totals_per_period_and_destination(rater: Rater) -> None:
    aug = datetime(2025, 8, 20, 10, tzinfo=VN_TZ)
    sep = datetime(2025, 9, 3, 10, tzinfo=VN_TZ)
    lines = [
        rate(rater, "0961234567", 61.2, aug),  # viettel 1,126 + 113
        rate(rater, "0971234567", 7, aug),  # viettel 7 s: 127.17 → 127 + 13
        rate(rater, "19001091", 61, aug),  # premium 4,000 + 400
        rate(rater, "0961234567", 60, sep),  # viettel 1,090 + 109
        rate(rater, "18001090", 60, sep),  # toll-free: paid by the operator, not on the bill
        rater.rate(CallToRate("x", "outbound", "0281", "0961234567", sep, 0, False)),  # unanswered
        rate(rater, "0961234567", 60, sep, caller="0999"),  # someone else's call
        # 31 August 17:30 UTC is 1 September 00:30 in Việt Nam: September, off-peak.
        rate(rater, "0961234567", 60, datetime(2025, 8, 31, 17, 30, tzinfo=UTC)),
    ]
    st = build_statement(lines, "0281")
    got = [(r.period, r.destination, r.calls, r.billed_seconds, r.amount, r.vat, r.total) for r in st.rows]
    assert got == [
        ("2025-08", "premium", 1, 120, 4000, 400, 4400),
        ("2025-08", "viettel", 2, 69, 1126 + 127, 113 + 13, 1239 + 140),
        ("2025-09", "viettel", 2, 120, 1090 + 763, 109 + 76, 1199 + 839),
    ]
    mine = [x for x in lines if x.account == "0281" and x.charged_party == "caller"]
    assert (st.calls, st.amount, st.vat, st.total) == (
        5,
        sum(x.amount for x in mine),
        sum(x.vat for x in mine),
        sum(x.total for x in mine),
    )

    september = build_statement(lines, "0281", start=date(2025, 9, 1), end=date(2025, 10, 1), period="all")
    assert [(r.period, r.destination, r.calls) for r in september.rows] == [("all", "viettel", 2)]
    by_day = build_statement(lines, "0281", start=date(2025, 9, 1), end=date(2025, 9, 2), period="day")
    assert [(r.period, r.calls) for r in by_day.rows] == [("2025-09-01", 1)]

    tollfree = build_statement(lines, "0281", charged_party="operator")
    assert (tollfree.calls, tollfree.amount) == (1, 1000)


def test_statement_csv(rater: Rater) -> None:
    start = datetime(2025, 9, 3, 10, tzinfo=VN_TZ)
    lines = [
        rate(rater, "0961234567", 60, start, caller="@evil"),
        rate(rater, "19001091", 30, start, caller="@evil"),
    ]
    buf = io.StringIO(newline="")
    write_statement_csv(build_statement(lines, "@evil"), buf)
    rows = list(csv.reader(io.StringIO(buf.getvalue(), newline="")))
    assert rows == [
        list(STATEMENT_COLUMNS),
        ["'@evil", "2025-09", "premium", "Premium 1900", "1", "60", "2000", "200", "2200"],
        ["'@evil", "2025-09", "viettel", "Viettel mobile", "1", "60", "1090", "109", "1199"],
        ["'@evil", "TOTAL", "", "", "2", "120", "3090", "309", "3399"],
    ]
