"""``tongdai report service-level`` through tongdai.cli.main on a real SQLite database."""

from __future__ import annotations

import asyncio
import csv
from pathlib import Path

import pytest
import yaml

from core.db import create_engine, session_factory
from tests.support.reports import call, sample_calls, sample_states, seed
from tests.support.settings import base_config, deep_merge
from tongdai.cli import main
from tongdai.schema import upgrade_to_head


@pytest.fixture
def config(tmp_path: Path) -> str:
    url = f"sqlite+aiosqlite:///{tmp_path / 'cli.db'}"

    async def fill() -> None:
        engine = create_engine(url)
        await upgrade_to_head(engine)
        hostile = call("x1", "2026-11-02 08:00:00", 3.0, queue="=cmd|' /C calc'!A0", agent="1003")
        await seed(session_factory(engine), [*sample_calls(), *sample_states(), hostile])
        await engine.dispose()

    asyncio.run(fill())
    path = tmp_path / "config.yaml"
    data = deep_merge(base_config(), {"database": {"url": url}, "node": {"data_dir": str(tmp_path / "var")}})
    path.write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
    return str(path)


def test_prints_table_and_writes_safe_csv(
    config: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "sl.csv"
    argv = ["-c", config, "report", "service-level", "--since", "2026-11-01", "--until", "2026-11-03"]
    assert main([*argv, "--csv", str(out)]) == 0
    text = capsys.readouterr().out
    assert "QCVN 36:2022 compliant over the period: no" in text
    assert "2026-11-01" in text and "2026-11-02" in text
    with out.open(encoding="utf-8-sig", newline="") as f:
        rows = list(csv.reader(f))
    total = rows[1]
    assert total[:4] == ["total", "2026-11-01..2026-11-03", "9", "6"]
    keys = [r[1] for r in rows if r and r[0] == "queue"]
    assert "'=cmd|' /C calc'!A0" in keys  # neutralised: shown as text, never evaluated

    assert main([*argv, "--queue", "internet"]) == 0
    assert "queue internet" in capsys.readouterr().out


def test_bad_dates_exit_2(config: str, capsys: pytest.CaptureFixture[str]) -> None:
    argv = ["-c", config, "report", "service-level", "--since", "2026-11-31", "--until", "2026-12-01"]
    assert main(argv) == 2
    assert "since='2026-11-31' is not a date" in capsys.readouterr().err
