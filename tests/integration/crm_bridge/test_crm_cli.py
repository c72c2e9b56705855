"""The operator's commands: `tongdai crm import` (all or nothing, bad rows by number), `crm lookup`."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.integration.crm_bridge.test_crm_importer import CUSTOMERS, SUBSCRIPTIONS
from tests.support.settings import REPO
from tongdai.cli import main


@pytest.fixture
def files(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("TONGDAI__DATABASE__URL", f"sqlite+aiosqlite:///{tmp_path / 'crm.db'}")
    monkeypatch.setenv("TONGDAI__REDIS__URL", "")
    (tmp_path / "customers.csv").write_text(CUSTOMERS, encoding="utf-8")
    (tmp_path / "subscriptions.csv").write_text(SUBSCRIPTIONS, encoding="utf-8")
    return tmp_path


def test_import_then_lookup_by_any_number_format(files: Path, capsys: pytest.CaptureFixture[str]) -> None:
    cfg = str(REPO / "config.yaml")
    args = ["-c", cfg, "crm", "import", "--customers", str(files / "customers.csv")]
    assert main([*args, "--subscriptions", str(files / "subscriptions.csv")]) == 0
    out = capsys.readouterr()
    assert "imported 3 customers, 4 subscriptions" in out.out
    assert "validate" in out.err and "write" in out.err  # the progress bars
    assert main(["-c", cfg, "crm", "lookup", "+84 945 000 001"]) == 0
    profile = json.loads(capsys.readouterr().out)
    assert profile["customer_id"] == "KH0000100001" and profile["name"] == "Đỗ Thị Hoa"


def test_a_bad_row_is_reported_by_number_and_nothing_is_written(
    files: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    cfg = str(REPO / "config.yaml")
    bad = SUBSCRIPTIONS.replace("2019-06-01", "31/02/2019")  # row 4 of the file: no such date
    (files / "subscriptions.csv").write_text(bad, encoding="utf-8")
    rc = main(
        ["-c", cfg, "crm", "import", "--customers", str(files / "customers.csv"),
         "--subscriptions", str(files / "subscriptions.csv")]
    )  # fmt: skip
    assert rc == 1
    err = capsys.readouterr().err
    assert "crm.import_rejected" in err and "subscriptions.csv row 4: started_on" in err
    assert main(["-c", cfg, "crm", "lookup", "KH0000100001"]) == 1  # the good rows were not written either
