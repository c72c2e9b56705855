"""Backup and restore of a loaded node on SQLite and PostgreSQL: the archive is written while the
database is open, the node is wiped, and the restore brings back the same rows, the same recording
(encrypted at rest, still playable), the spooled CDR and a call that re-rates to the same amount. A
damaged archive or a restore over live data is refused with nothing written."""

from __future__ import annotations

import io
import tarfile
import wave
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import func, select, text

from backup import database
from backup.archive import NodeFiles, create_backup, restore_backup
from backup.errors import RestoreRefused
from billing.cdr import CdrIngest
from billing.models import CdrRecord, RatedCall
from billing.rating import Rater
from billing.tariffs import BillingConfig
from core.audit import AuditTrail
from core.db import create_engine, session_factory, unit_of_work
from crm_bridge.demo_data import load_demo
from recordings.crypto import decrypt_chunks, encrypt_file, new_key, parse_key
from recordings.models import Recording
from tests.support.cdrs import CDR as BASE_CDR
from tongdai.schema import upgrade_to_head

CDR = {**BASE_CDR, "Recording": "2026/11/23/call-1.wav"}


def _wav(path: Path, seconds: float = 1.0) -> bytes:
    buf = io.BytesIO()
    with wave.open(buf, "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(8000)
        w.writeframes(bytes((i * 37) % 256 for i in range(int(16000 * seconds))))
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(buf.getvalue())
    return buf.getvalue()


async def _wipe(url: str) -> None:
    if url.startswith("sqlite"):
        path = database.sqlite_path(url)
        for p in (path, path.with_name(path.name + "-wal"), path.with_name(path.name + "-shm")):
            p.unlink(missing_ok=True)
        return
    engine = create_engine(url)
    async with engine.begin() as conn:
        await conn.execute(text("DROP SCHEMA public CASCADE"))
        await conn.execute(text("CREATE SCHEMA public"))
    await engine.dispose()


class Loaded:
    def __init__(self, node: NodeFiles, key: bytes, clear_audio: bytes, total: int) -> None:
        self.node, self.key, self.clear_audio, self.total = node, key, clear_audio, total


@pytest.fixture
async def loaded(db_url: str, tmp_path: Path) -> AsyncIterator[Loaded]:
    """A node with customers, a rated CDR, an encrypted recording, an audit row and a spooled CDR."""
    engine = create_engine(db_url)
    await upgrade_to_head(engine)
    sessions = session_factory(engine)
    await load_demo(engine, 50)
    spool = tmp_path / "var" / "spool"
    ingest = CdrIngest(sessions, spool, "ast1", Rater(BillingConfig()))
    assert await ingest.ingest(CDR) is True
    # A CDR that arrived while the database was down: only the spool holds it.
    down = create_engine("postgresql+asyncpg://postgres@127.0.0.1:1/nowhere")
    await CdrIngest(session_factory(down), spool, "ast1").ingest({**CDR, "UniqueID": "ast1-1795400000.2"})
    await down.dispose()

    key_text = new_key()
    rec_dir = tmp_path / "monitor"
    clear = _wav(tmp_path / "clear.wav")
    encrypted = rec_dir / "2026/11/23/call-1.wav.enc"
    encrypted.parent.mkdir(parents=True)
    encrypt_file(tmp_path / "clear.wav", encrypted, parse_key(key_text))
    async with unit_of_work(sessions) as s:
        s.add(
            Recording(
                call_id="ast1-1795400000.0",
                path="2026/11/23/call-1.wav.enc",
                started_at=datetime(2026, 11, 23, 2, tzinfo=UTC),
                duration_seconds=1.0,
                size_bytes=encrypted.stat().st_size,
            )
        )
    await AuditTrail(sessions)("9000", "recording.play", "call", "ast1-1795400000.0")
    async with sessions() as s:
        total = (await s.scalars(select(RatedCall.total))).one()
    await engine.dispose()

    config = tmp_path / "config.yaml"
    config.write_text("node:\n  name: tongdai-1\n", encoding="utf-8")
    node = NodeFiles(
        node="tongdai-1",
        database_url=db_url,
        recordings_dir=rec_dir,
        spool_dir=spool,
        config_path=config,
        data_dir=tmp_path / "var",
        environment={"TONGDAI__RECORDINGS__ENCRYPTION_KEY": key_text, "HOME": "/root"},
    )
    yield Loaded(node, parse_key(key_text), clear, total)


async def test_backup_wipe_restore_gives_the_node_back(loaded: Loaded, tmp_path: Path) -> None:
    node = loaded.node
    before = await database.row_counts(node.database_url)
    assert before["crm_customers"] >= 50 and before["cdrs"] == 1 and before["audit_log"] == 1
    archive = tmp_path / "backups" / "node.tar.gz"
    manifest = await create_backup(node, archive)
    assert archive.stat().st_mode & 0o077 == 0  # secrets and personal data: owner only
    assert manifest.row_counts == before and manifest.schema_revision
    assert "recordings/2026/11/23/call-1.wav.enc" in manifest.files
    assert "spool/cdr-spool.jsonl" in manifest.files and "secrets.env" in manifest.files

    await _wipe(node.database_url)
    for d in (node.recordings_dir, node.spool_dir):
        for p in sorted(d.rglob("*"), reverse=True):
            p.unlink() if p.is_file() else p.rmdir()
    assert node.config_path is not None
    node.config_path.unlink()
    assert await database.row_counts(node.database_url) == {}

    report = await restore_backup(archive, node)
    assert await database.row_counts(node.database_url) == before
    assert report.recordings == 1 and report.spooled_cdrs == 1
    assert node.config_path.read_text(encoding="utf-8") == "node:\n  name: tongdai-1\n"
    assert report.secrets_file is not None
    assert "TONGDAI__RECORDINGS__ENCRYPTION_KEY=" in report.secrets_file.read_text(encoding="utf-8")
    assert "HOME" not in report.secrets_file.read_text(encoding="utf-8")
    # The encrypted recording still plays, byte for byte.
    enc = node.recordings_dir / "2026/11/23/call-1.wav.enc"
    assert b"".join(decrypt_chunks(enc, loaded.key)) == loaded.clear_audio

    # The restored node works: the spooled CDR drains in, and the call re-rates to the same amount.
    engine = create_engine(node.database_url)
    sessions = session_factory(engine)
    ingest = CdrIngest(sessions, node.spool_dir, "ast1", Rater(BillingConfig()))
    assert await ingest.drain_spool() == 1
    rerated = await ingest.rerate(
        Rater(BillingConfig()), datetime(2026, 11, 1, tzinfo=UTC), datetime(2026, 12, 1, tzinfo=UTC)
    )
    assert rerated == 2
    async with sessions() as s:
        totals = list(await s.scalars(select(RatedCall.total).order_by(RatedCall.id)))
        assert await s.scalar(select(func.count()).select_from(CdrRecord)) == 2
    assert totals == [loaded.total, loaded.total]  # same CDR shape, same tariff: the same amount
    await engine.dispose()


async def test_restore_refuses_a_damaged_archive_and_writes_nothing(loaded: Loaded, tmp_path: Path) -> None:
    node = loaded.node
    archive = tmp_path / "node.tar.gz"
    await create_backup(node, archive)
    damaged = tmp_path / "damaged.tar.gz"
    with tarfile.open(archive, "r:gz") as src, tarfile.open(damaged, "w:gz") as dst:
        for member in src.getmembers():
            data = src.extractfile(member)
            assert data is not None
            body = data.read()
            if member.name.startswith("recordings/"):
                body = body[:-1] + bytes([body[-1] ^ 1])  # one flipped bit in the recording
            dst.addfile(member, io.BytesIO(body))
    await _wipe(node.database_url)
    with pytest.raises(RestoreRefused, match="checksum mismatch for recordings/"):
        await restore_backup(damaged, node)
    assert await database.row_counts(node.database_url) == {}  # nothing written

    (tmp_path / "not-a-backup.tar.gz").write_bytes(b"hello")
    with pytest.raises(RestoreRefused, match="cannot read"):
        await restore_backup(tmp_path / "not-a-backup.tar.gz", node)


async def test_restore_over_live_data_needs_force(loaded: Loaded, tmp_path: Path) -> None:
    node = loaded.node
    archive = tmp_path / "node.tar.gz"
    await create_backup(node, archive)
    with pytest.raises(RestoreRefused, match="holds data"):
        await restore_backup(archive, node)
    report = await restore_backup(archive, node, force=True)
    assert report.manifest.row_counts == await database.row_counts(node.database_url)
