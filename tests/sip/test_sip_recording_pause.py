"""The pause for card data on the real Asterisk with real media: a carrier's call (SIPp, G.711 speech
from /usr/share/sip-tester/g711a.pcap) answered by a registered SIP phone that echoes it, so both
directions carry speech. The agent pauses the recording through the API while the customer "reads a
card number", then resumes; the recording is silent over exactly the span marked in its metadata and
carries speech before and after it (RMS per 100 ms window of the WAV MixMonitor wrote)."""

from __future__ import annotations

import array
import asyncio
import math
import wave
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from sqlalchemy import select

from agent_desktop.i18n import CATALOGUE
from core.ami import AmiClient
from core.models import AuditEntry
from recordings.models import Recording
from tests.asterisk.conftest import AsteriskSandbox, eventually
from tests.browser.conftest import browser
from tests.browser.support import new_page
from tests.support.api_client import Client
from tests.support.desktop import login, next_frame
from tests.support.sip import CARRIER_IP, DID, SIP_AGENT, registered_phone, start_sipp
from tongdai.app import Bridge

pytestmark = [pytest.mark.sip, pytest.mark.asterisk]
__all__ = ["browser"]  # the fixture, imported

WINDOW = 0.1  # seconds per RMS window
SILENT = 30.0  # RMS of silence (16-bit full scale 32767); speech measures in the thousands
EDGE = 0.35  # seconds of slack at each end of the span: the AMI reply vs the frame MixMonitor muted
TALK_BEFORE, PAUSED_FOR, TALK_AFTER = 4.0, 5.0, 4.0


def rms_windows(path: Path) -> list[float]:
    with wave.open(str(path)) as w:
        assert w.getsampwidth() == 2 and w.getnchannels() == 1
        rate = w.getframerate()
        samples = array.array("h", w.readframes(w.getnframes()))
    n = int(rate * WINDOW)
    return [math.sqrt(sum(s * s for s in samples[i : i + n]) / n) for i in range(0, len(samples) - n + 1, n)]


def between(windows: list[float], start: float, end: float) -> list[float]:
    """The windows lying wholly inside [start, end] seconds."""
    first, last = math.ceil(start / WINDOW), math.floor(end / WINDOW)
    return windows[first:last]


async def test_the_pause_button_silences_the_recording_over_its_span(
    sip_bridge: Bridge, asterisk_sandbox: AsteriskSandbox, ami: AmiClient, tmp_path: Path
) -> None:
    bridge = sip_bridge
    async with aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True)) as http:
        await _paused_call(bridge, asterisk_sandbox, ami, http, tmp_path / "sipp")


async def _paused_call(
    bridge: Bridge, asterisk_sandbox: AsteriskSandbox, ami: AmiClient, http: aiohttp.ClientSession, work: Path
) -> None:
    base = f"http://127.0.0.1:{bridge.web_port}"
    target = f"127.0.0.1:{asterisk_sandbox.sip_port}"
    async with registered_phone(target, SIP_AGENT, work):
        await eventually(lambda: "Avail" in asterisk_sandbox.cli(f"pjsip show aor {SIP_AGENT}"), timeout=15)
        await login(http, base, SIP_AGENT, "demo-1001")
        async with http.get(f"{base}/") as r:
            csrf = (await r.text()).split('data-csrf="', 1)[1].split('"', 1)[0]
        agent = Client(base, http, {"X-CSRF-Token": csrf})
        async with http.ws_connect(f"{base}/ws", origin=base) as ws:
            await next_frame(ws, "hello")
            carrier = await start_sipp(
                "carrier_ivr_long_call.xml",
                target,
                work,
                ip=CARRIER_IP,
                keys={"caller": "0912345678", "cname": "Nguyen Van An"},
                extra=["-s", DID, "-m", "1"],
            )
            try:
                answered = await next_frame(ws, "answered", timeout=30)
                call_id = answered["call_id"]
                await asyncio.sleep(TALK_BEFORE)  # the call's talk, recorded
                status, body = await agent.send("POST", f"/api/recordings/{call_id}/pause", {})
                assert status == 200 and body["recording"] == "paused", body
                await asyncio.sleep(PAUSED_FOR)  # the customer reads the card number
                status, body = await agent.send("POST", f"/api/recordings/{call_id}/resume", {})
                assert status == 200 and body["recording"] == "recording", body
                await asyncio.sleep(TALK_AFTER)
            finally:
                await ami.action("Hangup", {"Channel": "/^PJSIP\\/trunk-carrier-/"}, check=False)
                await carrier.stop()
            await next_frame(ws, "ended", timeout=30)
        await _silent_over_the_marked_span(bridge, agent, call_id)


