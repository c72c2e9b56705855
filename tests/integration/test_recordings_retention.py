"""Retention purges old recordings but keeps disputed ones; the check finds missing and orphan files."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

from core.db import create_engine, session_factory, unit_of_work
from recordings.config import RecordingsConfig
from recordings.models import Recording
from recordings.service import RecordingService
from tongdai.schema import upgrade_to_head


async def test_purge_and_check(db_url: str, tmp_path: Path) -> None:
    engine = create_engine(db_url)
    await upgrade_to_head(engine)
    sessions = session_factory(engine)
    rec_dir = tmp_path / "monitor"
    rec_dir.mkdir()
    old = datetime.now(UTC) - timedelta(days=400)
    for name in ("old.wav", "disputed.wav", "new.wav", "orphan.wav"):
        (rec_dir / name).write_bytes(b"RIFF" + b"\0" * 100)
    async with unit_of_work(sessions) as s:
        s.add_all(
            [
                Recording(call_id="c-old", path="old.wav", started_at=old),
                Recording(call_id="c-disputed", path="disputed.wav", started_at=old, dispute=True),
                Recording(call_id="c-new", path="new.wav", started_at=datetime.now(UTC)),
                Recording(call_id="c-lost", path="lost.wav", started_at=datetime.now(UTC)),
            ]
        )
    svc = RecordingService(sessions, RecordingsConfig(dir=rec_dir, retention_days=365))
    assert await svc.purge() == 1
    assert not (rec_dir / "old.wav").exists() and (rec_dir / "disputed.wav").exists()
    missing, orphans = await svc.check()
    assert missing == ["c-lost"] and orphans == ["orphan.wav"]
    await engine.dispose()
