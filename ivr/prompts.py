"""Build-time prompt audio: catalogue texts and number words → Asterisk-ready 8 kHz files.

Layout under the output directory (point Asterisk's ``astdatadir/sounds`` at it, or copy it there)::

    tongdai/<lang>/<prompt_id>.wav     one per catalogue prompt and language the IVR speaks
    tongdai/<lang>/num/<slug>.wav      one per number word (see ivr.numbers.WORDS)
    tongdai/.manifest.json             content hash of what each file was made from

Each file is spoken by espeak-ng (voice ``vi`` / ``en``) and converted by sox to 8 kHz mono 16-bit
signed PCM WAV, which Asterisk plays without transcoding for slin calls. A recorded file placed in the
override directory as ``<lang>/<prompt_id>.wav`` (or ``.flac``, or raw 8 kHz ``.sln``; number words as
``<lang>/num/<slug>.wav``) is converted the same way and used instead of the synthetic voice.

Generation is idempotent: a file is remade only when its source (text, voice, or override bytes)
changed, judged by the hash in the manifest, or with ``force=True``.

Run: ``python -m ivr.prompts OUT_DIR [--config config.yaml] [--override DIR] [--force]``.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import logging
import os
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import yaml

from core.errors import ConfigError, TongdaiError
from ivr.config import IvrConfig
from ivr.numbers import WORDS, Spoken

log = logging.getLogger(__name__)

SOUND_ROOT = "tongdai"
VOICES = {"vi": "vi", "en": "en"}  # espeak-ng voice per IVR language
RATES = {"vi": 140, "en": 160}  # words per minute: a little slower than espeak's 175 for phone lines
_FORMAT_VERSION = 1  # bump to remake every file after a change in how they are produced
_OVERRIDE_EXTS = (".wav", ".flac", ".sln")
_SOX_OUT = ["-r", "8000", "-c", "1", "-b", "16", "-e", "signed-integer"]
_TOOL_TIMEOUT = 60.0


def prompt_sound(lang: str, prompt_id: str) -> str:
    """Asterisk sound name (no extension) of a catalogue prompt: ``tongdai/vi/main_menu``."""
    return f"{SOUND_ROOT}/{lang}/{prompt_id}"


def word_sounds(spoken: Spoken) -> tuple[str, ...]:
    """Asterisk sound names of a number read-back: ``tongdai/vi/num/hai``, ..."""
    return tuple(f"{SOUND_ROOT}/{token}" for token in spoken.tokens)


class PromptToolMissing(ConfigError):
    """espeak-ng or sox is not installed, and a file needs them."""

    error_id = "ivr.prompt_tool_missing"


class PromptBuildError(TongdaiError):
    error_id = "ivr.prompt_build_failed"


@dataclass(frozen=True)
class _Job:
    rel: str  # relative to out_dir, e.g. tongdai/vi/welcome.wav
    lang: str
    text: str
    override: Path | None

    def digest(self) -> str:
        if self.override is not None:
            source = {"override": hashlib.sha256(self.override.read_bytes()).hexdigest()}
        else:
            source = {"voice": VOICES[self.lang], "rate": str(RATES[self.lang]), "text": self.text}
        blob = json.dumps({"v": _FORMAT_VERSION, **source}, sort_keys=True, ensure_ascii=False)
        return hashlib.sha256(blob.encode()).hexdigest()

    def tools(self) -> tuple[str, ...]:
        return ("sox",) if self.override is not None else ("espeak-ng", "sox")


def _find_override(override_dir: Path | None, rel_stem: str) -> Path | None:
    if override_dir is None:
        return None
    for ext in _OVERRIDE_EXTS:
        candidate = override_dir / f"{rel_stem}{ext}"
        if candidate.is_file():
            return candidate
    return None


def plan(cfg: IvrConfig, override_dir: Path | None = None) -> list[_Job]:
    """Every file the IVR can play: catalogue prompts and number words, per language spoken."""
    jobs: list[_Job] = []
    for lang, prompt_id, text in cfg.prompt_texts():
        stem = f"{lang}/{prompt_id}"
        jobs.append(_Job(f"{SOUND_ROOT}/{stem}.wav", lang, text, _find_override(override_dir, stem)))
    for lang in cfg.languages:
        for slug, word in sorted(WORDS[lang].items()):
            stem = f"{lang}/num/{slug}"
            jobs.append(_Job(f"{SOUND_ROOT}/{stem}.wav", lang, word, _find_override(override_dir, stem)))
    return jobs


def _run(cmd: list[str], what: str) -> None:
    try:
        proc = subprocess.run(cmd, capture_output=True, timeout=_TOOL_TIMEOUT, check=False)
    except subprocess.TimeoutExpired as err:
        raise PromptBuildError(f"{what}: {cmd[0]} took longer than {_TOOL_TIMEOUT:.0f} s") from err
    if proc.returncode != 0:
        detail = proc.stderr.decode(errors="replace").strip()[-500:]
        raise PromptBuildError(f"{what}: {cmd[0]} exited {proc.returncode}: {detail}")


def _build(job: _Job, out_dir: Path, tools: dict[str, str]) -> Path:
    target = out_dir / job.rel
    target.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="tongdai-prompt-") as tmp:
        tmp_out = Path(tmp) / "out.wav"
        if job.override is not None:
            src_type = ["-t", "raw", "-r", "8000", "-e", "signed-integer", "-b", "16", "-c", "1"]
            src = [*(src_type if job.override.suffix == ".sln" else []), str(job.override)]
            _run([tools["sox"], *src, *_SOX_OUT, str(tmp_out)], job.rel)
        else:
            text_file = Path(tmp) / "text.txt"
            text_file.write_text(job.text, encoding="utf-8")
            raw = Path(tmp) / "tts.wav"
            # Text from a file, never the command line: a prompt starting with "-" is not an option.
            espeak = [tools["espeak-ng"], "-v", VOICES[job.lang], "-s", str(RATES[job.lang]), "-b", "1"]
            _run([*espeak, "-w", str(raw), "-f", str(text_file)], job.rel)
            # norm -3: equal loudness across prompts, with headroom so the 8 kHz resample cannot clip.
            _run([tools["sox"], str(raw), *_SOX_OUT, str(tmp_out), "norm", "-3"], job.rel)
        # Same-directory rename is atomic: Asterisk never opens a half-written prompt.
        staged = target.with_name(f".{target.name}.tmp")
        shutil.move(str(tmp_out), staged)
        os.replace(staged, target)
    return target


def _load_manifest(path: Path) -> dict[str, str]:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return {str(k): str(v) for k, v in data.items()} if isinstance(data, dict) else {}


def _save_manifest(path: Path, manifest: dict[str, str]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(json.dumps(manifest, indent=1, sort_keys=True, ensure_ascii=False), encoding="utf-8")
    os.replace(tmp, path)


def generate_prompts(
    cfg: IvrConfig,
    out_dir: Path,
    *,
    force: bool = False,
    override_dir: Path | None = None,
    jobs: int = 2,
) -> list[Path]:
    """Make every prompt and number-word file under ``out_dir``; return the files (re)written.

    Files whose source is unchanged since the last run are skipped (the returned list is then empty).
    Raises :class:`PromptToolMissing` naming the missing program when a file needs espeak-ng or sox
    and it is not installed, and :class:`PromptBuildError` when a tool fails.
    """
    manifest_path = out_dir / SOUND_ROOT / ".manifest.json"
    manifest = _load_manifest(manifest_path)
    todo: list[tuple[_Job, str]] = []
    keep: dict[str, str] = {}
    for job in plan(cfg, override_dir):
        digest = job.digest()
        keep[job.rel] = digest
        if force or manifest.get(job.rel) != digest or not (out_dir / job.rel).is_file():
            todo.append((job, digest))
    if not todo:
        _save_manifest(manifest_path, keep)
        return []

    tools: dict[str, str] = {}
    for name in sorted({t for job, _ in todo for t in job.tools()}):
        found = shutil.which(name)
        if found is None:
            raise PromptToolMissing(
                f"{name} is not installed but is needed to build the IVR prompts "
                f"({len(todo)} files to make); install it with: apt-get install -y espeak-ng sox"
            )
        tools[name] = found

    written: list[Path] = []
    done = {rel: d for rel, d in manifest.items() if rel in keep}
    try:
        with ThreadPoolExecutor(max_workers=max(1, jobs)) as pool:
            futures = [(job, digest, pool.submit(_build, job, out_dir, tools)) for job, digest in todo]
            for job, digest, fut in futures:
                written.append(fut.result())
                done[job.rel] = digest
    finally:
        # Record what was made even if one file failed, so a rerun redoes only the rest.
        _save_manifest(manifest_path, {rel: d for rel, d in done.items() if keep.get(rel) == d})
    log.info("ivr prompts: %d written, %d up to date", len(written), len(keep) - len(written))
    return sorted(written)


def speak_texts(out_dir: Path, texts: Sequence[tuple[str, str, str]], manifest: str) -> list[str]:
    """Free texts (an outage notice) made into files as the catalogue's prompts are: ``texts`` holds
    (rel path under ``out_dir``, lang, text); a file is remade only when its text changed, judged by
    the hash in ``out_dir/<manifest>``. Returns the rel paths that are ready. Raises like
    :func:`generate_prompts` (a missing tool, a tool that failed): blocking, run it in a thread."""
    manifest_path = out_dir / manifest
    done = _load_manifest(manifest_path)
    jobs = [_Job(rel, lang, text, None) for rel, lang, text in texts]
    todo = [j for j in jobs if done.get(j.rel) != j.digest() or not (out_dir / j.rel).is_file()]
    if todo:
        tools: dict[str, str] = {}
        for name in ("espeak-ng", "sox"):
            found = shutil.which(name)
            if found is None:
                raise PromptToolMissing(f"{name} is not installed: apt-get install -y espeak-ng sox")
            tools[name] = found
        try:
            for job in todo:
                _build(job, out_dir, tools)
                done[job.rel] = job.digest()
        finally:
            _save_manifest(manifest_path, done)
    return [j.rel for j in jobs]


def _load_cfg(path: Path | None) -> IvrConfig:
    if path is None:
        return IvrConfig.default()
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    # A whole config.yaml (with other sections needing secrets) or just the ivr section.
    section = data.get("ivr", data) if isinstance(data, dict) else data
    return IvrConfig.model_validate(section)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m ivr.prompts", description=__doc__.split("\n")[0])
    parser.add_argument("out_dir", type=Path)
    parser.add_argument("--config", type=Path, help="config.yaml (or a file holding the ivr section)")
    parser.add_argument("--override", type=Path, help="directory of recorded prompts: <lang>/<id>.wav")
    parser.add_argument("--force", action="store_true", help="remake every file")
    parser.add_argument("--jobs", type=int, default=2)
    args = parser.parse_args(argv)
    try:
        cfg = _load_cfg(args.config)
        written = generate_prompts(
            cfg, args.out_dir, force=args.force, override_dir=args.override, jobs=args.jobs
        )
    except (TongdaiError, ValueError, OSError) as err:
        sys.stderr.write(f"ivr.prompts: {err}\n")
        return 2
    sys.stdout.write(f"{len(written)} prompt files written under {args.out_dir / SOUND_ROOT}\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
