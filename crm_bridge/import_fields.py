"""Reading the import's CSV files and the formats of their fields (dates, amounts, yes/no, numbers).

Each parser raises :class:`BadField` with a message for the agent who prepared the file; the checks
(:mod:`crm_bridge.import_checks`) turn it into a :class:`RowError` with the file and row number.
"""

from __future__ import annotations

import csv
import io
import os
import re
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import TextIO

from core.phone import InvalidNumber, to_e164

__all__ = [
    "BadField",
    "CsvSource",
    "ImportFile",
    "RowError",
    "parse_amount",
    "parse_bool",
    "parse_choice",
    "parse_date",
    "parse_number",
    "parse_opt_date",
    "read_file",
]

CsvSource = str | os.PathLike[str] | TextIO

_COLUMNS: dict[str, tuple[set[str], set[str]]] = {  # file → (required, optional)
    "customers": (
        {"customer_id", "full_name"},
        {
            "kind",
            "date_of_birth",
            "id_number",
            "address",
            "province",
            "branch",
            "preferred_language",
            "consent_marketing",
            "consent_recording",
            "consent_data_sharing",
            "segment",
            "contact_numbers",
        },
    ),
    "subscriptions": (
        {"customer_id", "service", "account", "started_on"},
        {"number", "package", "status", "ended_on"},
    ),
    "revenue": ({"account", "month", "charged_vnd"}, {"other_carrier_voip_vnd", "overdue_debt_vnd"}),
    "points": ({"customer_id", "delta", "reason"}, {"at"}),
}
_AMOUNT = re.compile(r"^\d{1,3}(?:([.,\s])\d{3})?(?:\1\d{3})*$|^\d+$")
_TRUE = {"1", "true", "yes", "y", "x", "có", "co"}
_FALSE = {"", "0", "false", "no", "n", "không", "khong"}


@dataclass(frozen=True)
class RowError:
    file: str
    row: int
    reason: str

    def __str__(self) -> str:
        return f"{self.file} row {self.row}: {self.reason}"


class BadField(ValueError):
    """One field's problem; becomes a RowError with the row's number."""


@dataclass
class ImportFile:
    kind: str
    name: str
    rows: list[tuple[int, dict[str, str]]]


def read_file(kind: str, source: CsvSource, errors: list[RowError]) -> ImportFile:
    """The rows of one file (line numbers kept); header and shape problems go to ``errors``."""
    if isinstance(source, (str, os.PathLike)):
        path = Path(source)
        name = path.name
        text = path.read_text(encoding="utf-8-sig")
        stream: TextIO = io.StringIO(text, newline="")
    else:
        name = getattr(source, "name", None) or f"{kind}.csv"
        stream = source
    reader = csv.reader(stream)
    header = next(reader, None)
    if header is None:
        errors.append(RowError(name, 1, "empty file: a header row is required"))
        return ImportFile(kind, name, [])
    cols = [h.strip().lstrip("\ufeff").lower() for h in header]
    required, optional = _COLUMNS[kind]
    missing = required - set(cols)
    unknown = set(cols) - required - optional
    if missing:
        errors.append(RowError(name, 1, f"missing column(s): {', '.join(sorted(missing))}"))
    if unknown:
        errors.append(RowError(name, 1, f"unknown column(s): {', '.join(sorted(unknown))}"))
    rows: list[tuple[int, dict[str, str]]] = []
    for values in reader:
        line = reader.line_num
        if not any(v.strip() for v in values):
            continue  # blank line
        if len(values) != len(cols):
            errors.append(RowError(name, line, f"{len(values)} fields, the header has {len(cols)}"))
            continue
        rows.append((line, {c: v.strip() for c, v in zip(cols, values, strict=True)}))
    return ImportFile(kind, name, rows)


def parse_date(value: str, column: str) -> date:
    try:
        if "/" in value:
            d, m, y = value.split("/")
            return date(int(y), int(m), int(d))
        return date.fromisoformat(value)
    except ValueError:
        raise BadField(f"{column} {value!r} is not a date (YYYY-MM-DD or DD/MM/YYYY)") from None


def parse_opt_date(value: str, column: str) -> date | None:
    return parse_date(value, column) if value else None


def parse_amount(value: str, column: str, *, signed: bool = False) -> int:
    sign = 1
    if signed and value[:1] in "+-":
        sign, value = (-1 if value[0] == "-" else 1), value[1:]
    if not _AMOUNT.match(value):
        raise BadField(f"{column} {value!r} is not a whole amount (e.g. 1200000 or 1.200.000)")
    return sign * int(re.sub(r"[.,\s]", "", value))


def parse_bool(value: str, column: str) -> bool:
    v = value.lower()
    if v in _TRUE:
        return True
    if v in _FALSE:
        return False
    raise BadField(f"{column} {value!r} is not yes/no")


def parse_choice(value: str, column: str, allowed: Iterable[str], default: str | None = None) -> str | None:
    if not value:
        return default
    allowed = tuple(allowed)
    if value not in allowed:
        raise BadField(f"{column} {value!r} must be one of {', '.join(allowed)}")
    return value


def parse_number(value: str, column: str) -> str:
    try:
        return to_e164(value)
    except InvalidNumber as err:
        raise BadField(f"{column}: {err}") from None
