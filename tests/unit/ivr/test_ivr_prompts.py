"""Prompt audio generation with the real espeak-ng and sox.

Skipped on a developer machine without the tools; in CI (``CI`` set) a missing tool is a failure,
since CI setup installs them.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import wave
from pathlib import Path

import pytest

from ivr import numbers
from ivr.config import IvrConfig
from ivr.numbers import WORDS
from ivr.prompts import (
    PromptToolMissing,
    generate_prompts,
    main,
    plan,
    prompt_sound,
    word_sounds,
)


@pytest.fixture
def tools() -> None:
    if shutil.which("espeak-ng") and shutil.which("sox"):
        return
    if os.environ.get("CI"):
        pytest.fail("espeak-ng and sox must be installed in CI (apt-get install -y espeak-ng sox)")
    pytest.skip("espeak-ng or sox not installed")


@pytest.fixture(scope="module")
def vi_only() -> IvrConfig:
    data = {
        "languages": ["vi"],
        "entry": "menu",
        "fallback": "agent",
        "nodes": {
            "menu": {"type": "menu", "prompt": "main_menu", "options": {"1": "agent"}},
            "agent": {"type": "transfer", "queue": "general"},
        },
    }
    return IvrConfig.model_validate(data)


def _wav(path: Path) -> tuple[int, int, int, float]:
    with wave.open(str(path), "rb") as w:
        return w.getframerate(), w.getnchannels(), w.getsampwidth(), w.getnframes() / w.getframerate()


def test_sound_names() -> None:
    assert prompt_sound("vi", "main_menu") == "tongdai/vi/main_menu"
    assert word_sounds(numbers.number(25, "vi")) == (
        "tongdai/vi/num/hai",
        "tongdai/vi/num/muoi",
        "tongdai/vi/num/lam",
    )


def test_plan_covers_every_prompt_and_word(vi_only: IvrConfig) -> None:
    rels = {job.rel for job in plan(vi_only)}
    assert "tongdai/vi/main_menu.wav" in rels
    assert "tongdai/vi/num/mot1.wav" in rels
    assert not any(r.startswith("tongdai/en/") for r in rels)
    assert len(rels) == len(vi_only.prompts) + len(WORDS["vi"])
    both = {job.rel for job in plan(IvrConfig.default())}
    assert "tongdai/en/num/twenty.wav" in both and "tongdai/en/main_menu.wav" in both


def test_missing_tool_is_a_clear_error(
    vi_only: IvrConfig, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PATH", str(tmp_path / "empty-bin"))
    with pytest.raises(
        PromptToolMissing, match=r"espeak-ng is not installed.*apt-get install -y espeak-ng sox"
    ):
        generate_prompts(vi_only, tmp_path / "out")


def test_generates_8khz_mono_16bit_and_is_idempotent(tools: None, vi_only: IvrConfig, tmp_path: Path) -> None:
    out = tmp_path / "sounds"
    written = generate_prompts(vi_only, out)
    assert len(written) == len(vi_only.prompts) + len(WORDS["vi"])
    menu = out / "tongdai/vi/main_menu.wav"
    rate, channels, width, seconds = _wav(menu)
    assert (rate, channels, width) == (8000, 1, 2)
    assert seconds > 3  # a long sentence, really spoken
    word_rate, _, _, word_seconds = _wav(out / "tongdai/vi/num/mot5.wav")
    assert word_rate == 8000 and 0.1 < word_seconds < 2
    assert (out / "tongdai/.manifest.json").is_file()

    before = {p: p.stat().st_mtime_ns for p in written}
    assert generate_prompts(vi_only, out) == []
    assert {p: p.stat().st_mtime_ns for p in written} == before

    # A changed text remakes that file only.
    data = vi_only.model_dump()
    data["prompts"]["main_menu"] = {"vi": "Bấm phím một để gặp tổng đài viên."}
    changed = IvrConfig.model_validate(data)
    assert generate_prompts(changed, out) == [menu]
    assert _wav(menu)[3] < seconds

    # A deleted file is remade; force remakes everything.
    (out / "tongdai/vi/num/ty3.wav").unlink()
    assert generate_prompts(changed, out) == [out / "tongdai/vi/num/ty3.wav"]
    assert len(generate_prompts(changed, out, force=True)) == len(written)


def test_recorded_override_replaces_the_generated_prompt(
    tools: None, vi_only: IvrConfig, tmp_path: Path
) -> None:
    override = tmp_path / "recorded"
    (override / "vi").mkdir(parents=True)
    # A studio recording: 44.1 kHz stereo, 0.5 s.
    subprocess.run(
        [
            "sox",
            "-n",
            "-r",
            "44100",
            "-c",
            "2",
            str(override / "vi/welcome.wav"),
            "synth",
            "0.5",
            "sine",
            "440",
        ],
        check=True,
    )
    out = tmp_path / "sounds"
    generate_prompts(vi_only, out, override_dir=override)
    rate, channels, width, seconds = _wav(out / "tongdai/vi/welcome.wav")
    assert (rate, channels, width) == (8000, 1, 2)
    assert abs(seconds - 0.5) < 0.01
    assert generate_prompts(vi_only, out, override_dir=override) == []
    # Removing the recording brings the synthetic voice back.
    (override / "vi/welcome.wav").unlink()
    assert generate_prompts(vi_only, out, override_dir=override) == [out / "tongdai/vi/welcome.wav"]
    assert abs(_wav(out / "tongdai/vi/welcome.wav")[3] - 0.5) > 0.1


def test_cli_builds_from_a_config_file(tools: None, tmp_path: Path) -> None:
    cfg = tmp_path / "config.yaml"
    cfg.write_text(
        "ivr:\n  languages: [vi]\n  entry: agent\n  fallback: agent\n"
        "  nodes:\n    agent: {type: transfer, queue: general}\n",
        encoding="utf-8",
    )
    assert main([str(tmp_path / "out"), "--config", str(cfg)]) == 0
    assert (tmp_path / "out/tongdai/vi/welcome.wav").is_file()
    bad = tmp_path / "bad.yaml"
    bad.write_text("ivr:\n  entry: nowhere\n  fallback: nowhere\n  nodes: {}\n", encoding="utf-8")
    assert main([str(tmp_path / "out2"), "--config", str(bad)]) == 2
