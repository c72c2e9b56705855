"""Read-only commands never migrate: on a database without the schema they refuse clearly and leave it
as it was; the commands that write (and ``db upgrade``) migrate it."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest
import yaml

from tests.support.settings import base_config, deep_merge
from tongdai.cli import main


def tables(db: Path) -> set[str]:
    with sqlite3.connect(db) as c:
        return {r[0] for r in c.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}


@pytest.fixture
def config(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> tuple[str, Path]:
    monkeypatch.setenv("TONGDAI__REDIS__URL", "")
    db = tmp_path / "fresh.db"
    data = deep_merge(
        base_config(),
        {"database": {"url": f"sqlite+aiosqlite:///{db}"}, "node": {"data_dir": str(tmp_path / "var")}},
    )
    path = tmp_path / "config.yaml"
    path.write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
    return str(path), db


def test_read_only_commands_do_not_migrate(
    config: tuple[str, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    cfg, db = config
    period = ["--since", "2026-11-01", "--until", "2026-12-01"]
    for argv in (
        ["crm", "lookup", "0912345678"],
        ["billing", "export", *period, str(tmp_path / "calls.csv")],
        ["report", "service-level", *period],
        ["recordings", "check"],
    ):
        assert main(["-c", cfg, *argv]) == 1, argv
        err = capsys.readouterr().err
        assert "db.schema_outdated" in err and "tongdai db upgrade" in err, argv
        assert not tables(db), f"{argv} created tables"
    assert main(["-c", cfg, "check-config"]) == 0
    assert not tables(db)


def test_db_upgrade_migrates_then_reads_work(
    config: tuple[str, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    cfg, db = config
    assert main(["-c", cfg, "db", "upgrade"]) == 0
    assert {"alembic_version", "crm_customers", "calls", "audit_log"} <= tables(db)
    capsys.readouterr()
    assert main(["-c", cfg, "crm", "lookup", "0912345678"]) == 1  # migrated, but no such customer
    assert "no customer for '0912345678'" in capsys.readouterr().err
