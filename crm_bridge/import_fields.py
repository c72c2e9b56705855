"""Reading the import's CSV files and the formats of their fields (dates, amounts, yes/no, numbers).

Each parser raises :class:`BadField` with a message for the agent who prepared the file; the checks
(:mod:`crm_bridge.import_checks`) turn it into a :class:`RowError` with the file and row number.

Reading refuses, each as a :class:`RowError` naming the file (and the row and column where there is
one), never as a traceback: a missing file, a directory or other non-regular file, a file over
:attr:`ImportLimits.max_file_bytes`, a UTF-16/UTF-32 file, bytes that are not UTF-8 (a file saved as
Windows-1258, Latin-1…), a NUL byte, and a field over :attr:`ImportLimits.max_field_chars` (an unclosed
quote swallows the rest of the file into one field: it is reported, not loaded).
"""

from __future__ import annotations

import codecs
import contextlib
import csv
import io
import os
import re
import stat
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any, TextIO

from core.phone import InvalidNumber, to_e164

__all__ = [
    "BadField",
    "CsvSource",
    "ImportFile",
    "ImportLimits",
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
    row: int  # the file's line (header = 1); 0 for the file as a whole
    reason: str
    column: str = ""

    def __str__(self) -> str:
        if self.row == 0:
            return f"{self.file}: {self.reason}"
        where = f"{self.file} row {self.row}" + (f", column {self.column}" if self.column else "")
        return f"{where}: {self.reason}"


@dataclass(frozen=True)
class ImportLimits:
    """Bounds on what one import reads (config ``crm.csv_import``)."""

    # The whole file is read and checked in memory before anything is written (all or nothing).
    max_file_bytes: int = 1024 * 1024 * 1024
    # Far above any real name, address or number list; the csv module's own limit is 131072.
    max_field_chars: int = 16_384


_SAVE_AS = 'save it as "CSV UTF-8" (Excel: Save As → CSV UTF-8)'
_ENCODING = "is not UTF-8"  # the mark of an encoding problem among a field's problems
_WIDE_BOMS = (
    (codecs.BOM_UTF32_LE, "UTF-32"),
    (codecs.BOM_UTF32_BE, "UTF-32"),
    (codecs.BOM_UTF16_LE, "UTF-16"),
    (codecs.BOM_UTF16_BE, "UTF-16"),
)
_UNDECODED = re.compile("[\udc80-\udcff]")  # bytes that were not UTF-8 (surrogateescape)


def file_problem(path: Path, limits: ImportLimits) -> str | None:
    """Why ``path`` cannot be imported at all (missing, not a file, too large), or None."""
    try:
        st = path.stat()
    except FileNotFoundError:
        return "no such file"
    except OSError as err:
        return f"cannot be read: {err.strerror}"
    if stat.S_ISDIR(st.st_mode):
        return "is a directory, not a CSV file"
    if not stat.S_ISREG(st.st_mode):  # a FIFO or device would block or never end
        return "is not a regular file"
    if st.st_size > limits.max_file_bytes:
        limit = f"{limits.max_file_bytes:,}"
        return f"is {st.st_size:,} bytes, over the limit of {limit} (crm.csv_import.max_file_mb)"
    return None


def _read_path(path: Path, limits: ImportLimits) -> tuple[str | None, str]:
    problem = file_problem(path, limits)
    if problem is not None:
        return None, problem
    try:
        return _decode(path.read_bytes())
    except OSError as err:
        return None, f"cannot be read: {err.strerror}"


def _decode(data: bytes) -> tuple[str | None, str]:
    """The text of a UTF-8 file (undecodable bytes kept as surrogates, found per field), or the reason."""
    for bom, name in _WIDE_BOMS:
        if data.startswith(bom):
            return None, f"the file is {name} (it starts with a {name} byte-order mark): {_SAVE_AS}"
    return data.decode("utf-8-sig", errors="surrogateescape"), ""


def _field_problem(value: str, limits: ImportLimits) -> str | None:
    if len(value) > limits.max_field_chars:
        return f"{len(value):,} characters, over the limit of {limits.max_field_chars:,} (an unclosed quote?)"
    if "\x00" in value:
        return f"holds a NUL byte (a UTF-16 file, or not a text file?): {_SAVE_AS}"
    m = _UNDECODED.search(value)
    if m is not None:
        byte = ord(m.group()) - 0xDC00
        return f"byte 0x{byte:02X} {_ENCODING} (saved as Windows-1258 or Latin-1?): {_SAVE_AS}"
    return None


@contextlib.contextmanager
def _csv_fields_up_to(n: int) -> Iterator[None]:
    # The csv module refuses a field over its (process-wide) limit with no column; ours is checked
    # per field with its name, so let csv read up to the file limit meanwhile.
    old = csv.field_size_limit()
    csv.field_size_limit(max(old, n))
    try:
        yield
    finally:
        csv.field_size_limit(old)


class BadField(ValueError):
    """One field's problem; becomes a RowError with the row's number."""


@dataclass
class ImportFile:
    kind: str
    name: str
    rows: list[tuple[int, dict[str, str]]]
    # The file as a whole cannot be read (missing, too large, not UTF-8, a bad header): its rows are
    # not checked one by one, the import is refused on that alone.
    unreadable: bool = False


def read_file(
    kind: str, source: CsvSource, errors: list[RowError], limits: ImportLimits | None = None
) -> ImportFile:
    """The rows of one file (line numbers kept); file, header and shape problems go to ``errors``."""
    limits = limits or ImportLimits()
    if isinstance(source, (str, os.PathLike)):
        path = Path(source)
        name = path.name
        text, problem = _read_path(path, limits)
        if text is None:  # the whole path: "no such file" must say which one
            errors.append(RowError(str(path), 0, problem))
            return ImportFile(kind, name, [], unreadable=True)
        stream: TextIO = io.StringIO(text, newline="")
    else:
        name = getattr(source, "name", None) or f"{kind}.csv"
        stream = source
    with _csv_fields_up_to(limits.max_file_bytes):
        return _read_rows(kind, name, csv.reader(stream), errors, limits)


def _read_header(name: str, reader: Any, errors: list[RowError], limits: ImportLimits) -> list[str] | None:
    try:
        header: list[str] | None = next(reader, None)
    except csv.Error as err:
        errors.append(RowError(name, 1, f"unreadable CSV header: {err}"))
        return None
    if header is None:
        errors.append(RowError(name, 1, "empty file: a header row is required"))
        return None
    for i, h in enumerate(header):
        problem = _field_problem(h, limits)
        if problem is not None:
            errors.append(RowError(name, 1, f"header field {i + 1}: {problem}"))
            return None
    return header


def _columns(kind: str, name: str, header: list[str] | None, errors: list[RowError]) -> list[str] | None:
    if header is None:
        return None
    cols = [h.strip().lstrip("\ufeff").lower() for h in header]
    required, optional = _COLUMNS[kind]
    missing = required - set(cols)
    unknown = set(cols) - required - optional
    if missing:
        errors.append(RowError(name, 1, f"missing column(s): {', '.join(sorted(missing))}"))
    if unknown:
        errors.append(RowError(name, 1, f"unknown column(s): {', '.join(sorted(unknown))}"))
    return None if missing or unknown else cols


def _read_rows(kind: str, name: str, reader: Any, errors: list[RowError], limits: ImportLimits) -> ImportFile:
    cols = _columns(kind, name, _read_header(name, reader, errors, limits), errors)
    if cols is None:  # a bad header makes every row unreadable: report the header, not each row
        return ImportFile(kind, name, [], unreadable=True)
    rows: list[tuple[int, dict[str, str]]] = []
    encoding: list[RowError] = []  # a file saved in another encoding: said once, not per field
    while True:
        try:
            values = next(reader, None)
        except csv.Error as err:
            errors.append(RowError(name, reader.line_num, f"unreadable CSV: {err}"))
            break
        if values is None:
            break
        line = reader.line_num
        if not any(v.strip() for v in values):
            continue  # blank line
        # Before the field count: an unclosed quote shows as one huge field, not as a short row.
        bad = [(i, p) for i, v in enumerate(values) if (p := _field_problem(v, limits))]
        if bad:  # the row is not checked further: its values are not what the file meant
            for i, p in bad:
                col = cols[i] if i < len(cols) else f"#{i + 1}"
                (encoding if _ENCODING in p else errors).append(RowError(name, line, p, column=col))
            continue
        if len(values) != len(cols):
            errors.append(RowError(name, line, f"{len(values)} fields, the header has {len(cols)}"))
            continue
        rows.append((line, {c: v.strip() for c, v in zip(cols, values, strict=True)}))
    if encoding:
        first = encoding[0]
        more = f" (and {len(encoding) - 1} more field(s) like it)" if len(encoding) > 1 else ""
        errors.append(RowError(name, first.row, first.reason + more, column=first.column))
        return ImportFile(kind, name, [], unreadable=True)
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
