"""Click-to-call over a real trunk: the agent's SIP phone rings, then the customer (a SIPp UAS behind
the carrier) is dialled through the outbound route, sees the hotline number (From and
P-Asserted-Identity), and the call is rated by the outbound tariff. A trunk answering 503 fails over."""

from __future__ import annotations

import asyncio
import re
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from sqlalchemy import select

from billing.models import RatedCall
from core.ami import AmiClient
from tests.asterisk.conftest import AsteriskSandbox, eventually
from tests.support.desktop import login
from tests.support.sip import (
    CUSTOMER_A_IP,
    CUSTOMER_B_IP,
    CUSTOMER_PREFIX,
    PHONE_IP,
    PORTS,
    SECRETS,
    SIP_AGENT,
    Sipp,
    free_udp_port,
    registered_phone,
    start_sipp,
)
from tongdai.app import Bridge

pytestmark = [pytest.mark.sip, pytest.mark.asterisk]
CUSTOMER = CUSTOMER_PREFIX + "123456"


async def csrf_of(http: aiohttp.ClientSession, base: str) -> str:
    async with http.get(f"{base}/") as r:
        m = re.search(r'data-csrf="([^"]+)"', await r.text())
    assert m
    return m.group(1)


async def customer(work: Path, ip: str, port: int, scenario: str = "phone_answer.xml") -> Sipp:
    """The customer's phone behind the carrier (or, with trunk_unavailable.xml, a trunk that is down)."""
    media = free_udp_port(ip)
    keys = {"rtp_ip": ip, "rtp_port": str(media)}
    return await start_sipp(
        scenario, "", work, ip=ip, port=port, media_port=media, keys=keys, extra=["-m", "1", "-rtp_echo"]
    )


async def trunk_channels(ami: AmiClient, trunk: str) -> list[dict[str, str]]:
    resp = await ami.action("CoreShowChannels", multi=True, timeout=10)
    return [
        dict(e.headers)
        for e in resp.events
        if e.name == "CoreShowChannel"
        and e.get("Channel").startswith(f"PJSIP/trunk-{trunk}-")
        and e.get("ChannelStateDesc") == "Up"
    ]


async def click_to_call(
    bridge: Bridge, sandbox: AsteriskSandbox, ami: AmiClient, tmp_path: Path, answering: str
) -> tuple[Sipp, RatedCall]:
    """Dial CUSTOMER from 7101's desktop; the customer on trunk ``answering`` talks ~3 s, then hangs up."""
    base = f"http://127.0.0.1:{bridge.web_port}"
    async with (
        aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True)) as http,
        registered_phone(f"127.0.0.1:{sandbox.sip_port}", SIP_AGENT, tmp_path / "sipp"),
    ):
        await eventually(lambda: "Avail" in sandbox.cli(f"pjsip show aor {SIP_AGENT}"), timeout=15)
        await login(http, base, SIP_AGENT, "demo-1001")
        csrf = await csrf_of(http, base)
        # International is not covered by any route: refused before anything rings.
        async with http.post(
            f"{base}/api/calls/dial", json={"number": "+1 202 555 0100"}, headers={"X-CSRF-Token": csrf}
        ) as r:
            assert r.status == 400
        if answering == "carrier-a":
            callee = await customer(tmp_path / "sipp", CUSTOMER_A_IP, PORTS.customer_a)
            down = None
        else:
            down = await customer(tmp_path / "sipp", CUSTOMER_A_IP, PORTS.customer_a, "trunk_unavailable.xml")
            callee = await customer(tmp_path / "sipp", CUSTOMER_B_IP, PORTS.customer_b)
        try:
            async with http.post(
                f"{base}/api/calls/dial", json={"number": CUSTOMER}, headers={"X-CSRF-Token": csrf}
            ) as r:
                body = await r.json()
                assert r.status == 200, body
            assert body["dialling"] == CUSTOMER
            up = await eventually(lambda: trunk_channels(ami, answering), timeout=30)
            linkedid = up[0]["Linkedid"]
            await asyncio.sleep(3)  # the customer and the agent talk (echoed RTP) before the hang-up
            for c in up:
                await ami.action("Hangup", {"Channel": c["Channel"]}, check=False)
            assert await callee.wait(20) == 0, callee.why()
            if down is not None:
                assert await down.wait(20) == 0, down.why()
                assert down.received("INVITE"), down.why()
        finally:
            await callee.stop()
            if down is not None:
                await down.stop()
    assert bridge.sessions is not None

    async def rated() -> Any:
        async with bridge.sessions() as s:  # type: ignore[misc]
            rows = await s.scalars(select(RatedCall).where(RatedCall.call_id == linkedid))
            return [r for r in rows if r.billed_seconds > 0]

    rows = await eventually(rated, timeout=20)
    assert len(rows) == 1
    return callee, rows[0]


