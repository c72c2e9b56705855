"""The service-level report exported as XLSX holds the same figures as the CSV and the report itself,
read back with openpyxl; hostile names stay text, never formulas."""

from __future__ import annotations

import csv
import io
from collections.abc import AsyncIterator
from datetime import date
from pathlib import Path

import pytest
from openpyxl import load_workbook
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from core.db import create_engine, session_factory
from reports.service_level import service_level_report, write_csv
from reports.xlsx import write_xlsx
from tests.support.reports import call, seed
from tongdai.schema import upgrade_to_head

SINCE, UNTIL = date(2026, 11, 1), date(2026, 11, 3)


def same(cell: object, text: str) -> bool:
    """An XLSX cell equals a CSV field: numbers by value (XLSX reads 60.0 back as 60), text exactly."""
    if isinstance(cell, int | float) and not isinstance(cell, bool):
        return text != "" and float(text) == float(cell)
    return str(cell) == text


@pytest.fixture
async def sessions(db_url: str) -> AsyncIterator[async_sessionmaker[AsyncSession]]:
    engine = create_engine(db_url)
    await upgrade_to_head(engine)
    yield session_factory(engine)
    await engine.dispose()


async def test_xlsx_has_the_csv_numbers(sessions: async_sessionmaker[AsyncSession], tmp_path: Path) -> None:
    await seed(
        sessions,
        [
            call("a", "2026-11-01 09:00:00", 30, agent="1001"),
            call("b", "2026-11-01 09:05:00", 61, agent="1002", queue="internet", tier="gold"),
            call("c", "2026-11-02 10:00:00", 4, answered=False, queue='=HYPERLINK("http://x")'),
        ],
    )
    report = await service_level_report(sessions, SINCE, UNTIL)
    path = tmp_path / "sl.xlsx"
    write_xlsx(report, path)
    out = io.StringIO(newline="")
    write_csv(report, out)
    csv_rows = list(csv.reader(io.StringIO(out.getvalue())))
    figures_csv = csv_rows[: csv_rows.index([])]

    wb = load_workbook(path)
    sheet = [["" if v is None else v for v in row] for row in wb["calls"].iter_rows(values_only=True)]
    assert sheet[0] == figures_csv[0]
    assert len(sheet) == len(figures_csv)
    for got, want in zip(sheet[1:], figures_csv[1:], strict=True):
        assert [same(g, w) for g, w in zip(got, want, strict=True)] == [True] * len(want), (got, want)
    total = sheet[1]
    assert total[0] == "total" and total[2] == 3 and total[3] == 2  # offered, answered as numbers
    assert wb["calls"].cell(row=2, column=sheet[0].index("sl") + 1).number_format == "0.00%"
    hostile = [r for r in sheet if r[0] == "queue" and "HYPERLINK" in str(r[1])]
    assert hostile and str(hostile[0][1]).startswith("'")  # neutralised: text, not a formula
    agents = list(wb["agents"].iter_rows(values_only=True))
    assert agents[0][:3] == ("agent", "calls", "talk_seconds")
    assert {(r[0], r[1]) for r in agents[1:]} == {("1001", 1), ("1002", 1)}
    terms = {r[0] for r in wb["definitions"].iter_rows(values_only=True)}
    assert {"sl", "asa", "aht", "compliant"} <= terms
