"""A carrier's call over a real SIP trunk: DID → IVR walked by RFC 4733 DTMF → tier queue → a
registered SIP desk phone answers with RTP → pop on the agent's desktop before the answer → one
CDR, rated → a recording that holds the call's audio. And what a trunk must refuse."""

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

from billing.models import CdrRecord, RatedCall
from core.ami import AmiClient, AmiEvent
from core.models import CallRecord
from recordings.models import Recording
from tests.asterisk.conftest import AsteriskSandbox, eventually
from tests.support.desktop import login, next_frame
from tests.support.sip import (
    CARRIER_IP,
    DID,
    SIP_AGENT,
    SIP_QUEUE,
    STRANGER_IP,
    Sipp,
    registered_phone,
    start_sipp,
)
from tongdai.app import Bridge

pytestmark = [pytest.mark.sip, pytest.mark.asterisk]


def target(sandbox: AsteriskSandbox) -> str:
    return f"127.0.0.1:{sandbox.sip_port}"


async def phone_reachable(sandbox: AsteriskSandbox, agent: str) -> None:
    """The phone registered and answered Asterisk's qualify: its device state is usable by the queue."""

    def avail() -> bool:
        return "Avail" in sandbox.cli(f"pjsip show aor {agent}")

    await eventually(avail, timeout=15)


async def carrier_call(sandbox: AsteriskSandbox, work: Path, caller: str, name: str, did: str = DID) -> Sipp:
    return await start_sipp(
        "carrier_ivr_call.xml",
        target(sandbox),
        work,
        ip=CARRIER_IP,
        keys={"caller": caller, "cname": name},
        extra=["-s", did, "-m", "1"],
    )


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


async def answered_call(
    bridge: Bridge, sandbox: AsteriskSandbox, tmp_path: Path, caller: str, name: str
) -> tuple[dict[str, Any], dict[str, Any], Sipp]:
    """Place one carrier call to the DID, answered by the registered SIP phone of 7101.

    Returns the pop frame, the "answered" frame and the carrier's SIPp (finished, exit code 0).
    """
    base = f"http://127.0.0.1:{bridge.web_port}"
    async with (
        aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True)) as http,
        registered_phone(target(sandbox), SIP_AGENT, tmp_path / "sipp") as phone,
    ):
        await phone_reachable(sandbox, SIP_AGENT)
        await login(http, base, SIP_AGENT, "demo-1001")
        async with http.ws_connect(f"{base}/ws", origin=base) as ws:
            assert (await next_frame(ws, "hello"))["agent_id"] == SIP_AGENT
            carrier = await carrier_call(sandbox, tmp_path / "sipp", caller, name)
            try:
                pop = await next_frame(ws, "pop", timeout=30)
                # The pop comes while the phone rings (it answers 1.5 s later): "answered" follows it.
                answered = await next_frame(ws, "answered", timeout=30)
                assert answered["call_id"] == pop["call_id"]
                rc = await carrier.wait(60)
                assert rc == 0, carrier.why()
            finally:
                await carrier.stop()
            ended = await next_frame(ws, "ended", timeout=30)
            assert ended["call_id"] == pop["call_id"]
        # The phone really answered: it got the INVITE and sent its 200 with SDP.
        invites = phone.received("INVITE")
        assert invites, phone.why()
        assert "m=audio" in invites[-1]
    return pop, answered, carrier


async def test_carrier_call_walks_the_ivr_by_rfc4733_and_a_sip_phone_answers(
    sip_bridge: Bridge, asterisk_sandbox: AsteriskSandbox, tmp_path: Path
) -> None:
    bridge = sip_bridge
    # Nguyễn Văn An (demo customer KH0000000001, tier large → vip) calls in E.164 form.
    pop, _answered, _carrier = await answered_call(
        bridge, asterisk_sandbox, tmp_path, "+84912345678", "Nguyen Van An"
    )
    customer = pop["customer"]
    assert customer["customer_id"] == "KH0000000001" and customer["tier"] == "large"
    assert pop["caller_number"] == "0912345678"  # normalised before the IVR (and the pop) saw it
    assert pop["queue"] == SIP_QUEUE and pop["agent_id"] == SIP_AGENT
    call_id = pop["call_id"]
    assert bridge.sessions is not None

    async def stored() -> tuple[CallRecord | None, list[CdrRecord], list[RatedCall], Recording | None]:
        async with bridge.sessions() as s:  # type: ignore[misc]
            rec = await s.get(CallRecord, call_id)
            cdrs = list(await s.scalars(select(CdrRecord).where(CdrRecord.linkedid == call_id)))
            rated = list(await s.scalars(select(RatedCall).where(RatedCall.call_id == call_id)))
            recording = await s.scalar(select(Recording).where(Recording.call_id == call_id))
        return rec, cdrs, rated, recording

    async def ready() -> Any:
        rec, cdrs, rated, recording = await stored()
        return rec is not None and rated and recording is not None and any(c.lastapp == "Queue" for c in cdrs)

    await eventually(ready, timeout=20)
    rec, cdrs, rated, recording = await stored()
    assert rec is not None and recording is not None
    # Walked by real DTMF (1, then 2) and queued by tier.
    assert rec.ivr_path == ["main:1", "sipmenu:2", "to_sip"]
    assert rec.acd_tier == "vip" and rec.priority == bridge.policy.initial_priority("vip")
    assert rec.queue == SIP_QUEUE and rec.agent_id == SIP_AGENT and rec.disposition == "answered"
    # One CDR for the caller's leg through the hotline, from the trunk's SIP channel; rated once.
    legs = [c for c in cdrs if c.lastapp == "Queue"]
    assert len(legs) == 1, cdrs
    leg = legs[0]
    assert leg.channel.startswith("PJSIP/trunk-carrier-a-") and leg.dstchannel.startswith(
        f"PJSIP/{SIP_AGENT}-"
    )
    assert leg.src == "0912345678" and leg.dialled == "18001090" and leg.disposition == "ANSWERED"
    assert len(rated) == 1
    assert rated[0].callee == "18001090" and rated[0].charged_party == "operator"
    assert rated[0].billed_seconds >= 6

    # The recording holds the call's audio the whole time the agent was on the line.
    path = bridge.settings.recordings.dir / recording.path
    seconds, rms, peak = audio_level(path)
    assert rec.ended_at and rec.answered_at
    talk = (rec.ended_at - rec.answered_at).total_seconds()
    assert abs(seconds - talk) <= 1.0, (
        seconds,
        talk,
        [(c.channel, c.dstchannel, c.billsec_exact) for c in cdrs],
    )
    assert rms > 300 and peak > 3000, (rms, peak)  # speech, not silence (16-bit full scale 32767)


