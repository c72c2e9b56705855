"""Recording playback: supervisors play any call, agents only their own, every playback audited."""

from __future__ import annotations

import hashlib
import os
import wave
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path

import aiohttp
import pytest
from sqlalchemy import select

from core.db import unit_of_work
from core.errors import ConfigError
from core.models import AuditEntry
from recordings import crypto
from recordings.models import Recording
from tests.support.desktop import login
from tests.support.settings import REPO, SIMPLE_IVR, TEST_QUEUES, free_port, make_settings
from tongdai.app import Bridge
from tongdai.settings import parse_config


@pytest.fixture
async def bridge(tmp_path: Path) -> AsyncIterator[Bridge]:
    port = free_port()
    rec_dir = tmp_path / "monitor"
    settings = make_settings(
        node={"data_dir": str(tmp_path / "var")},
        database={"url": f"sqlite+aiosqlite:///{tmp_path / 'db.sqlite'}"},
        web={"port": port, "allowed_origins": [f"http://127.0.0.1:{port}"]},
        queues=TEST_QUEUES,
        ivr=SIMPLE_IVR,
        recordings={"dir": str(rec_dir)},
        cdr={"csv_path": str(tmp_path / "none.csv")},
        asterisk={"agi": {"port": free_port()}},
    )
    b = Bridge(settings)
    await b.start(connect_ami=False)
    # A 2-second recording of a call answered by agent 1001.
    (rec_dir / "2026/11/23").mkdir(parents=True)
    with wave.open(str(rec_dir / "2026/11/23/call-a.wav"), "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(8000)
        w.writeframes(b"\0\0" * 16000)
    assert b.sessions is not None
    async with unit_of_work(b.sessions) as s:
        s.add(
            Recording(
                call_id="ast1-1.0",
                path="2026/11/23/call-a.wav",
                customer_id="KH0000000001",
                caller_number="0912345678",
                agent_id="1001",
                queue="mobile",
                started_at=datetime.now(UTC),
                duration_seconds=2.0,
                size_bytes=32044,
            )
        )
    yield b
    await b.stop()


async def test_playback_rights_and_audit(bridge: Bridge) -> None:
    base = f"http://127.0.0.1:{bridge.web_port}"
    jar = aiohttp.CookieJar(unsafe=True)
    async with aiohttp.ClientSession(cookie_jar=jar) as other:
        await login(other, base, "1002", "demo-1002")
        async with other.get(f"{base}/api/recordings/ast1-1.0/audio") as r:
            assert r.status == 403
        async with other.get(f"{base}/api/recordings") as r:
            assert await r.json() == []  # agents search only their own calls
    async with aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True)) as owner:
        await login(owner, base, "1001", "demo-1001")
        async with owner.get(f"{base}/api/recordings/ast1-1.0/audio") as r:
            assert r.status == 200
            body = await r.read()
        assert len(body) == 32044
        # Writes need the CSRF token: a cross-site POST is refused.
        async with owner.post(f"{base}/api/recordings/ast1-1.0/pause") as r:
            assert r.status == 403
    async with aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True)) as sup:
        await login(sup, base, "9000", "demo-9000")
        async with sup.get(f"{base}/api/recordings?customer_id=KH0000000001") as r:
            found = await r.json()
        assert [f["call_id"] for f in found] == ["ast1-1.0"]
        async with sup.get(f"{base}/api/recordings/ast1-1.0/audio") as r:
            assert r.status == 200
    assert bridge.sessions is not None
    async with bridge.sessions() as s:
        audit = [(a.actor, a.action) for a in await s.scalars(select(AuditEntry).order_by(AuditEntry.id))]
    assert ("1002", "recording.denied") in audit
    assert ("1001", "recording.play") in audit and ("9000", "recording.play") in audit


async def test_encrypted_at_rest_and_played_back_in_clear(tmp_path: Path) -> None:
    """With a key set, the stored file is ciphertext only; playback streams the original audio."""
    key = crypto.new_key()
    port = free_port()
    rec_dir = tmp_path / "monitor"
    (rec_dir / "2026/11/23").mkdir(parents=True)
    clear = rec_dir / "2026/11/23/call-b.wav"
    with wave.open(str(clear), "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(8000)
        w.writeframes(os.urandom(2 * 8000 * 3))  # 3 s
    audio = clear.read_bytes()
    b = Bridge(
        make_settings(
            node={"data_dir": str(tmp_path / "var")},
            database={"url": f"sqlite+aiosqlite:///{tmp_path / 'db.sqlite'}"},
            web={"port": port, "allowed_origins": [f"http://127.0.0.1:{port}"]},
            recordings={"dir": str(rec_dir), "encryption_key": key, "settle_seconds": 0.5},
            cdr={"csv_path": str(tmp_path / "none.csv")},
            asterisk={"agi": {"port": free_port()}},
        )
    )
    await b.start(connect_ami=False)
    try:
        assert b.recordings is not None
        rec = await b.recordings.register("ast1-2.0", "2026/11/23/call-b.wav", {"agent_id": "1001"})
        assert rec.path == "2026/11/23/call-b.wav.enc" and rec.status == "ok"
        assert abs(rec.duration_seconds - 3.0) < 0.01 and rec.sha256 == hashlib.sha256(audio).hexdigest()
        assert not clear.exists(), "the clear file must not stay on disk"
        assert b"RIFF" not in (rec_dir / rec.path).read_bytes()[:64]
        assert await b.recordings.check() == ([], [])
        base = f"http://127.0.0.1:{b.web_port}"
        async with aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True)) as sup:
            await login(sup, base, "9000", "demo-9000")
            async with sup.get(f"{base}/api/recordings/ast1-2.0/audio") as r:
                assert r.status == 200 and r.headers["Content-Type"] == "audio/wav"
                assert await r.read() == audio
            # A damaged file is refused, not played as noise.
            sealed = bytearray((rec_dir / rec.path).read_bytes())
            sealed[-5] ^= 0xFF
            (rec_dir / rec.path).write_bytes(bytes(sealed))
            async with sup.get(f"{base}/api/recordings/ast1-2.0/audio") as r:
                assert r.status == 500 and "integrity" in await r.text()
    finally:
        await b.stop()


def test_a_bad_encryption_key_is_a_config_error_naming_the_key() -> None:
    text = (REPO / "config.yaml").read_text()
    with pytest.raises(ConfigError, match=r"recordings\.encryption_key.*32 bytes"):
        parse_config(text, env={"TONGDAI__RECORDINGS__ENCRYPTION_KEY": "c2hvcnQ="})
    key = crypto.new_key()
    assert parse_config(text, env={"TONGDAI__RECORDINGS__ENCRYPTION_KEY": key}).recordings.key()
