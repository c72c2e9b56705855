"""A carrier's caller (SIPp on the trunk, tests/sip style) reaches the desktop softphone in headless
Chromium: the DID, the IVR walked by RFC 4733 keys, the softphone's queue; the page rings with the
pop of that call; a click answers. The caller talks back what it hears (SIPp -rtp_echo), so every
sound on the line after the answer is the browser's fake microphone: the page receives its own
tone back (getStats), Asterisk counts the browser's RTP, and the call's recording is not silent.
Mute, hold and auto-answer each change what Asterisk receives; hang-up from either side ends both;
one CDR for the call."""

from __future__ import annotations

import shutil
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from billing.models import CdrRecord
from core.ami import AmiClient
from core.models import CallRecord
from crm_bridge.demo_data import load_demo
from recordings.models import Recording
from tests.asterisk.acd_support import hang_up_all
from tests.asterisk.conftest import AsteriskSandbox, eventually
from tests.browser.softphone_pages import (
    LAST,
    agent_channel,
    audio_level,
    channelstats,
    contacts,
    open_desk,
    rx_packets,
    stats_with,
)
from tests.support.settings import TEST_QUEUES, base_config
from tests.support.sip import CARRIER_IP, DID, SCENARIOS, Sipp, sip_trunks, start_sipp
from tests.support.softphone import WEBRTC_AGENT, WEBRTC_QUEUE, webrtc_agents
from tongdai.app import Bridge

pytestmark = [pytest.mark.browser, pytest.mark.asterisk, pytest.mark.sip]

# Keys 1 then 2 (what the carrier scenarios send) lead to the softphone's queue.
CARRIER_WEB_IVR: dict[str, Any] = {
    "default_language": "vi",
    "languages": ["vi", "en"],
    "entry": "main",
    "fallback": "to_web",
    "input": {"timeout_ms": 6000, "retries": 1},
    "nodes": {
        "main": {"type": "menu", "prompt": "main_menu", "options": {"1": "webmenu"}},
        "webmenu": {"type": "menu", "prompt": "mobile_menu", "options": {"2": "to_web"}},
        "to_web": {"type": "transfer", "queue": WEBRTC_QUEUE, "label": "Softphone"},
    },
}


@pytest.fixture
async def carrier_bridge(asterisk_sandbox: AsteriskSandbox, tmp_path: Path) -> AsyncIterator[Bridge]:
    if not shutil.which("sipp"):
        pytest.fail("sipp (Debian sip-tester) is not installed")
    queue = {"name": WEBRTC_QUEUE, "label": "Softphone", "wrapup": 0, "ring_timeout": 30}
    settings = asterisk_sandbox.settings_for(
        tmp_path,
        queues=[*TEST_QUEUES, {**queue, "members": [{"agent": WEBRTC_AGENT}]}],
        agents=[*base_config()["agents"], *webrtc_agents(auto_login=True)],
        ivr=CARRIER_WEB_IVR,
        trunks=sip_trunks(),
    )
    b = Bridge(settings)
    await b.start()
    assert b.ami is not None and b.engine is not None
    await b.ami.wait_connected(30)
    await b.ami.wait_booted(30)
    await b.agents.ready(30)
    await load_demo(b.engine, 0)
    yield b
    await b.stop()


async def carrier_caller(sandbox: AsteriskSandbox, work: Path, talk_ms: int) -> Sipp:
    """The carrier's caller, who hangs up after ``talk_ms`` of talk unless the agent does first."""
    work.mkdir(parents=True, exist_ok=True)  # noqa: ASYNC240 (a local directory)
    scenario = work / f"carrier_ivr_echo_call-{talk_ms}.xml"
    text = (SCENARIOS / "carrier_ivr_echo_call.xml").read_text()
    scenario.write_text(text.replace("TALK_MS", str(talk_ms)))
    return await start_sipp(
        str(scenario),
        f"127.0.0.1:{sandbox.sip_port}",
        work,
        ip=CARRIER_IP,
        keys={"caller": "+84912345678", "cname": "Nguyen Van An"},
        extra=["-s", DID, "-m", "1", "-rtp_echo"],
    )


