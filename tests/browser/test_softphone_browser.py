"""The desktop softphone in headless Chromium (fake microphone) against the sandbox's Asterisk: the
agent logs in, the page registers over WSS; a caller dials the hotline and the page rings with the
pop for that very call (the INVITE's Linkedid); a click answers; audio flows both ways (the page's
getStats and Asterisk's RTP stats); hold and unhold; hang-up from either side ends both; auto-answer;
logout unregisters. Nothing in the page exists for the test: the init script (softphone_pages.py) only
records the page's RTCPeerConnections so the test can read their stats."""

from __future__ import annotations

import os
import tempfile
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from core.ami import AmiClient
from crm_bridge.demo_data import load_demo
from tests.asterisk.acd_support import hang_up_all
from tests.asterisk.conftest import AsteriskSandbox, eventually, place_call
from tests.browser.softphone_pages import (
    LAST,
    contacts,
    open_desk,
    rx_packets,
    stats_with,
)
from tests.support.settings import TEST_QUEUES, base_config
from tests.support.softphone import WEBRTC_AGENT, WEBRTC_QUEUE, webrtc_agents
from tongdai.app import Bridge

pytestmark = [pytest.mark.browser, pytest.mark.asterisk]
# docs/screenshots/ only on request (TONGDAI_SCREENSHOTS=1), as in test_desktop_browser.py.
SHOTS = (
    Path(__file__).resolve().parents[2] / "docs" / "screenshots"
    if os.environ.get("TONGDAI_SCREENSHOTS")
    else Path(tempfile.mkdtemp(prefix="tongdai-shots-"))
)

WEB_IVR: dict[str, Any] = {
    "default_language": "vi",
    "languages": ["vi", "en"],
    "entry": "main",
    "fallback": "web",
    "input": {"timeout_ms": 4000, "retries": 1},
    "nodes": {
        "main": {"type": "menu", "prompt": "main_menu", "options": {"1": "web"}},
        "web": {"type": "transfer", "queue": WEBRTC_QUEUE, "label": "Softphone"},
    },
}


@pytest.fixture
async def webrtc_bridge(asterisk_sandbox: AsteriskSandbox, tmp_path: Path) -> AsyncIterator[Bridge]:
    settings = asterisk_sandbox.settings_for(
        tmp_path,
        queues=[*TEST_QUEUES, {**asterisk_sandbox_queue(), "members": [{"agent": WEBRTC_AGENT}]}],
        agents=[*base_config()["agents"], *webrtc_agents(auto_login=True)],
        ivr=WEB_IVR,
        # The shortest registration Asterisk grants (its AORs' minimum_expiration): JsSIP refreshes
        # after 55 s, when a page whose account another login took finds out.
        asterisk={"webrtc": {"max_registration_seconds": 60}},
    )
    b = Bridge(settings)
    await b.start()
    assert b.ami is not None
    await b.ami.wait_connected(30)
    await b.ami.wait_booted(30)
    await b.agents.ready(30)
    assert b.engine is not None
    await load_demo(b.engine, 0)
    yield b
    await b.stop()


def asterisk_sandbox_queue() -> dict[str, Any]:
    return {"name": WEBRTC_QUEUE, "label": "Softphone", "wrapup": 0, "ring_timeout": 30}


