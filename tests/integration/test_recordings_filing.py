"""Filing recordings from CDRs: several at once, a header-only file (a call with no audio captured)
counts as closed once unchanged, and a refused path costs no other call its recording."""

from __future__ import annotations

import wave
from pathlib import Path

from sqlalchemy import select

from core.db import create_engine, session_factory
from recordings.config import RecordingsConfig
from recordings.models import Recording
from recordings.service import HEADER_ONLY_STABLE, RecordingService
from tongdai.schema import upgrade_to_head


def write_wav(path: Path, seconds: float) -> None:
    with wave.open(str(path), "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(8000)
        w.writeframes(b"\x01\x00" * int(8000 * seconds))


async def test_header_only_files_are_filed_without_the_settle_wait(db_url: str, tmp_path: Path) -> None:
    engine = create_engine(db_url)
    await upgrade_to_head(engine)
    sessions = session_factory(engine)
    rec_dir = tmp_path / "monitor"
    rec_dir.mkdir()
    for i in range(10):
        write_wav(rec_dir / f"empty-{i}.wav", 0)  # 44 bytes: the header only
    write_wav(rec_dir / "talk.wav", 1.5)
    # A settle time far beyond the flush below: filing must not wait it out per file, nor in line.
    svc = RecordingService(sessions, RecordingsConfig(dir=rec_dir, settle_seconds=120))
    svc.start()
    try:
        for i in range(10):
            svc.writer.submit((f"c-{i}", f"empty-{i}.wav"))
        svc.writer.submit(("c-escape", "../outside.wav"))
        svc.writer.submit(("c-talk", "talk.wav"))
        assert await svc.writer.flush(HEADER_ONLY_STABLE * 3 + 5)
    finally:
        await svc.stop()
    async with sessions() as s:
        rows = {r.call_id: r for r in await s.scalars(select(Recording))}
    assert set(rows) == {f"c-{i}" for i in range(10)} | {"c-talk"}  # the escaping path filed nothing
    assert {rows[f"c-{i}"].status for i in range(10)} == {"ok"}
    assert rows["c-0"].duration_seconds == 0 and rows["c-0"].size_bytes == 44
    assert rows["c-talk"].duration_seconds == 1.5 and rows["c-talk"].size_bytes == 44 + 24000
    assert svc.writer.stats.spilled == 0 and svc.writer.stats.failed == 0
    await engine.dispose()
