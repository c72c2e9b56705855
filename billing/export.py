"""CSV export of rated lines and per-customer statements, safe to open in a spreadsheet.

Formula injection: a caller ID, a dialled string or an account name comes from outside and could
start with ``=`` (``=HYPERLINK(...)``, ``=cmd|...``). Every **text** cell whose first non-blank
character is ``= + - @``, a tab, CR or LF (or their full-width forms ＝ ＋ － ＠) gets a leading
apostrophe, which spreadsheets show as text and never evaluate. This also keeps ``+84912345678``
readable instead of turned into a number. **Numbers we computed** (``int``: amounts, seconds, counts)
are written bare, negative ones included: a bare number such as ``-5`` is not a formula, and keeping it
numeric lets the spreadsheet sum it. Text that merely looks like a number (``"-5"``) is still text and
is neutralised. Callers should open files with ``encoding="utf-8-sig"`` (Excel needs the BOM to show
Vietnamese diacritics) and ``newline=""`` (the csv module writes CRLF itself).

Statements: :func:`build_statement` totals one account's lines per period (local month or day,
Asia/Ho_Chi_Minh) and destination class. It sums the lines' own rounded amounts, VAT and totals, so a
statement always equals the sum of the detailed lines it summarises (VAT recomputed on a subtotal could
differ by up to 1 VND per line).
"""

from __future__ import annotations

import csv
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from typing import Literal, TextIO

from billing.rating import RatedLine
from core.vietnam import VN_TZ

__all__ = [
    "RATED_COLUMNS",
    "STATEMENT_COLUMNS",
    "Statement",
    "StatementRow",
    "build_statement",
    "neutralise",
    "rated_row",
    "write_rated_csv",
    "write_statement_csv",
]

Cell = str | int
Period = Literal["month", "day", "all"]

_TRIGGERS = frozenset("=+-@\t\r\n\uff1d\uff0b\uff0d\uff20")

RATED_COLUMNS: tuple[str, ...] = (
    "call_id",
    "start_local",
    "direction",
    "account",
    "caller",
    "callee",
    "number",
    "plan",
    "destination",
    "destination_label",
    "prefix",
    "charged_party",
    "answered",
    "band",
    "band_percent",
    "holiday",
    "exact_seconds",
    "billed_seconds",
    "first_block_seconds",
    "next_block_seconds",
    "blocks",
    "rate_vnd_per_minute",
    "amount_vnd",
    "vat_basis_points",
    "vat_vnd",
    "total_vnd",
    "explanation",
)

STATEMENT_COLUMNS: tuple[str, ...] = (
    "account",
    "period",
    "destination",
    "destination_label",
    "calls",
    "billed_seconds",
    "amount_vnd",
    "vat_vnd",
    "total_vnd",
)


def neutralise(text: str) -> str:
    """Text made inert for spreadsheets: a leading apostrophe if it could start a formula."""
    stripped = text.lstrip(" ")
    if stripped and stripped[0] in _TRIGGERS:
        return "'" + text
    return text


def _cell(value: Cell) -> Cell:
    # bool is an int subclass: spell it out rather than let it become 1/0 or True/False.
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, int):
        return value
    return neutralise(value)


def _seconds(us: int) -> str:
    whole, frac = divmod(us, 1_000_000)
    return f"{whole}.{frac:06d}".rstrip("0").rstrip(".") if frac else str(whole)


def rated_row(line: RatedLine) -> list[Cell]:
    """One CSV row (in :data:`RATED_COLUMNS` order), already neutralised."""
    rate = (Decimal(line.rate_milli_per_minute) / 1000).normalize()
    values: list[Cell | bool] = [
        line.call_id,
        line.local_start.isoformat(timespec="seconds"),
        line.direction,
        line.account,
        line.caller,
        line.callee,
        line.number,
        line.plan_id,
        line.destination,
        line.destination_label,
        line.prefix,
        line.charged_party,
        line.answered,
        line.band,
        line.band_percent,
        line.holiday,
        _seconds(line.exact_us),
        line.billed_seconds,
        line.first_block_seconds,
        line.next_block_seconds,
        line.blocks,
        f"{rate:f}",
        line.amount,
        line.vat_basis_points,
        line.vat,
        line.total,
        line.explanation(),
    ]
    return [_cell(v) for v in values]