async def received_level(sandbox: AsteriskSandbox, channel: str, name: str, seconds: float = 2) -> float:
    """RMS of what Asterisk receives from ``channel`` for ``seconds`` of call audio: a MixMonitor of
    the read direction only (r()), started and stopped from the CLI (app_mixmonitor's own command)."""
    both, rx = f"/tmp/tdsp-{name}.wav", f"/tmp/tdsp-{name}-rx.wav"
    for p in (both, rx):
        (sandbox.root / p.lstrip("/")).unlink(missing_ok=True)
    sandbox.cli(f"mixmonitor start {channel} {both},r({rx})")
    rx_file = sandbox.root / rx.lstrip("/")
    # 8 kHz 16-bit slin: 16,000 bytes a second after the 44-byte header.
    await eventually(lambda: rx_file.exists() and rx_file.stat().st_size > 44 + 16000 * seconds, timeout=20)
    sandbox.cli(f"mixmonitor stop {channel}")
    await eventually(lambda: _closed(rx_file), timeout=10)
    _s, rms, _peak = audio_level(rx_file)
    return rms


def _closed(path: Path) -> bool:
    try:
        audio_level(path)
    except Exception:
        return False
    return True


def _stats(sandbox: AsteriskSandbox) -> tuple[int, int]:
    got = channelstats(sandbox)
    assert got, sandbox.cli("pjsip show channelstats")
    return got


async def _tx_stops(sandbox: AsteriskSandbox) -> bool:
    """Over 50 packets received from the browser, Asterisk sent it none (a send-only peer)."""
    rx, tx = _stats(sandbox)
    await eventually(lambda: _stats(sandbox)[0] > rx + 50, timeout=10)
    return _stats(sandbox)[1] == tx


