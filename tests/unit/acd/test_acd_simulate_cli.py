"""`tongdai acd simulate`: arguments, config file, and the side-by-side table."""

from __future__ import annotations

import io
from pathlib import Path

import pytest

from acd.policy import AcdPolicyConfig
from acd.simulate_cli import main


def run(argv: list[str], **kw: object) -> tuple[int, str]:
    out = io.StringIO()
    code = main(argv, out=out, **kw)  # type: ignore[arg-type]
    return code, out.getvalue()


def test_default_run_compares_both_policies_per_tier() -> None:
    code, text = run(["--hours", "2", "--agents", "20", "--seed", "3"])
    assert code == 0
    lines = text.splitlines()
    assert "strict" in lines[1] and "aging" in lines[1]
    rows = {
        line.split()[0]: line
        for line in lines
        if line.split() and line.split()[0] in {"vip", "gold", "standard", "all"}
    }
    assert set(rows) == {"vip", "gold", "standard", "all"}
    assert "90% in 15 s" in rows["vip"] and "80% in 60 s" in rows["standard"]
    # Two column groups (strict, aging), each with an SL percentage.
    assert rows["vip"].count("%") >= 5
    assert "occupancy" in lines[-1]


def test_same_seed_same_output_and_single_policy() -> None:
    argv = [
        "--hours",
        "1",
        "--agents",
        "10",
        "--rate",
        "vip=20",
        "--rate",
        "standard=150,250",
        "--patience",
        "120",
    ]
    assert run(argv) == run(argv)
    code, text = run([*argv, "--policy", "aging"])
    assert code == 0
    assert "aging" in text and "strict" not in text


def test_tiers_come_from_config_file(tmp_path: Path) -> None:
    cfg = tmp_path / "config.yaml"
    cfg.write_text(
        "hotline: {numbers: ['1800']}\n"
        "acd:\n"
        "  tiers:\n"
        "    - {name: premium, base_priority: 50, target_seconds: 10, target_ratio: 0.95}\n"
        "    - {name: standard, base_priority: 5, target_seconds: 60, target_ratio: 0.8}\n",
        encoding="utf-8",
    )
    code, text = run(
        [
            "--config",
            str(cfg),
            "--hours",
            "1",
            "--agents",
            "10",
            "--rate",
            "premium=30",
            "--rate",
            "standard=150",
        ]
    )
    assert code == 0
    assert "premium    95% in 10 s" in text


def test_loaded_section_can_be_passed_in() -> None:
    cfg = AcdPolicyConfig.model_validate(
        {"tiers": [{"name": "only", "base_priority": 1, "target_seconds": 30, "target_ratio": 0.9}]}
    )
    code, text = run(["--hours", "1", "--agents", "5"], policy_config=cfg)
    assert code == 0
    assert "only       90% in 30 s" in text


@pytest.mark.parametrize(
    "argv",
    [
        ["--rate", "vip"],
        ["--rate", "vip=fast"],
        ["--patience", "vip=-5"],
        ["--agents", "0"],
        ["--config", "/nonexistent/config.yaml"],
    ],
)
def test_bad_arguments_exit_2(argv: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    code, text = run(argv)
    assert code == 2
    assert text == ""
    assert "tongdai acd simulate:" in capsys.readouterr().err


def test_bad_config_section_exit_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    cfg = tmp_path / "acd.yaml"
    cfg.write_text("aging_weigth: 3\n", encoding="utf-8")
    assert run(["--config", str(cfg)])[0] == 2
    assert "aging_weigth" in capsys.readouterr().err


def test_routing_compares_strict_and_configured_per_tier() -> None:
    code, text = run(["--routing", "--agents", "20", "--hours", "2"])
    assert code == 0
    lines = text.splitlines()
    assert lines[0].startswith("occupancy strict ")
    rows = [ln.split() for ln in lines[2:]]
    assert [(r[0], r[1]) for r in rows] == [
        (t, p) for t in ("vip", "gold", "standard") for p in ("strict", "configured")
    ]