async def test_hostile_display_name_routes_and_pops_as_data(
    sip_bridge: Bridge, asterisk_sandbox: AsteriskSandbox, tmp_path: Path
) -> None:
    # Quotes (escaped as SIP requires), backslashes, markup, a JSON breaker and 4 KB of it.
    raw = '\\"VIP\\" <script>alert(1)</script> \\\\ }{\\"]' + "Ä" * 10
    hostile = (raw + " x" * 2100)[:4096]
    pop, _answered, _carrier = await answered_call(
        sip_bridge, asterisk_sandbox, tmp_path, "0912345678", hostile
    )
    # It routed normally (the SIP phone got it) and the pop carries the name as data: the frame
    # parsed as JSON, the name is one string holding the markup verbatim (the desktop escapes it).
    name = pop["caller_name"]
    assert isinstance(name, str)
    assert "<script>alert(1)</script>" in name and '"VIP"' in name.replace("\\", "")
    assert pop["customer"]["customer_id"] == "KH0000000001"


def _collect(ami: AmiClient, names: set[str], out: list[AmiEvent]) -> Any:
    async def handler(ev: AmiEvent) -> None:
        if ev.name in names:
            out.append(ev)

    return handler


@pytest.mark.parametrize(
    ("source", "did", "code", "log_line"),
    [
        # Identified as carrier-a, but a number it does not deliver: 404 before any channel exists.
        (
            CARRIER_IP,
            "0999999999",
            "404",
            "rejected because extension not found in context 'tongdai-trunk-carrier-a'",
        ),
        # An address no trunk identifies (and no phone credentials): 401, "No matching endpoint".
        (STRANGER_IP, "18001090", "401", "No matching endpoint found"),
    ],
)
async def test_unknown_did_and_unidentified_source_are_refused_before_any_context(  # noqa: PLR0917
    asterisk_sandbox: AsteriskSandbox,
    ami: AmiClient,
    tmp_path: Path,
    source: str,
    did: str,
    code: str,
    log_line: str,
) -> None:
    events: list[AmiEvent] = []
    ami.on_event(_collect(ami, {"Newchannel", "Newexten", "VarSet"}, events))
    log = asterisk_sandbox.log_path
    before = log.stat().st_size
    intruder = await start_sipp(
        "carrier_refused.xml",
        target(asterisk_sandbox),
        tmp_path / "sipp",
        ip=source,
        keys={"caller": "0911111111"},
        extra=["-s", did, "-m", "1"],
    )
    assert await intruder.wait(30) == 0, intruder.why()
    finals = [m.split("\n", 1)[0] for m in intruder.received("SIP/2.0") if not m.startswith("SIP/2.0 100")]
    assert finals and finals[0].startswith(f"SIP/2.0 {code}"), intruder.why()

    def logged() -> list[str]:
        with open(log, encoding="utf-8", errors="replace") as f:
            f.seek(before)
            return [ln for ln in f.read().splitlines() if log_line in ln]

    lines = await eventually(logged, timeout=10)
    assert source in lines[0]  # logged with the source address
    # A channel made by the refused INVITE would be a PJSIP channel from the source: none existed.
    await asyncio.sleep(0.5)  # AMI events are asynchronous; the log line is already written
    intruder_events = [
        e for e in events if "0911111111" in e.get("CallerIDNum") or source in str(dict(e.headers))
    ]
    assert intruder_events == []
    after = log.read_bytes()[before:].decode(errors="replace")
    assert "Executing [" not in "\n".join(ln for ln in after.splitlines() if "0911111111" in ln or did in ln)
