"""A campaign's contact list from CSV: every row checked (row number in each error), numbers
normalised to E.164 by ``core/phone.py``, duplicates merged (highest priority kept), all or nothing.

Columns (a header row, any order, case-insensitive): ``number`` (required), ``priority`` (integer,
default 0; higher is called first), ``name`` and ``customer_id`` (optional). Pure: no I/O.
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass

from core.errors import BadRequest
from core.phone import InvalidNumber, to_e164

COLUMNS = ("number", "priority", "name", "customer_id")
MAX_ERRORS_SHOWN = 20
MAX_PRIORITY = 1_000_000


class ListRejected(BadRequest):
    """The list has bad rows: nothing was imported. ``errors`` holds one line per bad row."""

    error_id = "campaign.list_rejected"

    def __init__(self, errors: list[str]) -> None:
        self.errors = errors
        shown = "; ".join(errors[:MAX_ERRORS_SHOWN])
        more = f" (and {len(errors) - MAX_ERRORS_SHOWN} more)" if len(errors) > MAX_ERRORS_SHOWN else ""
        super().__init__(f"{len(errors)} bad row(s), nothing imported: {shown}{more}")


@dataclass(frozen=True)
class ListEntry:
    number: str  # E.164
    priority: int
    name: str
    customer_id: str | None
    rows: tuple[int, ...]  # the CSV rows merged into this entry (row 1 is the header)


def parse_list(text: str, *, max_rows: int) -> list[ListEntry]:
    """The entries of a CSV list in file order (a merged duplicate keeps its first place)."""
    text = text.removeprefix("\ufeff")  # a spreadsheet's UTF-8 byte order mark
    reader = csv.reader(io.StringIO(text))
    header = next(reader, None)
    if header is None or not any(h.strip() for h in header):
        raise ListRejected(["row 1: the header is missing (columns: number, priority, name, customer_id)"])
    cols = [h.strip().lower() for h in header]
    unknown = [c for c in cols if c not in COLUMNS]
    if unknown or "number" not in cols or len(set(cols)) != len(cols):
        raise ListRejected(
            [f"row 1: the header must name number and optionally priority, name, customer_id (got {cols})"]
        )
    errors: list[str] = []
    merged: dict[str, ListEntry] = {}
    count = 0
    for row_no, row in enumerate(reader, start=2):
        if not any(cell.strip() for cell in row):
            continue  # a blank line
        count += 1
        if count > max_rows:
            raise ListRejected([f"row {row_no}: a list holds at most {max_rows} rows"])
        got = _entry(cols, row, row_no)
        if isinstance(got, str):
            errors.append(got)
            continue
        number, priority, name, cid = got.number, got.priority, got.name, got.customer_id
        prev = merged.get(number)
        if prev is None:
            merged[number] = ListEntry(number, priority, name, cid, (row_no,))
        else:  # the same number twice: one contact, the higher priority, the first name given
            merged[number] = ListEntry(
                number,
                max(prev.priority, priority),
                prev.name or name,
                prev.customer_id or cid,
                (*prev.rows, row_no),
            )
    if errors:
        raise ListRejected(errors)
    if not merged:
        raise ListRejected(["the list has no rows"])
    return list(merged.values())


def _entry(cols: list[str], row: list[str], row_no: int) -> ListEntry | str:
    """One row as an entry, or the error that row gets."""
    if len(row) != len(cols):
        return f"row {row_no}: {len(row)} field(s), the header has {len(cols)}"
    cell = {c: v.strip() for c, v in zip(cols, row, strict=True)}
    try:
        number = to_e164(cell["number"])
    except InvalidNumber as err:
        return f"row {row_no}: number: {err}"
    try:
        priority = int(cell.get("priority") or 0)
    except ValueError:
        return f"row {row_no}: priority: {cell['priority']!r} is not an integer"
    if not -MAX_PRIORITY <= priority <= MAX_PRIORITY:
        return f"row {row_no}: priority: must be within ±{MAX_PRIORITY}"
    name = cell.get("name", "")
    if len(name) > 120 or any(ord(ch) < 32 for ch in name):
        return f"row {row_no}: name: at most 120 characters, no control characters"
    cid = cell.get("customer_id") or None
    if cid is not None and (len(cid) > 32 or not cid.isascii() or not cid.isalnum()):
        return f"row {row_no}: customer_id: {cid!r} is not a customer id"
    return ListEntry(number, priority, name, cid, (row_no,))
