"""A carrier's caller (SIPp on the trunk, tests/sip style) reaches the desktop softphone in headless
Chromium: the DID, the IVR walked by RFC 4733 keys, the softphone's queue; the page rings with the
pop of that call; a click answers. The caller talks back what it hears (SIPp -rtp_echo), so every
sound on the line after the answer is the browser's fake microphone: the page receives its own
tone back (getStats), Asterisk counts the browser's RTP, and the call's recording is not silent.
Mute, hold and auto-answer each change what Asterisk receives; hang-up from either side ends both;
one CDR for the call. Also from the softphone card: microphone/speaker choice and the level meter,
transfer through the desk's transfer, click-to-call (the softphone rings before the customer), and
a supervisor's listen / whisper / barge on their own softphone."""

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
    INBOUND,
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
from tests.support.sip import (
    CARRIER_IP,
    CUSTOMER_A_IP,
    CUSTOMER_PREFIX,
    DID,
    PORTS,
    SCENARIOS,
    Sipp,
    free_udp_port,
    sip_trunks,
    start_sipp,
)
from tests.support.softphone import WEBRTC_AGENT, WEBRTC_QUEUE, WEBRTC_SUPERVISOR, webrtc_agents
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


async def received_level(
    sandbox: AsteriskSandbox, channel: str, name: str, seconds: float = 2, direction: str = "r"
) -> float:
    """RMS of what Asterisk receives from ``channel`` (``direction`` "r"; "t": what it sends to it)
    for ``seconds`` of call audio: a MixMonitor of that direction only (its r() or t() file), started
    and stopped from the CLI (app_mixmonitor's own command)."""
    both, rx = f"/tmp/tdsp-{name}.wav", f"/tmp/tdsp-{name}-{direction}.wav"
    for p in (both, rx):
        (sandbox.root / p.lstrip("/")).unlink(missing_ok=True)
    sandbox.cli(f"mixmonitor start {channel} {both},{direction}({rx})")
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


SENT_TRACK = """() => {
  const pc = globalThis.__tdPeerConnections.at(-1);
  const s = pc && pc.getSenders().find((x) => x.track && x.track.kind === "audio");
  return s ? {label: s.track.label, enabled: s.track.enabled} : null;
}"""


