"""The recordings page in headless Chromium on a real bridge without Asterisk, recordings encrypted at
rest: a supervisor finds a call by agent, queue and day, plays it and seeks far into it (the audio
element asks a byte range the server decrypts: a 206 from the middle of the file), places a legal
hold; every request is audited. An agent finds only their own calls and cannot play another agent's
(403, audited as denied). axe-core finds no serious violation; no page error."""

from __future__ import annotations

import array
import math
import os
import tempfile
import wave
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from agent_desktop.i18n import CATALOGUE
from core.db import unit_of_work
from core.models import AuditEntry
from core.vietnam import VN_TZ
from crm_bridge.models import Customer, Interaction
from recordings import crypto
from recordings.models import RecordingPause
from tests.browser.support import axe_violations, describe, log_in, watch_of
from tests.support.settings import free_port, make_settings
from tongdai.app import Bridge

pytestmark = [pytest.mark.browser]

SHOTS = (
    Path(__file__).resolve().parents[2] / "docs" / "screenshots"
    if os.environ.get("TONGDAI_SCREENSHOTS")
    else Path(tempfile.mkdtemp(prefix="tongdai-shots-"))
)
RP = CATALOGUE["vi"]["recpage"]
MINUTES = 10  # long enough that Chromium does not buffer it all before the seek
SEEK = 500.0  # seconds
RATE = 8000


