"""Shared by the softphone browser tests: Chromium with a fake microphone, a desktop page logged in
as a softphone agent, the page's peer-connection stats, and what Asterisk says about the softphone's
channel. Nothing here exists in the page for the tests: the init script only records the page's
RTCPeerConnections so a test can read their stats."""

from __future__ import annotations

import array
import math
import re
import wave
from pathlib import Path
from typing import Any

from tests.asterisk.conftest import AsteriskSandbox
from tests.support.softphone import WEBRTC_AGENT

# Test-side instrumentation (Playwright init script), not page code: keep each peer connection.
RECORD_PCS = """
(() => {
  const Native = RTCPeerConnection;
  const seen = [];
  Object.defineProperty(globalThis, "__tdPeerConnections", {value: seen});
  globalThis.RTCPeerConnection = function (...args) {
    const pc = new Native(...args);
    seen.push(pc);
    return pc;
  };
  globalThis.RTCPeerConnection.prototype = Native.prototype;
})();
"""
INBOUND = """async () => {
  const pc = globalThis.__tdPeerConnections.at(-1);
  if (!pc) return null;
  const out = {in_packets: 0, in_energy: 0, out_packets: 0, ice: pc.iceConnectionState};
  (await pc.getStats()).forEach((r) => {
    if (r.type === "inbound-rtp" && r.kind === "audio") {
      out.in_packets = r.packetsReceived;
      out.in_energy = r.totalAudioEnergy || 0;
    }
    if (r.type === "outbound-rtp" && r.kind === "audio") out.out_packets = r.packetsSent;
  });
  return out;
}"""


async def open_desk(browser: Any, base: str, agent: str = WEBRTC_AGENT) -> Any:
    """A new browser context logged in to the desktop as ``agent`` (demo password), microphone granted."""
    ctx = await browser.new_context(
        viewport={"width": 1440, "height": 960}, locale="en-US", ignore_https_errors=True
    )
    await ctx.grant_permissions(["microphone"], origin=base)
    await ctx.add_init_script(RECORD_PCS)
    page = await ctx.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.on("console", lambda m: errors.append(m.text) if "Content Security Policy" in m.text else None)
    await page.goto(f"{base}/login?lang=en")
    await page.fill("input[name=agent]", agent)
    await page.fill("input[name=password]", "demo-1001")  # tests/support/softphone.py: 1001's demo hash
    await page.click("button[type=submit]")
    await page.wait_for_url(re.compile(rf"{re.escape(base)}/(\?.*)?$"))
    page.errors = errors
    return page


def contacts(sandbox: AsteriskSandbox, agent: str = WEBRTC_AGENT) -> str:
    return sandbox.cli(f"pjsip show aor {agent}")


def channelstats(sandbox: AsteriskSandbox, agent: str = WEBRTC_AGENT) -> tuple[int, int] | None:
    """(received, sent) RTP packets on the agent's PJSIP channel (pjsip show channelstats), if any."""
    for line in sandbox.cli("pjsip show channelstats").splitlines():
        tokens = line.split()
        # [BridgeId] ChannelId UpTime Codec ReceiveCount Lost Pct Jitter TransmitCount ...
        at = next((i for i, tok in enumerate(tokens) if tok.startswith(f"{agent}-")), None)
        if at is not None and len(tokens) > at + 7 and tokens[at + 3].isdigit():
            return int(tokens[at + 3]), int(tokens[at + 7]) if tokens[at + 7].isdigit() else 0
    return None


def rx_packets(sandbox: AsteriskSandbox, agent: str = WEBRTC_AGENT) -> int:
    """Packets Asterisk received on the softphone's channel (pjsip show channelstats)."""
    got = channelstats(sandbox, agent)
    return got[0] if got else 0


def agent_channel(sandbox: AsteriskSandbox, agent: str = WEBRTC_AGENT) -> str | None:
    """The name of the agent's live PJSIP channel (core show channels concise)."""
    for line in sandbox.cli("core show channels concise").splitlines():
        name = line.split("!", 1)[0]
        if name.startswith(f"PJSIP/{agent}-"):
            return name
    return None


LAST: dict[str, Any] = {}


async def stats_with(page: Any, ok: Any) -> Any:
    """The page's last peer connection's audio stats, if ``ok(stats)`` (kept in LAST for messages)."""
    s = LAST["stats"] = await page.evaluate(INBOUND)
    return s if s and ok(s) else None


def audio_level(path: Path) -> tuple[float, float, int]:
    """(seconds, RMS, peak) of a 16-bit mono WAV."""
    with wave.open(str(path)) as w:
        assert w.getsampwidth() == 2
        frames = w.readframes(w.getnframes())
        seconds = w.getnframes() / w.getframerate()
    samples = array.array("h", frames)
    if not samples:
        return seconds, 0.0, 0
    rms = math.sqrt(sum(s * s for s in samples) / len(samples))
    return seconds, rms, max(abs(s) for s in samples)