async def test_microphone_and_speaker_choice_level_meter_and_transfer_from_the_card(
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
        # The browser's devices are listed by name (Chromium's fake ones): pick a microphone that
        # is not the default one, and a speaker; the choice is kept for the next visit.
        mic = page.get_by_test_id("sp-mic")
        await eventually(lambda: _count(mic, 2))
        mics = await mic.locator("option").evaluate_all("os => os.map((o) => [o.value, o.textContent])")
        assert [label for _v, label in mics[1:]] == ["Fake Audio Input 1", "Fake Audio Input 2"], mics
        chosen_id, chosen_label = mics[-1]
        await mic.select_option(chosen_id)
        speaker = page.get_by_test_id("sp-speaker")
        speakers = await speaker.locator("option").evaluate_all("os => os.map((o) => o.value)")
        assert len(speakers) >= 3, speakers  # default, Fake Audio Output 1 and 2
        await speaker.select_option(speakers[-1])
        # The call's audio element plays on it (its sinkId, read back after setSinkId).
        await expect(sp).to_have_attribute("data-sink", speakers[-1])
        # Kept in the browser: after a reload both are chosen again.
        await page.reload()
        await expect(sp).to_have_attribute("data-status", "registered", timeout=15000)
        await expect(mic).to_have_value(chosen_id)
        await expect(speaker).to_have_value(speakers[-1])
        await expect(sp).to_have_attribute("data-sink", speakers[-1])

        carrier = await carrier_caller(sandbox, tmp_path / "sipp", talk_ms=180000)
        await expect(sp).to_have_attribute("data-call", "ringing", timeout=30000)
        await page.get_by_test_id("sp-answer").click()
        await expect(sp).to_have_attribute("data-call", "talking", timeout=10000)
        # The call sends the chosen microphone, and the meter shows its level; muted, it falls to 0.
        sent = await page.evaluate(SENT_TRACK)
        assert sent and sent["label"] == chosen_label, (sent, mics)
        await eventually(lambda: _level(page, lambda v: v > 0.01), timeout=10)
        await page.get_by_test_id("sp-mute").click()
        await eventually(lambda: _level(page, lambda v: v == 0), timeout=10)
        await page.get_by_test_id("sp-mute").click()
        await eventually(lambda: _level(page, lambda v: v > 0.01), timeout=10)
        # Another microphone mid-call: the sent track changes without a new offer, still heard.
        await mic.select_option(mics[-2][0] if mics[-2][0] else "")
        await eventually(lambda: _sent_label_is(page, chosen_label, negate=True))
        before = rx_packets(sandbox)
        await eventually(lambda: rx_packets(sandbox) > before + 25)

        # Transfer from the card: it opens the desk's own transfer (the pop's form), to agent 1002.
        await expect(page.get_by_test_id("pop-name")).to_have_text("Nguyễn Văn An", timeout=15000)
        await page.get_by_test_id("sp-transfer").click()
        target = page.get_by_test_id("xfer-target")
        await expect(target).to_be_focused()
        await target.select_option("1002")
        await page.get_by_test_id("xfer-blind").click()
        await expect(page.get_by_test_id("xfer-msg")).not_to_be_empty(timeout=10000)
        # The softphone's leg ends; the caller is now with 1002 (a simulated agent), still on the line.
        await expect(sp).to_have_attribute("data-call", "idle", timeout=15000)
        await eventually(
            lambda: "Local/1002@tongdai-agents" in sandbox.cli("core show channels concise"), timeout=15
        )
        assert agent_channel(sandbox) is None
        assert carrier.proc.returncode is None, carrier.why()
        assert not page.errors, page.errors
    finally:
        if carrier is not None:
            await carrier.stop()
        await hang_up_all(ami)
        await page.context.close()


async def _count(select: Any, at_least: int) -> bool:
    return await select.locator("option").count() >= at_least


async def _level(page: Any, ok: Any) -> bool:
    value = await page.get_by_test_id("softphone").get_attribute("data-level")
    return value is not None and ok(float(value))


async def _sent_label_is(page: Any, label: str, negate: bool = False) -> bool:
    sent = await page.evaluate(SENT_TRACK)
    return bool(sent) and ((sent["label"] == label) != negate)


async def test_click_to_call_rings_the_softphone_first_then_the_customer(
    carrier_bridge: Bridge,
    asterisk_sandbox: AsteriskSandbox,
    ami: AmiClient,
    media_browser: Any,
    tmp_path: Path,
) -> None:
    from playwright.async_api import expect

    bridge = carrier_bridge
    base = f"http://127.0.0.1:{bridge.web_port}"
    page = await open_desk(media_browser, base)
    sp = page.get_by_test_id("softphone")
    work = tmp_path / "sipp"
    media = free_udp_port(CUSTOMER_A_IP)
    callee = await start_sipp(
        "phone_answer.xml",
        "",
        work,
        ip=CUSTOMER_A_IP,
        port=PORTS.customer_a,
        media_port=media,
        keys={"rtp_ip": CUSTOMER_A_IP, "rtp_port": str(media)},
        extra=["-m", "1", "-rtp_echo"],
    )
    try:
        await expect(sp).to_have_attribute("data-status", "registered", timeout=15000)
        number = f"{CUSTOMER_PREFIX}123456"
        await page.get_by_test_id("dial-number").fill(number)
        await page.locator("#dial-form button").click()
        # The softphone rings first (the agent's own leg), saying whom it calls; the customer not yet.
        await expect(sp).to_have_attribute("data-call", "ringing", timeout=20000)
        await expect(page.get_by_test_id("sp-call")).to_contain_text(number)
        assert not callee.received("INVITE"), callee.why()
        await page.get_by_test_id("sp-answer").click()
        await expect(sp).to_have_attribute("data-call", "talking", timeout=10000)
        # Then the customer's phone behind the carrier rings and answers; it echoes the browser back.
        await eventually(lambda: callee.received("INVITE"), timeout=20)
        assert callee.received("INVITE")[0].startswith(f"INVITE sip:{number}@{CUSTOMER_A_IP}")
        await eventually(lambda: callee.received("ACK"), timeout=20)  # it answered
        # Audio both ways once the customer is on: the page hears its own tone echoed by the customer.
        at = await page.evaluate(INBOUND)
        await eventually(
            lambda: stats_with(
                page, lambda s: s["in_packets"] > at["in_packets"] + 50 and s["in_energy"] > at["in_energy"]
            ),
            timeout=20,
        )
        await page.get_by_test_id("sp-hangup").click()
        await expect(sp).to_have_attribute("data-call", "idle", timeout=10000)
        assert await callee.wait(30) == 0, callee.why()
        assert not page.errors, page.errors
    finally:
        await callee.stop()
        await hang_up_all(ami)
        await page.context.close()


async def test_supervisor_listens_whispers_and_barges_from_their_own_softphone(
    carrier_bridge: Bridge,
    asterisk_sandbox: AsteriskSandbox,
    ami: AmiClient,
    media_browser: Any,
    tmp_path: Path,
) -> None:
    from playwright.async_api import expect

    bridge, sandbox = carrier_bridge, asterisk_sandbox
    base = f"http://127.0.0.1:{bridge.web_port}"
    agent = await open_desk(media_browser, base)
    sup = await open_desk(media_browser, base, WEBRTC_SUPERVISOR)
    agent_sp, sup_sp = agent.get_by_test_id("softphone"), sup.get_by_test_id("softphone")
    carrier: Sipp | None = None
    try:
        await expect(agent_sp).to_have_attribute("data-status", "registered", timeout=15000)
        await expect(sup_sp).to_have_attribute("data-status", "registered", timeout=15000)
        carrier = await carrier_caller(sandbox, tmp_path / "sipp", talk_ms=180000)
        await expect(agent_sp).to_have_attribute("data-call", "ringing", timeout=30000)
        await agent.get_by_test_id("sp-answer").click()
        await expect(agent_sp).to_have_attribute("data-call", "talking", timeout=10000)
        # The agent mutes: from now on the line echoes silence to them, so what they hear is the
        # supervisor's voice or nothing.
        await agent.get_by_test_id("sp-mute").click()
        await expect(agent.get_by_test_id("sp-mute")).to_have_attribute("aria-pressed", "true")
        heard: dict[str, float] = {}
        # What the caller heard, as they echo it back: a MixMonitor of what Asterisk receives from the
        # trunk (ChanSpy's barge audio is mixed in after a MixMonitor on the caller's own channel
        # sees what is sent, so the echo is where it shows).
        to_caller: dict[str, float] = {}
        trunk = next(
            ln.split("!", 1)[0]
            for ln in sandbox.cli("core show channels concise").splitlines()
            if ln.startswith("PJSIP/trunk-carrier-a-")
        )
        # The supervisor's wallboard (another tab of the same browser) starts each mode.
        wall = await sup.context.new_page()
        await wall.goto(f"{base}/wallboard?lang=en")
        for mode in ("listen", "whisper", "barge"):
            await wall.locator(f"button[data-spy={mode}]").click()
            # Their own softphone rings with the spy leg and is answered by a click ...
            await expect(sup_sp).to_have_attribute("data-call", "ringing", timeout=20000)
            await sup.get_by_test_id("sp-answer").click()
            await expect(sup_sp).to_have_attribute("data-call", "talking", timeout=10000)
            # ... and hears the call (the agent's tone, echoed by the caller), while Asterisk gets
            # the supervisor's own microphone (heard by the agent in whisper, by both in barge).
            try:
                await eventually(
                    lambda: stats_with(sup, lambda s: s["in_packets"] > 50 and s["in_energy"] > 0), timeout=20
                )
            except AssertionError as err:
                raise AssertionError(f"{mode}: {LAST}; {sandbox.cli('pjsip show channelstats')}") from err
            await eventually(lambda: rx_packets(sandbox, WEBRTC_SUPERVISOR) > 25, timeout=15)
            heard[mode] = await energy_gain(agent)
            to_caller[mode] = await received_level(sandbox, trunk, f"spy-{mode}")
            # The supervisor hangs up: the spy leg ends, the agent's call goes on.
            await sup.get_by_test_id("sp-hangup").click()
            await expect(sup_sp).to_have_attribute("data-call", "idle", timeout=10000)
            await eventually(lambda: agent_channel(sandbox, WEBRTC_SUPERVISOR) is None, timeout=10)
            await expect(agent_sp).to_have_attribute("data-call", "talking")
        # Listening, the agent hears nothing of the supervisor; whispering and barging, they do.
        assert heard["listen"] < 0.001 and heard["whisper"] > 0.01 and heard["barge"] > 0.01, heard
        # Only barging reaches the caller (measured: RMS ~8 listening and whispering, ~390 barging).
        assert to_caller["listen"] < 30 and to_caller["whisper"] < 30 and to_caller["barge"] > 150, to_caller
        assert carrier.proc.returncode is None, carrier.why()
        assert not agent.errors and not sup.errors, (agent.errors, sup.errors)
    finally:
        if carrier is not None:
            await carrier.stop()
        await hang_up_all(ami)
        await agent.context.close()
        await sup.context.close()


async def energy_gain(page: Any, packets: int = 150) -> float:
    """The audio energy the page received over the next ``packets`` RTP packets (getStats)."""
    start = await page.evaluate(INBOUND)
    end = await eventually(
        lambda: stats_with(page, lambda s: s["in_packets"] >= start["in_packets"] + packets), timeout=20
    )
    return float(end["in_energy"] - start["in_energy"])
