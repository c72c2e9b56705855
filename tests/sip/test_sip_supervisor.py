"""Listen / whisper / barge on a SIP agent's real call: the supervisor's own SIP phone (registered
SIPp) answers the spy leg, and the call's audio arrives at it as RTP (counted by the test's own UDP
receiver, which the phone's SDP names as its media address)."""

from __future__ import annotations

import re
from pathlib import Path

import aiohttp
import pytest

from core.ami import AmiClient
from tests.asterisk.conftest import AsteriskSandbox, eventually
from tests.support.desktop import login, next_frame
from tests.support.sip import (
    CARRIER_IP,
    DID,
    SIP_AGENT,
    SIP_SUPERVISOR,
    registered_phone,
    rtp_receiver,
    start_sipp,
)
from tongdai.app import Bridge

pytestmark = [pytest.mark.sip, pytest.mark.asterisk]


async def csrf_of(http: aiohttp.ClientSession, base: str) -> str:
    async with http.get(f"{base}/") as r:
        m = re.search(r'data-csrf="([^"]+)"', await r.text())
    assert m
    return m.group(1)


async def spy_channels(ami: AmiClient) -> list[str]:
    resp = await ami.action("CoreShowChannels", multi=True, timeout=10)
    return [
        e.get("Channel")
        for e in resp.events
        if e.name == "CoreShowChannel" and e.get("Channel").startswith(f"PJSIP/{SIP_SUPERVISOR}-")
    ]


async def test_supervisor_phone_hears_listen_whisper_and_barge(
    sip_bridge: Bridge, asterisk_sandbox: AsteriskSandbox, ami: AmiClient, tmp_path: Path
) -> None:
    base = f"http://127.0.0.1:{sip_bridge.web_port}"
    sip_target = f"127.0.0.1:{asterisk_sandbox.sip_port}"
    work = tmp_path / "sipp"
    async with (
        aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True)) as agent,
        aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True)) as sup,
        rtp_receiver() as (rtp_port, heard),
        registered_phone(sip_target, SIP_AGENT, work),
        registered_phone(sip_target, SIP_SUPERVISOR, work, rtp_port=rtp_port) as sup_phone,
    ):
        for who in (SIP_AGENT, SIP_SUPERVISOR):
            await eventually(lambda w=who: "Avail" in asterisk_sandbox.cli(f"pjsip show aor {w}"), timeout=15)
        await login(agent, base, SIP_AGENT, "demo-1001")
        await login(sup, base, SIP_SUPERVISOR, "demo-1001")
        async with agent.ws_connect(f"{base}/ws", origin=base) as ws:
            await next_frame(ws, "hello")
            carrier = await start_sipp(
                "carrier_ivr_long_call.xml",
                sip_target,
                work,
                ip=CARRIER_IP,
                keys={"caller": "0912345678", "cname": "Nguyen Van An"},
                extra=["-s", DID, "-m", "1"],
            )
            try:
                await next_frame(ws, "answered", timeout=30)
                csrf = await csrf_of(sup, base)
                for mode in ("listen", "whisper", "barge"):
                    before_packets, before_loud = heard.packets, heard.loud
                    async with sup.post(
                        f"{base}/api/spy",
                        json={"agent_id": SIP_AGENT, "mode": mode},
                        headers={"X-CSRF-Token": csrf},
                    ) as r:
                        assert r.status == 200, await r.text()
                        assert (await r.json())["target"] == f"PJSIP/{SIP_AGENT}"
                    # The supervisor's phone rings, answers, and hears the call: RTP with speech in it.
                    try:
                        await eventually(lambda b=before_packets: heard.packets - b >= 50, timeout=15)
                    except AssertionError:
                        got = heard.packets - before_packets
                        raise AssertionError(
                            f"{mode}: the supervisor's phone got {got} RTP packets\n{sup_phone.why()}"
                        ) from None
                    assert heard.loud > before_loud, mode
                    for ch in await spy_channels(ami):
                        await ami.action("Hangup", {"Channel": ch}, check=False)
                    await eventually(lambda: _none(spy_channels(ami)), timeout=10)
                assert len(sup_phone.received("INVITE")) == 3, sup_phone.why()
            finally:
                # The carrier would talk on for a minute: end the call here (then SIPp may go).
                await ami.action("Hangup", {"Channel": "/^PJSIP\\/trunk-carrier-/"}, check=False)
                await carrier.stop()


async def _none(channels: object) -> bool:
    got = await channels  # type: ignore[misc]
    return not got
