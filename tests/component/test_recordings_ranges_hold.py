"""Playback by byte ranges (seeking) of a recording encrypted at rest, whole-file and range answers
equal to the clear audio; each request audited with its range; the legal hold (supervisors, audited)
keeps a recording through retention until released; search by queue and disposition; the spans a
recording was paused, marked on it."""

from __future__ import annotations

import os
import wave
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from sqlalchemy import select

from core.audit import AuditTrail
from core.config import LegalHold
from core.db import unit_of_work
from core.models import AuditEntry
from crm_bridge.models import Customer, Interaction
from recordings import crypto
from recordings.models import RecordingPause
from tests.support.api_client import logged_in
from tests.support.desktop import login
from tests.support.settings import free_port, make_settings
from tongdai.app import Bridge

CALL = "ast1-7.0"
SECONDS = 70  # 8 kHz 16-bit: 1.1 MB, so the audio spans two encrypted chunks


@pytest.fixture
async def enc(tmp_path: Path) -> AsyncIterator[tuple[Bridge, bytes]]:
    port = free_port()
    rec_dir = tmp_path / "monitor"
    (rec_dir / "2026/12/04").mkdir(parents=True)
    clear = rec_dir / "2026/12/04/call-r.wav"
    with wave.open(str(clear), "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(8000)
        w.writeframes(os.urandom(2 * 8000 * SECONDS))
    audio = clear.read_bytes()
    b = Bridge(
        make_settings(
            node={"data_dir": str(tmp_path / "var")},
            database={"url": f"sqlite+aiosqlite:///{tmp_path / 'db.sqlite'}"},
            web={"port": port, "allowed_origins": [f"http://127.0.0.1:{port}"]},
            recordings={"dir": str(rec_dir), "encryption_key": crypto.new_key(), "settle_seconds": 0.5},
            cdr={"csv_path": str(tmp_path / "none.csv")},
        )
    )
    await b.start(connect_ami=False)
    assert b.recordings is not None and b.sessions is not None
    await b.recordings.register(
        CALL,
        "2026/12/04/call-r.wav",
        {"agent_id": "1001", "queue": "mobile", "customer_id": "KH0000000009", "caller_number": "0912000111"},
    )
    try:
        yield b, audio
    finally:
        await b.stop()


def base(b: Bridge) -> str:
    return f"http://127.0.0.1:{b.web_port}"


async def test_seeking_in_an_encrypted_recording_answers_exact_ranges(enc: tuple[Bridge, bytes]) -> None:
    b, audio = enc
    size = len(audio)
    assert size > crypto.CHUNK
    async with aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True)) as sup:
        await login(sup, base(b), "9000", "demo-9000")
        url = f"{base(b)}/api/recordings/{CALL}/audio"
        async with sup.get(url) as r:
            assert r.status == 200 and r.headers["Accept-Ranges"] == "bytes"
            assert int(r.headers["Content-Length"]) == size and await r.read() == audio
        edge = crypto.CHUNK
        cases = {
            "bytes=0-": (0, size - 1),
            "bytes=0-43": (0, 43),  # the WAV header
            f"bytes={edge - 10}-{edge + 9}": (edge - 10, edge + 9),  # across the chunk boundary
            f"bytes={edge + 5}-": (edge + 5, size - 1),  # a seek past the first chunk
            "bytes=-100": (size - 100, size - 1),
            f"bytes=100-{size + 5000}": (100, size - 1),  # a last byte past the end is cut
        }
        for header, (first, last) in cases.items():
            async with sup.get(url, headers={"Range": header}) as r:
                assert r.status == 206, header
                assert r.headers["Content-Range"] == f"bytes {first}-{last}/{size}", header
                body = await r.read()
            assert body == audio[first : last + 1], header
        async with sup.get(url, headers={"Range": f"bytes={size}-"}) as r:
            assert r.status == 416 and r.headers["Content-Range"] == f"bytes */{size}"
        async with sup.get(f"{url}?download=true") as r:
            assert r.status == 200 and "attachment" in r.headers["Content-Disposition"]
            assert await r.read() == audio
    assert b.sessions is not None
    async with b.sessions() as s:
        rows = list(await s.scalars(select(AuditEntry).where(AuditEntry.subject_id == CALL)))
    plays = [r.detail for r in rows if r.action == "recording.play" and r.actor == "9000"]
    assert "" in plays and f"bytes={edge + 5}-" in plays  # every request, its range named
    assert any(r.action == "recording.download" for r in rows)


