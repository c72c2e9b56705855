"""The service-level report as an XLSX workbook (openpyxl), with the same numbers as the CSV.

Three sheets: the call figures (total, per day, queue and tier), the agents' figures and time per
state, and the definitions, so a figure never travels without what it means. Numbers are real
numbers (the service level as a percentage cell), and every text cell goes through billing's formula
neutraliser: openpyxl would otherwise store a queue named ``=HYPERLINK(…)`` as a live formula.
"""

from __future__ import annotations

import io
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

from openpyxl import Workbook
from openpyxl.styles import Font

from billing.export import neutralise
from reports.service_level import DEFINITIONS, FIGURE_COLUMNS, ServiceLevelReport, _rows, _verdict

_BOLD = Font(bold=True)


def _header(ws: Any, names: list[str]) -> None:
    ws.append(names)
    for cell in ws[1]:
        cell.font = _BOLD
    ws.freeze_panes = "A2"


def write_xlsx(report: ServiceLevelReport, path: Path) -> None:
    """Write ``report`` to ``path`` (an .xlsx file), replacing it."""
    wb = Workbook()
    calls = wb.active
    assert calls is not None
    calls.title = "calls"
    _header(calls, ["scope", "key", *FIGURE_COLUMNS])
    sl_col = FIGURE_COLUMNS.index("sl") + 3
    for scope, key, f in _rows(report):
        j = f.to_json()
        calls.append([scope, neutralise(key), *[j[c] for c in FIGURE_COLUMNS[:-1]], _verdict(f.compliant)])
        calls.cell(row=calls.max_row, column=sl_col).number_format = "0.00%"

    agents = wb.create_sheet("agents")
    states = sorted({k for a in report.agents for k in a.states})
    _header(agents, ["agent", "calls", "talk_seconds", *(neutralise(f"state:{k}") for k in states)])
    for a in report.agents:
        per_state = [round(a.states.get(k, 0.0), 2) for k in states]
        agents.append([neutralise(a.agent_id), a.calls, round(a.talk_seconds, 2), *per_state])

    about = wb.create_sheet("definitions")
    _header(about, ["term", "definition"])
    about.append(["period", f"{report.since} to {report.until} (exclusive), Asia/Ho_Chi_Minh days"])
    about.append(["threshold_seconds", report.threshold_seconds])
    about.append(["target", report.target])
    about.append(["queue", neutralise(report.queue or "all")])
    for term, text in DEFINITIONS.items():
        about.append([term, text])
    tmp = path.with_name(path.name + ".partial")
    wb.save(tmp)
    tmp.replace(path)


def table_workbook(sheets: Sequence[tuple[str, Sequence[str], Iterable[Sequence[Any]]]]) -> bytes:
    """A workbook of plain tables (name, header, rows), each with a bold frozen header, as bytes. The
    caller neutralises its text cells (``billing.export.neutralise``) as the report above does."""
    wb = Workbook()
    first = wb.active
    assert first is not None
    wb.remove(first)
    for title, header, rows in sheets:
        ws = wb.create_sheet(title[:31])
        _header(ws, list(header))
        for row in rows:
            ws.append(list(row))
    buf = io.BytesIO()
    wb.save(buf)
    return buf.getvalue()
