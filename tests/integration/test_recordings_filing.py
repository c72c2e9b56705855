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


async def test_only_answered_calls_wait_for_their_recording_and_it_carries_their_facts(
    db_url: str, tmp_path: Path
) -> None:
    """Facts of a call nobody answered never wait for a recording (none is made): a busy hour of
    abandoned calls costs no memory. An answered call's facts are kept until its recording is filed."""
    from core.bus import BusEvent, LocalBus

    engine = create_engine(db_url)
    await upgrade_to_head(engine)
    sessions = session_factory(engine)
    rec_dir = tmp_path / "monitor"
    rec_dir.mkdir()
    write_wav(rec_dir / "answered.wav", 1.0)
    bus = LocalBus()
    svc = RecordingService(sessions, RecordingsConfig(dir=rec_dir, settle_seconds=120))
    svc.attach(bus)
    svc.start()
    try:
        for i in range(50):
            bus.publish(
                BusEvent("call.ended", f"gave-up-{i}", {"queue": "mobile", "disposition": "abandoned"})
            )
        facts = {"agent_id": "1001", "queue": "mobile", "customer_id": "KH0000000001", "answered_at": 1.0e9}
        bus.publish(BusEvent("call.ended", "talked", facts))
        await bus.drain()
        assert svc.awaiting_cdr == 1
        bus.publish(BusEvent("cdr.posted", "talked", {"LinkedID": "talked", "Recording": "answered.wav"}))
        await bus.drain()
        assert await svc.writer.flush(HEADER_ONLY_STABLE * 3 + 5)
        assert svc.awaiting_cdr == 0
    finally:
        await svc.stop()
        await bus.close()
    async with sessions() as s:
        row = (await s.scalars(select(Recording))).one()
    assert (row.call_id, row.agent_id, row.customer_id) == ("talked", "1001", "KH0000000001")
    await engine.dispose()