def write_rated_csv(lines: Iterable[RatedLine], out: TextIO) -> int:
    """Write a header and one row per rated line; returns the number of lines written."""
    writer = csv.writer(out)
    writer.writerow(RATED_COLUMNS)
    n = 0
    for line in lines:
        writer.writerow(rated_row(line))
        n += 1
    return n


@dataclass(frozen=True, slots=True)
class StatementRow:
    """Totals of one destination class in one period."""

    period: str  # "2025-09", "2025-09-02" or "all"
    destination: str
    destination_label: str
    calls: int
    billed_seconds: int
    amount: int
    vat: int
    total: int


@dataclass(frozen=True, slots=True)
class Statement:
    """What one account is charged for, per period and destination class, with the grand totals."""

    account: str
    charged_party: str
    start: date | None
    end: date | None
    rows: tuple[StatementRow, ...]
    calls: int
    billed_seconds: int
    amount: int
    vat: int
    total: int


def build_statement(
    lines: Iterable[RatedLine],
    account: str,
    *,
    start: date | None = None,
    end: date | None = None,
    period: Period = "month",
    charged_party: Literal["caller", "operator"] = "caller",
) -> Statement:
    """Totals of ``account``'s lines in ``[start, end)`` (local dates), per period and destination.

    Only lines the account pays for are counted: ``charged_party="caller"`` (the default) is a
    customer's bill; ``"operator"`` is what the owner of a toll-free number (the account of inbound
    1800 lines) pays. Free lines (unanswered, inbound, internal, toll-free for the caller) are left
    out; :func:`write_rated_csv` shows every line.
    """
    groups: dict[tuple[str, str], list[int]] = {}
    labels: dict[str, str] = {}
    for line in lines:
        if line.account != account or line.charged_party != charged_party:
            continue
        local = line.call.start.astimezone(VN_TZ)
        day = local.date()
        if (start is not None and day < start) or (end is not None and day >= end):
            continue
        key = local.strftime("%Y-%m") if period == "month" else day.isoformat() if period == "day" else "all"
        acc = groups.setdefault((key, line.destination), [0, 0, 0, 0, 0])
        acc[0] += 1
        acc[1] += line.billed_seconds
        acc[2] += line.amount
        acc[3] += line.vat
        acc[4] += line.total
        labels.setdefault(line.destination, line.destination_label)
    rows = tuple(StatementRow(p, d, labels[d], *acc) for (p, d), acc in sorted(groups.items()))
    return Statement(
        account=account,
        charged_party=charged_party,
        start=start,
        end=end,
        rows=rows,
        calls=sum(r.calls for r in rows),
        billed_seconds=sum(r.billed_seconds for r in rows),
        amount=sum(r.amount for r in rows),
        vat=sum(r.vat for r in rows),
        total=sum(r.total for r in rows),
    )


def write_statement_csv(statement: Statement, out: TextIO) -> None:
    """Write a statement: a header, one row per (period, destination), then a ``TOTAL`` row."""
    writer = csv.writer(out)
    writer.writerow(STATEMENT_COLUMNS)
    acct = neutralise(statement.account)
    for r in statement.rows:
        writer.writerow(
            [acct, r.period, neutralise(r.destination), neutralise(r.destination_label), r.calls,
             r.billed_seconds, r.amount, r.vat, r.total]
        )  # fmt: skip
    writer.writerow(
        [acct, "TOTAL", "", "", statement.calls, statement.billed_seconds, statement.amount,
         statement.vat, statement.total]
    )  # fmt: skip