def presented(invite: str) -> tuple[str, str]:
    headers = dict(
        (k.strip().lower(), v.strip())
        for k, v in (ln.split(":", 1) for ln in invite.splitlines()[1:] if ":" in ln)
    )
    return headers.get("from", ""), headers.get("p-asserted-identity", "")


async def test_click_to_call_leaves_by_the_route_presenting_the_hotline(
    sip_bridge: Bridge, asterisk_sandbox: AsteriskSandbox, ami: AmiClient, tmp_path: Path
) -> None:
    callee, line = await click_to_call(sip_bridge, asterisk_sandbox, ami, tmp_path, "carrier-a")
    invite = callee.received("INVITE")[0]
    assert invite.startswith(f"INVITE sip:{CUSTOMER}@{CUSTOMER_A_IP}:{PORTS.customer_a}")
    from_hdr, pai = presented(invite)
    assert "<sip:18001090@" in from_hdr and SIP_AGENT not in from_hdr, from_hdr
    assert "<sip:18001090@" in pai, invite
    # Rated by the outbound tariff: 086 is Viettel mobile, 6 s + 1 s blocks, charged to the caller.
    assert line.direction == "outbound" and line.callee == CUSTOMER
    assert line.destination == "viettel" and line.charged_party != "operator"
    assert line.billed_seconds >= 6 and line.amount > 0


async def test_a_trunk_answering_503_fails_over_to_the_next(
    sip_bridge: Bridge, asterisk_sandbox: AsteriskSandbox, ami: AmiClient, tmp_path: Path
) -> None:
    before = asterisk_sandbox.log_path.stat().st_size
    callee, line = await click_to_call(sip_bridge, asterisk_sandbox, ami, tmp_path, "carrier-b")
    invite = callee.received("INVITE")[0]
    assert invite.startswith(f"INVITE sip:{CUSTOMER}@{CUSTOMER_B_IP}:{PORTS.customer_b}")
    assert "<sip:18001090@" in presented(invite)[0]
    log = asterisk_sandbox.log_path.read_bytes()[before:].decode(errors="replace")
    assert f"tongdai trunk carrier-a failed for {CUSTOMER}" in log
    assert line.direction == "outbound" and line.destination == "viettel"


@pytest.mark.parametrize("number", ["0012025550100", "+12025550100"])
async def test_an_agent_phone_cannot_dial_abroad_without_a_route(
    asterisk_sandbox: AsteriskSandbox, tmp_path: Path, number: str
) -> None:
    # Toll fraud through a phone (a stolen SIP secret): the phone authenticates, its call enters
    # tongdai-phones, and no outbound route covers 00… (none is international), so it is refused.
    before = asterisk_sandbox.log_path.stat().st_size
    phone = await start_sipp(
        "phone_dial.xml",
        f"127.0.0.1:{asterisk_sandbox.sip_port}",
        tmp_path / "sipp",
        ip=PHONE_IP,
        keys={"agent": SIP_AGENT},
        extra=["-s", number, "-au", SIP_AGENT, "-ap", SECRETS[SIP_AGENT], "-m", "1"],
    )
    assert await phone.wait(30) == 0, phone.why()
    finals = [
        m.split("\n", 1)[0]
        for m in phone.received("SIP/2.0")
        if not m.startswith(("SIP/2.0 1", "SIP/2.0 401"))
    ]
    assert finals and finals[0].startswith("SIP/2.0 403"), phone.why()

    def refused() -> bool:
        log = asterisk_sandbox.log_path.read_bytes()[before:].decode(errors="replace")
        return f"tongdai dial-out: no outbound route for 0012025550100 from PJSIP/{SIP_AGENT}-" in log

    await eventually(refused, timeout=10)
    log = asterisk_sandbox.log_path.read_bytes()[before:].decode(errors="replace")
    ours = [ln for ln in log.splitlines() if "0012025550100" in ln]
    # Every route's test was false ("0?…"): the call never entered a route context, never dialled.
    entered = [ln for ln in ours if "Dial(" in ln or "@tongdai-route-" in ln or '"1?tongdai-route-' in ln]
    assert not entered, ours
