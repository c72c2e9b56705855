"""``tongdai report satisfaction`` through tongdai.cli.main on a real SQLite database: the table, and
CSV and XLSX files with the same numbers; a hostile queue name stays text."""

from __future__ import annotations

import asyncio
import csv
from datetime import UTC, datetime, timedelta
from pathlib import Path

import openpyxl
import pytest
import yaml

from core.db import create_engine, session_factory, unit_of_work
from core.models import CallRecord
from core.survey_config import SurveyConfig
from ivr.survey import SurveyAnswer
from ivr.survey_store import SurveyContext, SurveyStore
from tests.support.settings import base_config, deep_merge
from tongdai.cli import main
from tongdai.schema import upgrade_to_head

T0 = datetime(2026, 11, 2, 3, 0, tzinfo=UTC)
HOSTILE = "=cmd|' /C calc'!A0"


@pytest.fixture
def config(tmp_path: Path) -> str:
    url = f"sqlite+aiosqlite:///{tmp_path / 'cli.db'}"

    async def fill() -> None:
        engine = create_engine(url)
        await upgrade_to_head(engine)
        sessions = session_factory(engine)
        async with unit_of_work(sessions) as s:
            one = {"caller_number": "0912345678", "customer_id": "KH1", "queue": HOSTILE, "agent_id": "1001"}
            at = [T0, T0 + timedelta(hours=1)]
            s.add_all(
                CallRecord(call_id=f"c{n}", started_at=at[n], answered_at=at[n], **one) for n in range(2)
            )
        cfg = SurveyConfig.model_validate(
            {"enabled": True, "questions": [{"id": "csat", "prompt": "survey_csat"}]}
        )
        ctx = SurveyContext("c0", HOSTILE, "1001", "KH1", "vi")
        await SurveyStore(sessions, now=lambda: T0).record(ctx, cfg, [SurveyAnswer("csat", 4, "answered")])
        await engine.dispose()

    asyncio.run(fill())
    path = tmp_path / "config.yaml"
    data = deep_merge(base_config(), {"database": {"url": url}, "node": {"data_dir": str(tmp_path / "var")}})
    path.write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
    return str(path)


def test_prints_the_kpis_and_writes_csv_and_xlsx(
    config: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out, xlsx = tmp_path / "kpi.csv", tmp_path / "kpi.xlsx"
    argv = ["-c", config, "report", "satisfaction", "--since", "2026-11-01", "--until", "2026-11-04"]
    assert main([*argv, "--csv", str(out), "--xlsx", str(xlsx)]) == 0
    text = capsys.readouterr().out
    assert "Satisfaction and FCR" in text and "4.00" in text and "repeat window 7 days" in text
    with out.open(encoding="utf-8-sig", newline="") as f:
        rows = list(csv.reader(f))
    total = dict(zip(rows[0], rows[1], strict=True))
    assert (total["surveyed"], total["csat"], total["contacts"], total["repeated"]) == ("1", "4.0", "2", "1")
    assert "'" + HOSTILE in [r[1] for r in rows if r and r[0] == "queue"]  # neutralised
    sheet = list(openpyxl.load_workbook(xlsx)["kpis"].iter_rows(values_only=True))
    x = dict(zip(sheet[0], sheet[1], strict=True))
    assert (x["surveyed"], x["csat"], x["contacts"], x["repeated"]) == (1, 4.0, 2, 1)
    assert main([*argv, "--window-days", "0.01"]) == 0  # 14 minutes: the second call is no repeat
    assert "Satisfaction" in capsys.readouterr().out