async def test_carrier_call_rings_the_softphone_with_the_pop_and_carries_the_browsers_audio(
    carrier_bridge: Bridge,
    asterisk_sandbox: AsteriskSandbox,
    ami: AmiClient,
    media_browser: Any,
    tmp_path: Path,
) -> None:
    from playwright.async_api import expect

    bridge, sandbox = carrier_bridge, asterisk_sandbox
    base = f"http://127.0.0.1:{bridge.web_port}"
    page = await open_desk(media_browser, base)
    sp = page.get_by_test_id("softphone")
    carrier: Sipp | None = None
    try:
        await expect(sp).to_have_attribute("data-status", "registered", timeout=15000)
        await eventually(lambda: "transport=ws" in contacts(sandbox) and "Avail" in contacts(sandbox))

        carrier = await carrier_caller(sandbox, tmp_path / "sipp", talk_ms=180000)
        await expect(sp).to_have_attribute("data-call", "ringing", timeout=30000)
        await expect(page.get_by_test_id("pop-name")).to_have_text("Nguyễn Văn An", timeout=15000)
        (call,) = [c for c in bridge.tracker.calls.values() if c.caller_number == "0912345678"]
        await expect(sp).to_have_attribute("data-linkedid", call.call_id)
        await expect(page.get_by_test_id("sp-match")).to_have_attribute("data-match", "yes")
        # Ringing, not answered: Asterisk gets no audio from the browser yet.
        assert rx_packets(sandbox) == 0

        await page.get_by_test_id("sp-answer").click()
        await expect(sp).to_have_attribute("data-call", "talking", timeout=10000)
        # Both ways: the page hears its own tone back through the carrier; Asterisk counts its RTP.
        try:
            got = await eventually(
                lambda: stats_with(page, lambda s: s["in_packets"] > 50 and s["in_energy"] > 0), timeout=20
            )
        except AssertionError as err:
            raise AssertionError(
                f"no audio received: {LAST}; {sandbox.cli('pjsip show channelstats')}"
            ) from err
        assert got["out_packets"] > 50, got
        await eventually(lambda: rx_packets(sandbox) > 50)
        channel = agent_channel(sandbox)
        assert channel, sandbox.cli("core show channels concise")

        # Mute: what Asterisk receives from the browser goes silent; unmute brings the tone back.
        talking = await received_level(sandbox, channel, "talk")
        await page.get_by_test_id("sp-mute").click()
        await expect(page.get_by_test_id("sp-mute")).to_have_attribute("aria-pressed", "true")
        muted = await received_level(sandbox, channel, "muted")
        await page.get_by_test_id("sp-mute").click()
        await expect(page.get_by_test_id("sp-mute")).to_have_attribute("aria-pressed", "false")
        again = await received_level(sandbox, channel, "unmuted")
        assert talking > 300 and again > 300 and muted < 30, (talking, muted, again)

        # Hold: the re-INVITE makes the browser send-only: Asterisk stops sending to it (its transmit
        # count stands still while the browser's packets keep arriving) and what it receives is
        # silent (JsSIP mutes a held call); unhold brings both back.
        await page.get_by_test_id("sp-hold").click()
        await expect(sp).to_have_attribute("data-call", "held", timeout=10000)
        await eventually(lambda: _tx_stops(sandbox), timeout=20)
        held = await received_level(sandbox, channel, "held")
        assert held < 30, held
        await page.get_by_test_id("sp-hold").click()
        await expect(sp).to_have_attribute("data-call", "talking", timeout=10000)
        tx = _stats(sandbox)[1]
        resumed = await received_level(sandbox, channel, "resumed")
        assert resumed > 300 and _stats(sandbox)[1] > tx + 50, (resumed, tx, _stats(sandbox))

        # The agent hangs up: the carrier's caller gets the BYE, and the call ends everywhere.
        await page.get_by_test_id("sp-hangup").click()
        await expect(sp).to_have_attribute("data-call", "idle", timeout=10000)
        assert await carrier.wait(30) == 0, carrier.why()
        assert carrier.received("BYE"), carrier.why()
        await eventually(lambda: agent_channel(sandbox) is None)

        # The recording holds the browser's audio (the caller only echoed it); one CDR for the call.
        async def stored() -> Any:
            async with bridge.sessions() as s:  # type: ignore[misc]
                rec = await s.get(CallRecord, call.call_id)
                recording = await s.scalar(select(Recording).where(Recording.call_id == call.call_id))
                cdrs = list(await s.scalars(select(CdrRecord).where(CdrRecord.linkedid == call.call_id)))
            if rec is None or rec.ended_at is None or recording is None or not cdrs:
                return None
            return rec, recording, cdrs

        rec, recording, cdrs = await eventually(stored, timeout=20)
        assert rec.agent_id == WEBRTC_AGENT and rec.disposition == "answered"
        seconds, rms, peak = audio_level(bridge.settings.recordings.dir / recording.path)
        assert seconds > 5 and rms > 300 and peak > 2000, (seconds, rms, peak)
        assert len(cdrs) == 1, [(c.channel, c.dstchannel, c.lastapp, c.disposition) for c in cdrs]
        (cdr,) = cdrs
        assert cdr.channel.startswith("PJSIP/trunk-carrier-a-") and cdr.dstchannel.startswith(
            f"PJSIP/{WEBRTC_AGENT}-"
        )
        assert cdr.lastapp == "Queue" and cdr.disposition == "ANSWERED" and cdr.src == "0912345678"

        # Auto-answer: the next caller is answered with no click (Asterisk gets the browser's audio
        # at once) and hangs up by themselves: the softphone's call ends too.
        await page.get_by_test_id("sp-auto").check()
        carrier = await carrier_caller(sandbox, tmp_path / "sipp", talk_ms=8000)
        await expect(sp).to_have_attribute("data-call", "talking", timeout=30000)
        await eventually(lambda: rx_packets(sandbox) > 25)
        assert await carrier.wait(60) == 0, carrier.why()
        await expect(sp).to_have_attribute("data-call", "idle", timeout=15000)
        await eventually(lambda: agent_channel(sandbox) is None)
        assert not page.errors, page.errors
    finally:
        if carrier is not None:
            await carrier.stop()
        await hang_up_all(ami)
        await page.context.close()
