"""The report page's figures as one table (scope, key, figures) for its CSV and XLSX exports, built
from the very JSON the page draws, so the page, the CSV and the workbook show the same numbers."""

from __future__ import annotations

import csv
import io
from collections.abc import Sequence
from typing import Any

from billing.export import neutralise
from reports.service_level import DEFINITIONS, FIGURE_COLUMNS
from reports.xlsx import table_workbook

# The page's figures: the service-level report's, then the abandon rate (abandoned / offered).
FIGURES: tuple[str, ...] = (*FIGURE_COLUMNS, "abandon_rate")
COLUMNS: tuple[str, ...] = ("scope", "key", *FIGURES)
# The page's JSON: which list holds each scope, and the field that names a row.
_SCOPES = (("day", "days", "day"), ("halfhour", "half_hours", "name"), ("queue", "queues", "name"),
           ("tier", "tiers", "name"), ("agent", "agent_figures", "name"))  # fmt: skip


def _cell(v: Any) -> Any:
    if v is None:
        return ""
    if isinstance(v, bool):
        return "yes" if v else "no"
    return v


def table(page: dict[str, Any]) -> list[list[Any]]:
    """One row per figure set: the period's total, then each day, half-hour, queue, tier and agent."""
    total = page["total"]
    rows = [["total", f"{page['since']}..{page['until']}", *[_cell(total[c]) for c in FIGURES]]]
    for scope, field, name in _SCOPES:
        for item in page.get(field, []):
            rows.append([scope, neutralise(str(item[name])), *[_cell(item[c]) for c in FIGURES]])
    return rows


def to_csv(page: dict[str, Any]) -> bytes:
    out = io.StringIO()
    w = csv.writer(out)
    w.writerow(COLUMNS)
    w.writerows(table(page))
    return ("\ufeff" + out.getvalue()).encode("utf-8")  # the BOM: spreadsheets then read UTF-8


def to_xlsx(page: dict[str, Any]) -> bytes:
    about: list[Sequence[Any]] = [
        ["period", f"{page['since']} to {page['until']} (exclusive), Asia/Ho_Chi_Minh days"],
        ["threshold_seconds", page["threshold_seconds"]],
        ["target", page["target"]],
        ["queue", neutralise(page.get("queue") or "all")],
        ["halfhour", "the Vietnam clock's half-hour in which the call entered the queue, over all days"],
        ["agent", "calls the agent answered (abandons belong to no agent)"],
        ["abandon_rate", "abandoned / offered"],
        *([k, v] for k, v in DEFINITIONS.items()),
    ]
    return table_workbook([("figures", COLUMNS, table(page)), ("definitions", ("term", "definition"), about)])
