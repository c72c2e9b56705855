"""``tongdai backup`` / ``restore`` / ``secrets generate`` from the command line, on a node with demo
customers: the archive restores a wiped node, a restore over data needs --force, secrets are
owner-only."""

from __future__ import annotations

import sqlite3
import stat
from pathlib import Path

import pytest
import yaml

from tests.support.settings import base_config, deep_merge
from tongdai.cli import main


def customers(db: Path) -> int:
    with sqlite3.connect(db) as c:
        return int(c.execute("SELECT count(*) FROM crm_customers").fetchone()[0])


def test_backup_then_restore_a_wiped_node(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("TONGDAI__REDIS__URL", "")
    db = tmp_path / "node.db"
    rec = tmp_path / "monitor"
    (rec / "2026").mkdir(parents=True)
    (rec / "2026" / "call.wav").write_bytes(b"RIFF" + bytes(range(256)) * 4)
    data = deep_merge(
        base_config(),
        {
            "database": {"url": f"sqlite+aiosqlite:///{db}"},
            "node": {"data_dir": str(tmp_path / "var")},
            "recordings": {"dir": str(rec)},
        },
    )
    cfg = tmp_path / "config.yaml"
    cfg.write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
    assert main(["-c", str(cfg), "crm", "demo-data", "20"]) == 0
    want = customers(db)
    archive = tmp_path / "backups" / "node.tar.gz"
    assert main(["-c", str(cfg), "backup", str(archive)]) == 0
    assert "backed up" in capsys.readouterr().out

    assert main(["-c", str(cfg), "restore", str(archive)]) == 1  # the node still holds its data
    assert "--force" in capsys.readouterr().err
    db.unlink()
    (rec / "2026" / "call.wav").unlink()
    assert main(["-c", str(cfg), "restore", str(archive)]) == 0
    assert customers(db) == want
    assert (rec / "2026" / "call.wav").read_bytes() == b"RIFF" + bytes(range(256)) * 4

    env = tmp_path / "secrets.env"
    assert main(["-c", str(cfg), "secrets", "generate", "--out", str(env)]) == 0
    assert stat.S_IMODE(env.stat().st_mode) == 0o600
    assert "TONGDAI__WEB__SESSION_SECRET=" in env.read_text(encoding="utf-8")
    assert main(["-c", str(cfg), "secrets", "generate", "--out", str(env)]) == 1  # never silently replaced