async def test_a_legal_hold_keeps_a_recording_through_retention_until_released(
    enc: tuple[Bridge, bytes],
) -> None:
    b, _ = enc
    assert b.recordings is not None and b.sessions is not None
    later = datetime.now(UTC) + timedelta(days=1)
    agent = await logged_in(base(b), "1001")
    sup = await logged_in(base(b), "9000")
    try:
        status, body = await agent.send("POST", f"/api/recordings/{CALL}/hold", {"reason": "Lệnh 12/TA"})
        assert status == 403, body
        status, body = await sup.send("POST", f"/api/recordings/{CALL}/hold", {"reason": ""})
        assert status == 400, body  # a hold states its reason
        status, body = await sup.send("POST", f"/api/recordings/{CALL}/hold", {"reason": "Lệnh 12/TA"})
        assert status == 200 and body["legal_hold"] is True, body
        status, found = await sup.send("GET", "/api/recordings?queue=mobile")
        assert [(f["call_id"], f["legal_hold"], f["legal_hold_reason"]) for f in found] == [
            (CALL, True, "Lệnh 12/TA")
        ]
        assert await b.recordings.purge_before(later, LegalHold()) == 0  # held: retention skips it
        status, body = await sup.send(
            "POST", f"/api/recordings/{CALL}/release", {"reason": "Vụ việc đã xong"}
        )
        assert status == 200 and body["legal_hold"] is False
        async with unit_of_work(b.sessions) as s:  # a span paused on it goes with it
            s.add(RecordingPause(call_id=CALL, paused_at=datetime.now(UTC), paused_by="1001"))
        assert await b.recordings.purge_before(later, LegalHold()) == 1
        async with b.sessions() as s:
            assert not list(await s.scalars(select(RecordingPause)))
    finally:
        await agent.http.close()
        await sup.http.close()
    async with b.sessions() as s:
        acts = [
            (r.actor, r.action, r.detail)
            for r in await s.scalars(select(AuditEntry).where(AuditEntry.subject_id == CALL))
        ]
    assert ("9000", "recording.hold", "Lệnh 12/TA") in acts
    assert ("9000", "recording.release", "Vụ việc đã xong") in acts


async def test_search_by_queue_and_disposition_and_the_pause_spans(enc: tuple[Bridge, bytes]) -> None:
    b, _ = enc
    assert b.recordings is not None and b.sessions is not None
    async with unit_of_work(b.sessions) as s:
        s.add(Customer(customer_id="KH0000000009", full_name="Lê Văn C", name_search="le van c"))
    async with unit_of_work(b.sessions) as s:
        s.add(
            Interaction(
                customer_id="KH0000000009",
                kind="call",
                at=datetime.now(UTC),
                call_id=CALL,
                disposition="resolved",
            )
        )
    actions: list[tuple[str, dict[str, Any]]] = []

    async def ami(name: str, fields: dict[str, Any]) -> None:
        actions.append((name, fields))

    rec = await b.recordings.recording(CALL)
    async with unit_of_work(b.sessions) as s:  # the call was answered 30 s ago
        row = await s.get(type(rec), rec.id)
        assert row is not None
        row.started_at = datetime.now(UTC) - timedelta(seconds=30)
    await b.recordings.set_paused(
        ami, "PJSIP/1001-1", paused=True, who="1001", call_id=CALL, audit=AuditTrail(b.sessions)
    )
    await b.recordings.set_paused(
        ami, "PJSIP/1001-1", paused=False, who="1001", call_id=CALL, audit=AuditTrail(b.sessions)
    )
    assert [f["State"] for _, f in actions] == ["1", "0"]
    assert all(n == "MixMonitorMute" and f["Direction"] == "both" for n, f in actions)
    async with aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True)) as sup:
        await login(sup, base(b), "9000", "demo-9000")
        for q, n in (
            ("disposition=resolved", 1),
            ("disposition=callback", 0),
            ("queue=tv", 0),
            ("queue=mobile", 1),
        ):
            async with sup.get(f"{base(b)}/api/recordings?{q}") as r:
                found = await r.json()
            assert len(found) == n, q
        async with sup.get(f"{base(b)}/api/recordings?disposition=resolved") as r:
            (one,) = await r.json()
    assert one["disposition"] == "resolved" and one["encrypted"] is True
    ((start, end),) = one["pauses"]
    assert 29 <= start <= end <= 32, one["pauses"]
