"""Recording paths are contained in the recordings directory: a CDR or a database row naming
``../``, an absolute path or a symlink out can neither be registered, encrypted, served nor purged,
and the file it names stays untouched."""

from __future__ import annotations

import io
import wave
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import select

from core.audit import AuditTrail
from core.db import create_engine, session_factory, unit_of_work
from recordings.config import RecordingsConfig
from recordings.crypto import new_key
from recordings.models import Recording
from recordings.service import RecordingPathRefused, RecordingService
from tongdai.schema import upgrade_to_head


def wav_bytes() -> bytes:
    buf = io.BytesIO()
    with wave.open(buf, "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(8000)
        w.writeframes(b"\x10\x20" * 8000)
    return buf.getvalue()


@pytest.fixture
async def rig(tmp_path: Path) -> AsyncIterator[tuple[RecordingService, Path, Path, AuditTrail]]:
    engine = create_engine(f"sqlite+aiosqlite:///{tmp_path / 'db.sqlite'}")
    await upgrade_to_head(engine)
    rec_dir = tmp_path / "monitor"
    rec_dir.mkdir()
    outside = tmp_path / "secret.wav"
    outside.write_bytes(wav_bytes())
    cfg = RecordingsConfig(dir=rec_dir, settle_seconds=0.3, encryption_key=new_key())
    svc = RecordingService(session_factory(engine), cfg)
    yield svc, rec_dir, outside, AuditTrail(session_factory(engine))
    await engine.dispose()


@pytest.mark.parametrize("hostile", ["../secret.wav", "2026/../../secret.wav", "ABSOLUTE", "", "a\x00b.wav"])
async def test_register_refuses_paths_out_of_the_directory(
    rig: tuple[RecordingService, Path, Path, AuditTrail], hostile: str
) -> None:
    svc, _, outside, _ = rig
    rel = str(outside) if hostile == "ABSOLUTE" else hostile
    before = outside.read_bytes()
    with pytest.raises(RecordingPathRefused):
        await svc.register("c-1", rel, {"agent_id": "1001"})
    # With encryption on, an accepted path would have been encrypted and the clear file deleted.
    assert outside.read_bytes() == before
    assert not list(outside.parent.glob("secret.wav.enc"))


async def test_symlink_out_of_the_directory_is_refused(
    rig: tuple[RecordingService, Path, Path, AuditTrail],
) -> None:
    svc, rec_dir, outside, _ = rig
    (rec_dir / "link.wav").symlink_to(outside)
    with pytest.raises(RecordingPathRefused, match="leaves"):
        await svc.register("c-1", "link.wav", {})
    assert outside.exists()


async def test_rows_pointing_out_are_neither_served_nor_purged(
    rig: tuple[RecordingService, Path, Path, AuditTrail],
) -> None:
    svc, _, outside, audit = rig
    old = datetime.now(UTC) - timedelta(days=400)
    async with unit_of_work(svc._sessions) as s:
        s.add(Recording(call_id="c-evil", path="../secret.wav", started_at=old, agent_id="1001"))
    with pytest.raises(RecordingPathRefused):
        await svc.open_for("c-evil", "9000", "supervisor", audit)
    missing, _ = await svc.check()
    assert missing == ["c-evil"]
    assert await svc.purge() == 1  # the row goes with retention …
    assert outside.exists()  # … the file outside is never touched
    async with svc._sessions() as s:
        assert (await s.scalar(select(Recording).where(Recording.call_id == "c-evil"))) is None


async def test_a_normal_recording_still_registers_encrypted(
    rig: tuple[RecordingService, Path, Path, AuditTrail],
) -> None:
    svc, rec_dir, _, audit = rig
    (rec_dir / "2026" / "12").mkdir(parents=True)
    (rec_dir / "2026/12/call.wav").write_bytes(wav_bytes())
    rec = await svc.register("c-ok", "2026/12/call.wav", {"agent_id": "1001"})
    assert rec.status == "ok" and rec.path == "2026/12/call.wav.enc"
    assert not (rec_dir / "2026/12/call.wav").exists() and (rec_dir / "2026/12/call.wav.enc").exists()
    path = await svc.open_for("c-ok", "1001", "agent", audit)
    assert path == (rec_dir / "2026/12/call.wav.enc").resolve()