async def _silent_over_the_marked_span(bridge: Bridge, agent: Client, call_id: str) -> None:
    assert bridge.sessions is not None

    async def filed() -> Recording | None:
        async with bridge.sessions() as s:  # type: ignore[misc]
            return await s.scalar(select(Recording).where(Recording.call_id == call_id))

    rec = await eventually(filed, timeout=20)
    assert rec.status == "ok"
    # The span, as the recording's metadata (the API the recordings page reads) marks it.
    status, found = await agent.send("GET", f"/api/recordings?number={rec.caller_number}")
    assert status == 200, found
    (meta,) = [f for f in found if f["call_id"] == call_id]
    ((start, end),) = meta["pauses"]
    assert end is not None and abs((end - start) - PAUSED_FOR) < 1.5, meta["pauses"]
    windows = rms_windows(bridge.settings.recordings.dir / rec.path)
    seconds = len(windows) * WINDOW
    assert seconds > end + 2, (seconds, start, end)

    inside = between(windows, start + EDGE, end - EDGE)
    before = between(windows, 0.5, start - EDGE)
    after = between(windows, end + EDGE, seconds - 0.5)
    assert inside and before and after
    loud_inside = [
        (round(start + EDGE + i * WINDOW, 1), round(v)) for i, v in enumerate(inside) if v > SILENT
    ]
    assert not loud_inside, f"sound while paused at {loud_inside[:10]} (span {start}-{end})"
    # Speech outside the span, in both parts (most windows well above silence).
    for name, part in (("before", before), ("after", after)):
        loud = sum(v > 10 * SILENT for v in part) / len(part)
        assert loud > 0.5, (name, loud, [round(v) for v in part])
    # Exactly that span: the silence begins and ends within EDGE of the marks, not earlier or later.
    silent = [v <= SILENT for v in windows]
    first = next(i for i in range(len(silent)) if silent[i] and all(silent[i : i + 10]))
    last = first + next(j for j, s in enumerate(silent[first:]) if not s)
    assert abs(first * WINDOW - start) <= EDGE + WINDOW, (first * WINDOW, start)
    assert abs(last * WINDOW - end) <= EDGE + WINDOW, (last * WINDOW, end)

    async with bridge.sessions() as s:
        acts = [a.action for a in await s.scalars(select(AuditEntry).where(AuditEntry.subject_id == call_id))]
    assert "recording.pause" in acts and "recording.resume" in acts


async def test_the_desks_pause_button_silences_the_recording_over_its_span(
    sip_bridge: Bridge, asterisk_sandbox: AsteriskSandbox, ami: AmiClient, browser: Any, tmp_path: Path
) -> None:
    """The same, driven by the agent's button on the desktop in headless Chromium."""
    from playwright.async_api import expect

    bridge = sip_bridge
    base = f"http://127.0.0.1:{bridge.web_port}"
    target = f"127.0.0.1:{asterisk_sandbox.sip_port}"
    rp = CATALOGUE["vi"]["recpause"]
    async with registered_phone(target, SIP_AGENT, tmp_path / "sipp"):
        await eventually(lambda: "Avail" in asterisk_sandbox.cli(f"pjsip show aor {SIP_AGENT}"), timeout=15)
        page, _watch = await new_page(browser)
        await page.goto(f"{base}/login")
        await page.fill("input[name=agent]", SIP_AGENT)
        await page.fill("input[name=password]", "demo-1001")
        await page.click("button[type=submit]")
        await page.wait_for_url(f"{base}/")
        await page.wait_for_selector("#link.up", timeout=15000)
        button, state = page.get_by_test_id("rec-pause"), page.get_by_test_id("rec-pause-state")
        carrier = await start_sipp(
            "carrier_ivr_long_call.xml",
            target,
            tmp_path / "sipp",
            ip=CARRIER_IP,
            keys={"caller": "0912345678", "cname": "Nguyen Van An"},
            extra=["-s", DID, "-m", "1"],
        )
        try:
            await expect(button).to_be_enabled(timeout=30000)  # enabled once the call is answered
            (call_id,) = [c for c, call in bridge.tracker.calls.items() if call.agent_id == SIP_AGENT]
            await asyncio.sleep(TALK_BEFORE)
            await button.click()
            await expect(state).to_have_text(rp["paused"])
            await expect(button).to_have_attribute("aria-pressed", "true")
            await asyncio.sleep(PAUSED_FOR)
            await button.click()
            await expect(state).to_have_text(rp["recording"])
            await asyncio.sleep(TALK_AFTER)
        finally:
            await ami.action("Hangup", {"Channel": "/^PJSIP\\/trunk-carrier-/"}, check=False)
            await carrier.stop()
        await expect(button).to_be_disabled(timeout=30000)  # the call ended
    csrf = await page.get_attribute("body", "data-csrf")
    async with aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True)) as http:
        await login(http, base, SIP_AGENT, "demo-1001")
        await _silent_over_the_marked_span(bridge, Client(base, http, {"X-CSRF-Token": csrf or ""}), call_id)
    await page.context.close()