async def test_softphone_registers_rings_with_the_pop_answers_and_carries_audio(
    webrtc_bridge: Bridge, asterisk_sandbox: AsteriskSandbox, ami: AmiClient, media_browser: Any
) -> None:
    from playwright.async_api import expect

    base = f"http://127.0.0.1:{webrtc_bridge.web_port}"
    page = await open_desk(media_browser, base)
    sp = page.get_by_test_id("softphone")
    try:
        await expect(sp).to_have_attribute("data-status", "registered", timeout=15000)
        # Asterisk holds the page's contact, over WSS.
        await eventually(
            lambda: "transport=ws" in contacts(asterisk_sandbox) and "Avail" in contacts(asterisk_sandbox)
        )

        await place_call(
            ami,
            "0912345678",
            dtmf="1",
            stay=60,
            variables={"TONGDAI_PLAY": "demo-congrats&demo-congrats", "TONGDAI_PLAY_DELAY": "1"},
        )
        await expect(sp).to_have_attribute("data-call", "ringing", timeout=20000)
        await expect(page.get_by_test_id("pop-name")).to_have_text("Nguyễn Văn An", timeout=15000)
        # The ringing call is the pop's call: the INVITE carried its Linkedid.
        (call,) = [c for c in webrtc_bridge.tracker.calls.values() if c.caller_number == "0912345678"]
        await expect(sp).to_have_attribute("data-linkedid", call.call_id)
        await expect(page.get_by_test_id("sp-match")).to_have_attribute("data-match", "yes")
        await page.screenshot(path=str(SHOTS / "softphone-ringing.png"), full_page=True)

        await page.get_by_test_id("sp-answer").click()
        await expect(sp).to_have_attribute("data-call", "talking", timeout=10000)
        # Audio both ways: the page receives Asterisk's playback; Asterisk receives the fake microphone.
        try:
            got = await eventually(
                lambda: stats_with(page, lambda s: s["in_packets"] > 50 and s["in_energy"] > 0)
            )
        except AssertionError as err:
            stats = asterisk_sandbox.cli("pjsip show channelstats")
            raise AssertionError(f"no audio received: {LAST}; {stats}") from err
        assert got["out_packets"] > 50, got
        before = rx_packets(asterisk_sandbox)
        await eventually(lambda: rx_packets(asterisk_sandbox) > before + 25)

        # Hold: the browser sends no more audio, so Asterisk's count stops growing; unhold resumes it.
        await page.get_by_test_id("sp-hold").click()
        await expect(sp).to_have_attribute("data-call", "held", timeout=10000)
        held_at = rx_packets(asterisk_sandbox)
        await page.get_by_test_id("sp-hold").click()
        await expect(sp).to_have_attribute("data-call", "talking", timeout=10000)
        await eventually(lambda: rx_packets(asterisk_sandbox) > held_at + 25)

        # Hang up from the page: the caller's leg ends too.
        await page.get_by_test_id("sp-hangup").click()
        await expect(sp).to_have_attribute("data-call", "idle", timeout=10000)
        await eventually(lambda: WEBRTC_AGENT not in asterisk_sandbox.cli("core show channels concise"))
        await eventually(
            lambda: (
                not [
                    c
                    for c in webrtc_bridge.tracker.calls.values()
                    if c.caller_number == "0912345678" and c.ended_at is None
                ]
            ),
            timeout=20,
        )

        # Auto-answer: the next call is answered without a click, and Asterisk hears the browser.
        await page.get_by_test_id("sp-auto").check()
        # This caller hangs up by themselves (12 s after keying): the softphone's call ends too.
        await place_call(ami, "0912345678", dtmf="1", stay=12)
        await expect(sp).to_have_attribute("data-call", "talking", timeout=25000)
        await eventually(lambda: rx_packets(asterisk_sandbox) > 25)
        await expect(sp).to_have_attribute("data-call", "idle", timeout=25000)
        await eventually(lambda: WEBRTC_AGENT not in asterisk_sandbox.cli("core show channels concise"))

        # Logout unregisters: Asterisk no longer holds the contact.
        await page.locator('form[action="/logout"] button').click()
        # (the page's socket, closed by the revoked session, may also send it to /login: either lands there)
        await expect(page.locator("input[name=agent]")).to_be_visible(timeout=10000)
        await eventually(lambda: "transport=ws" not in contacts(asterisk_sandbox), timeout=10)
        assert not page.errors, page.errors
    finally:
        await hang_up_all(ami)
        await page.context.close()


def contact_lines(sandbox: AsteriskSandbox) -> list[str]:
    """The AOR's contact URIs (pjsip show aor: "Contact:  7201/sip:…;transport=… hash status rtt")."""
    return [
        ln.split()[1]
        for ln in contacts(sandbox).splitlines()
        if ln.strip().startswith("Contact:") and "@" in ln
    ]


async def test_a_second_login_takes_the_softphone_over_cleanly(
    webrtc_bridge: Bridge, asterisk_sandbox: AsteriskSandbox, ami: AmiClient, media_browser: Any
) -> None:
    from playwright.async_api import expect

    base = f"http://127.0.0.1:{webrtc_bridge.web_port}"
    first = await open_desk(media_browser, base)
    first_sp = first.get_by_test_id("softphone")
    second = None
    try:
        await expect(first_sp).to_have_attribute("data-status", "registered", timeout=15000)
        await eventually(lambda: len(contact_lines(asterisk_sandbox)) == 1)
        before = contact_lines(asterisk_sandbox)[0]
        # The same agent logs in elsewhere: that page registers and replaces the first's contact.
        second = await open_desk(media_browser, base)
        second_sp = second.get_by_test_id("softphone")
        await expect(second_sp).to_have_attribute("data-status", "registered", timeout=15000)
        await eventually(lambda: (lines := contact_lines(asterisk_sandbox)) and lines != [before])
        assert len(contact_lines(asterisk_sandbox)) == 1, contacts(asterisk_sandbox)
        taken = contact_lines(asterisk_sandbox)[0]
        # A call rings the second page only.
        await place_call(ami, "0912345678", dtmf="1", stay=30)
        await expect(second_sp).to_have_attribute("data-call", "ringing", timeout=20000)
        assert await first_sp.get_attribute("data-call") != "ringing"
        await second.get_by_test_id("sp-reject").click()
        await expect(second_sp).to_have_attribute("data-call", "idle", timeout=10000)
        await hang_up_all(ami)
        # The first page's next refresh is refused; it does not take the account back, it says so.
        await expect(first_sp).to_have_attribute("data-status", "taken", timeout=90000)
        # (the desk is in Vietnamese: agent_desktop/locales/vi.json's softphone.taken)
        await expect(first.get_by_test_id("sp-call")).to_contain_text("đang dùng ở cửa sổ hoặc thiết bị khác")
        assert contact_lines(asterisk_sandbox) == [taken], contacts(asterisk_sandbox)
        await expect(second_sp).to_have_attribute("data-status", "registered")
        assert not first.errors and not second.errors, (first.errors, second.errors)
    finally:
        await hang_up_all(ami)
        await first.context.close()
        if second is not None:
            await second.context.close()