def tone_wav(path: Path, seconds: int) -> None:
    """A 440 Hz tone (so the player really has audio to play), 16-bit mono 8 kHz, as MixMonitor writes."""
    second = array.array("h", (int(8000 * math.sin(2 * math.pi * 440 * i / RATE)) for i in range(RATE)))
    path.parent.mkdir(parents=True, exist_ok=True)
    with wave.open(str(path), "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(RATE)
        frames = second.tobytes()
        for _ in range(seconds):
            w.writeframes(frames)


@pytest.fixture
async def recs(tmp_path: Path) -> AsyncIterator[Bridge]:
    port = free_port()
    rec_dir = tmp_path / "monitor"
    b = Bridge(
        make_settings(
            node={"name": "rec-test", "data_dir": str(tmp_path / "var")},
            database={"url": f"sqlite+aiosqlite:///{tmp_path / 'rec.db'}"},
            web={"port": port, "allowed_origins": [f"http://127.0.0.1:{port}"]},
            redis={"url": None},
            recordings={"dir": str(rec_dir), "encryption_key": crypto.new_key(), "settle_seconds": 0.5},
        )
    )
    await b.start(connect_ami=False)
    assert b.recordings is not None
    tone_wav(rec_dir / "2026/12/04/a.wav", MINUTES * 60)
    tone_wav(rec_dir / "2026/12/04/b.wav", 20)
    answered = datetime(2026, 12, 4, 9, 30, tzinfo=VN_TZ).timestamp()
    facts = {"queue": "mobile", "answered_at": answered, "ended_at": answered + MINUTES * 60}
    await b.recordings.register(
        "ast1-100.0",
        "2026/12/04/a.wav",
        {**facts, "agent_id": "1001", "customer_id": "KH0000000001", "caller_number": "+84912345678"},
    )
    await b.recordings.register(
        "ast1-101.0",
        "2026/12/04/b.wav",
        {**facts, "agent_id": "1002", "queue": "tv", "caller_number": "+84987654321"},
    )
    # The agent's wrap-up code, and a span paused for a card number 42 s into the call.
    assert b.sessions is not None
    at = datetime.fromtimestamp(answered, UTC)
    async with unit_of_work(b.sessions) as s:
        s.add(Customer(customer_id="KH0000000001", full_name="Nguyễn Văn An", name_search="nguyen van an"))
    async with unit_of_work(b.sessions) as s:
        s.add(
            Interaction(
                customer_id="KH0000000001", kind="call", at=at, call_id="ast1-100.0", disposition="sale"
            )
        )
        s.add(
            RecordingPause(
                call_id="ast1-100.0",
                paused_at=at + timedelta(seconds=42),
                resumed_at=at + timedelta(seconds=51),
            )
        )
    yield b
    await b.stop()


async def _audit(b: Bridge) -> list[tuple[str, str, str, str]]:
    assert b.sessions is not None
    async with b.sessions() as s:
        rows = await s.scalars(
            select(AuditEntry).where(AuditEntry.subject_type == "recording").order_by(AuditEntry.id)
        )
        return [(r.actor, r.action, r.subject_id, r.detail) for r in rows]


async def test_a_supervisor_finds_plays_and_seeks_an_encrypted_recording(recs: Bridge, browser: Any) -> None:
    from playwright.async_api import expect

    base = f"http://127.0.0.1:{recs.web_port}"
    page = await log_in(browser, base, "9000")
    await page.get_by_role("link", name=RP["title"]).click()
    await page.wait_for_url(f"{base}/recordings?lang=vi")
    await page.wait_for_selector("#link.up", timeout=15000)
    await expect(page.get_by_test_id("rec-row")).to_have_count(2)  # supervisors: every call

    form = page.get_by_test_id("rec-search")
    await form.get_by_test_id("rec-agent").select_option("1001")
    await form.get_by_test_id("rec-queue").select_option("mobile")
    await form.get_by_test_id("rec-since").fill("31/02/2026")  # no such day: refused, translated
    await page.get_by_test_id("rec-find").click()
    await expect(page.get_by_test_id("rec-msg")).to_have_text(RP["bad_date"])
    await form.get_by_test_id("rec-since").fill("04/12/2026")  # dd/mm/yyyy
    await form.get_by_test_id("rec-until").fill("04/12/2026")
    await page.get_by_test_id("rec-find").click()
    rows = page.get_by_test_id("rec-row")
    await expect(rows).to_have_count(1)
    await expect(rows.first).to_contain_text("0912345678")
    await expect(rows.first).to_contain_text("10:00")  # the duration, m:ss
    await expect(rows.first).to_contain_text("Bán hàng / nâng gói")  # the disposition's label
    await expect(rows.first.get_by_test_id("rec-pauses")).to_have_text("0:42–0:51")
    await form.get_by_test_id("rec-since").fill("05/12/2026")  # the day after: nothing
    await form.get_by_test_id("rec-until").fill("05/12/2026")
    await page.get_by_test_id("rec-find").click()
    await expect(page.get_by_test_id("rec-none")).to_be_visible()
    await form.get_by_test_id("rec-since").fill("04/12/2026")
    await form.get_by_test_id("rec-until").fill("04/12/2026")
    await page.get_by_test_id("rec-find").click()
    await expect(rows).to_have_count(1)

    ranges: list[tuple[int, str]] = []
    page.on(
        "response",
        lambda r: (
            ranges.append((r.status, r.headers.get("content-range", "")))
            if "/api/recordings/ast1-100.0/audio" in r.url
            else None
        ),
    )
    await rows.first.get_by_test_id("rec-play").click()
    audio = page.get_by_test_id("rec-audio")
    await page.wait_for_function(
        "() => { const a = document.getElementById('rec-audio'); return a.currentTime > 0.3 && !a.paused; }",
        timeout=20000,
    )
    duration = await audio.evaluate("a => a.duration")
    assert abs(duration - MINUTES * 60) < 1, duration
    await audio.evaluate(f"a => {{ a.currentTime = {SEEK}; }}")  # the user drags the slider
    past = f"() => {{ const a = document.getElementById('rec-audio'); return a.currentTime > {SEEK + 0.3}; }}"
    await page.wait_for_function(past, timeout=20000)
    # The seek was served by a range from the middle of the file, decrypted by the server.
    starts = [int(cr.split(" ")[1].split("-")[0]) for status, cr in ranges if status == 206 and cr]
    assert any(s > 2 * RATE * (SEEK - 30) for s in starts), ranges
    await expect(page.get_by_test_id("rec-playing")).to_contain_text("ast1-100.0")

    # A legal hold, with its reason.
    page.once("dialog", lambda d: d.accept("Công văn 45/CA"))
    await rows.first.get_by_test_id("rec-hold").click()
    await expect(rows.first.get_by_test_id("rec-held")).to_be_visible()
    await audio.evaluate("a => a.pause()")
    violations = await axe_violations(page, base)
    assert not violations, describe(violations)
    await page.screenshot(path=str(SHOTS / "recordings.png"), full_page=True)
    assert not watch_of(page).errors and not watch_of(page).csp, (watch_of(page).errors, watch_of(page).csp)

    acts = await _audit(recs)
    plays = [a for a in acts if a[:3] == ("9000", "recording.play", "ast1-100.0")]
    assert len(plays) >= 2 and any(a[3].startswith("bytes=") and a[3] != "bytes=0-" for a in plays), plays
    assert ("9000", "recording.hold", "ast1-100.0", "Công văn 45/CA") in acts
    await page.context.close()


async def test_an_agent_finds_only_their_calls_and_cannot_play_another_agents(
    recs: Bridge, browser: Any
) -> None:
    from playwright.async_api import expect

    base = f"http://127.0.0.1:{recs.web_port}"
    page = await log_in(browser, base, "1002", "/recordings")
    rows = page.get_by_test_id("rec-row")
    await expect(rows).to_have_count(1)
    await expect(rows.first).to_contain_text("0987654321")
    await expect(page.get_by_test_id("rec-agent")).to_have_count(0)  # no agent filter for agents
    await expect(page.get_by_test_id("rec-hold")).to_have_count(0)  # nor legal holds
    # 1001's call, asked for directly with 1002's session: refused, and the attempt audited.
    r = await page.request.get(f"{base}/api/recordings/ast1-100.0/audio", headers={"Range": "bytes=0-"})
    assert r.status == 403
    ok = await page.request.get(f"{base}/api/recordings/ast1-101.0/audio", headers={"Range": "bytes=0-99"})
    assert ok.status == 206 and (await ok.body())[:4] == b"RIFF"
    assert ("1002", "recording.denied", "ast1-100.0", "") in await _audit(recs)
    assert not watch_of(page).errors, watch_of(page).errors
    await page.context.close()
