"""A progressive campaign with AMD dialled through the real outbound route and carrier trunk to SIPp
customers behind the carrier (trunk ``carrier-a``), one contact at a time (one SIPp UAS listens on the
customer address, so the next contact is imported once the previous attempt is recorded):

- a customer who is busy (486): ``busy``, retried by the busy rule;
- one who lets it ring (180, then 200 to the CANCEL and 487): ``no_answer`` after the ring timeout;
- an answering machine playing a 7 s greeting (SIPp's g711a.pcap): AMD says ``MACHINE``, hung up,
  never offered to the agent, retried by the machine rule;
- a person who says a short word and then stays silent: AMD says ``HUMAN``, the SIP agent's desk phone
  rings and answers, and the agent's desktop pops the call with the campaign's script: ``reached``.

Every customer saw the hotline as the caller (From and P-Asserted-Identity), and each call left a CDR
on the trunk leg with what the carrier answered.
"""

from __future__ import annotations

import datetime as dt
import math
import struct
from collections.abc import AsyncIterator
from pathlib import Path

import aiohttp
import pytest
from sqlalchemy import select

from billing.models import CdrRecord
from campaigns.amd import AmdSettings
from campaigns.component import customer_of
from campaigns.importer import import_csv
from campaigns.models import CampaignAttempt
from campaigns.store import NewCampaign
from core.ami import AmiClient
from crm_bridge.demo_data import load_demo
from tests.asterisk.conftest import AsteriskSandbox, eventually
from tests.asterisk.test_campaign_dialler import vn_clock
from tests.sip.conftest import sip_bridge_settings
from tests.sip.test_sip_outbound import presented, trunk_channels
from tests.support.desktop import login, next_frame
from tests.support.sip import (
    CUSTOMER_A_IP,
    CUSTOMER_PREFIX,
    PORTS,
    SCENARIOS,
    SIP_AGENT,
    SIP_QUEUE,
    Sipp,
    free_udp_port,
    registered_phone,
    start_sipp,
)
from tongdai.app import Bridge

pytestmark = [pytest.mark.sip, pytest.mark.asterisk]

BUSY = CUSTOMER_PREFIX + "000486"
NO_ANSWER = CUSTOMER_PREFIX + "000487"
MACHINE = CUSTOMER_PREFIX + "000777"
PERSON = CUSTOMER_PREFIX + "000123"
SCRIPT = "Chào anh/chị, tổng đài 18001090 xin xác nhận lịch lắp đặt của anh/chị."
GREETING = Path("/usr/share/sip-tester/g711a.pcap")  # ~7 s of continuous speech (Debian sip-tester)
RING_TIMEOUT = 5


def e164(n: str) -> str:
    return "+84" + n[1:]


def alaw(sample: int) -> int:
    """One 16-bit linear sample as G.711 A-law (ITU-T G.711 segment encoding)."""
    sign = 0x80 if sample >= 0 else 0x00
    mag = min(sample if sample >= 0 else -sample - 1, 32635)
    if mag >= 256:
        exp = mag.bit_length() - 8
        code = (exp << 4) | ((mag >> (exp + 3)) & 0x0F)
    else:
        code = mag >> 4
    return (code | sign) ^ 0x55


def write_rtp_pcap(path: Path, audio: bytes) -> None:
    """A pcap of PCMA RTP (20 ms packets over Ethernet/IPv4/UDP), as SIPp's play_pcap_audio reads."""
    out = [struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, 65535, 1)]
    for i in range(0, len(audio), 160):
        payload = audio[i : i + 160].ljust(160, b"\xd5")
        seq = i // 160
        rtp = struct.pack("!BBHII", 0x80, (0x80 if seq == 0 else 0) | 8, seq, i, 0x7D0A1)
        udp = struct.pack("!HHHH", 40000, 50000, 8 + len(rtp) + len(payload), 0)
        ip = struct.pack(
            "!BBHHHBBH4s4s", 0x45, 0, 20 + len(udp) + len(rtp) + len(payload), seq, 0, 64, 17, 0,
            bytes([10, 0, 0, 1]), bytes([10, 0, 0, 2]),
        )  # fmt: skip
        frame = b"\x00\x11\x22\x33\x44\x55" * 2 + b"\x08\x00" + ip + udp + rtp + payload
        usec = seq * 20_000
        out.append(struct.pack("<IIII", usec // 1_000_000, usec % 1_000_000, len(frame), len(frame)))
        out.append(frame)
    path.write_bytes(b"".join(out))


def person_saying_alo(path: Path) -> Path:
    """0.3 s of silence, a 0.5 s "alô" (a 400 Hz tone, well above AMD's silence threshold), then 5 s of
    silence: AMD hears one short word followed by more than its 800 ms after-greeting silence."""
    tone = bytes(alaw(int(9000 * math.sin(2 * math.pi * 400 * n / 8000))) for n in range(4000))
    write_rtp_pcap(path, b"\xd5" * 2400 + tone + b"\xd5" * 40_000)
    return path


def playing(work: Path, pcap: Path) -> str:
    """customer_answer_play.xml rendered to play ``pcap`` (SIPp takes no variable in that path)."""
    work.mkdir(parents=True, exist_ok=True)
    rendered = work / f"customer_answer_play-{pcap.stem}.xml"
    rendered.write_text((SCENARIOS / "customer_answer_play.xml").read_text().replace("@PCAP@", str(pcap)))
    return str(rendered)


async def customer(work: Path, scenario: str) -> Sipp:
    """The customer's phone behind carrier-a (a scenario of tests/sip/scenarios, or a rendered one),
    returned once it listens (start_sipp waits for that)."""
    return await start_sipp(
        scenario,
        "",
        work,
        ip=CUSTOMER_A_IP,
        port=PORTS.customer_a,
        media_port=free_udp_port(CUSTOMER_A_IP),
        extra=["-m", "1"],
    )


@pytest.fixture
async def campaign_bridge(asterisk_sandbox: AsteriskSandbox, tmp_path: Path) -> AsyncIterator[Bridge]:
    """The SIP tier's bridge (7101 logged in to ``sipq``) with the campaign dialler on."""
    over = {"campaigns": {"dialler": True, "ring_timeout": RING_TIMEOUT, "poll_seconds": 1}}
    b = Bridge(sip_bridge_settings(asterisk_sandbox, tmp_path, **over))
    await b.start()
    try:
        assert b.ami is not None and b.engine is not None
        await b.ami.wait_connected(30)
        await b.ami.wait_booted(30)
        await b.agents.ready(30)
        await load_demo(b.engine, 0)
        yield b
    finally:
        await b.stop()


async def attempt_of(b: Bridge, cid: int, number: str) -> CampaignAttempt | None:
    assert b.sessions is not None
    async with b.sessions() as s:
        return await s.scalar(
            select(CampaignAttempt).where(
                CampaignAttempt.campaign_id == cid, CampaignAttempt.number == e164(number)
            )
        )


async def trunk_cdrs(b: Bridge, call_id: str, number: str) -> list[CdrRecord]:
    """The CDRs of the campaign call's trunk leg: the route dialled ``number`` on carrier-a."""
    assert b.sessions is not None
    async with b.sessions() as s:
        rows = await s.scalars(select(CdrRecord).where(CdrRecord.linkedid == call_id))
        return [r for r in rows if r.dstchannel.startswith("PJSIP/trunk-carrier-a-") and r.dialled == number]


async def test_a_campaign_dials_sip_customers_through_the_route_and_the_trunk(
    campaign_bridge: Bridge, asterisk_sandbox: AsteriskSandbox, ami: AmiClient, tmp_path: Path
) -> None:
    b = campaign_bridge
    c = b.campaigns
    assert c is not None and c.dialler is not None and b.directory is not None
    c.dialler.clock = vn_clock(10, 0)
    work = tmp_path / "sipp"
    base = f"http://127.0.0.1:{b.web_port}"
    async with (
        aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True)) as http,
        registered_phone(f"127.0.0.1:{asterisk_sandbox.sip_port}", SIP_AGENT, work),
    ):
        await eventually(lambda: "Avail" in asterisk_sandbox.cli(f"pjsip show aor {SIP_AGENT}"), timeout=15)
        await login(http, base, SIP_AGENT, "demo-1001")
        async with http.ws_connect(f"{base}/ws", origin=base) as ws:
            await next_frame(ws, "hello")
            made = await c.store.create(
                NewCampaign(
                    name="Xác nhận lắp đặt (SIP)", queue=SIP_QUEUE, purpose="care", mode="progressive",
                    script=SCRIPT, dispositions=["confirmed", "later"], amd=AmdSettings(),
                    retry_minutes={"busy": 5, "no_answer": 30, "machine": 30},
                ),
                "9000",
            )  # fmt: skip
            cid = made.id
            await c.store.control(cid, "start")
            seen: dict[str, Sipp] = {}

            async def dial(number: str, callee: Sipp) -> CampaignAttempt:
                """Import ``number``; the dialler calls it (the agent is ready); its attempt is recorded."""
                seen[number] = callee
                try:
                    csv = f"number\n{number}\n"
                    await import_csv(c.store, customer_of(b.directory), cid, csv, max_rows=10)
                    if number == PERSON:
                        pop = await next_frame(ws, "pop", timeout=30)
                        assert pop["campaign"]["script"] == SCRIPT, pop
                        assert pop["campaign"]["dispositions"] == ["confirmed", "later"]
                        assert pop["call_id"].startswith("cmp-")
                        await next_frame(ws, "answered", timeout=20)  # 7101's desk phone answered
                        up = await eventually(lambda: trunk_channels(ami, "carrier-a"), timeout=10)
                        for ch in up:  # the customer hangs up after a word with the agent
                            await ami.action("Hangup", {"Channel": ch["Channel"]}, check=False)
                    row: CampaignAttempt = await eventually(
                        lambda: attempt_of(b, cid, number), timeout=RING_TIMEOUT + 20, interval=0.2
                    )
                    assert await callee.wait(20) == 0, callee.why()
                    if number == PERSON:
                        assert row.call_id == pop["call_id"]
                    return row
                finally:
                    await callee.stop()

            busy = await dial(BUSY, await customer(work, "customer_busy.xml"))
            no_answer = await dial(NO_ANSWER, await customer(work, "customer_no_answer.xml"))
            machine = await dial(MACHINE, await customer(work, playing(work, GREETING)))
            person_pcap = person_saying_alo(tmp_path / "alo.pcap")
            person = await dial(PERSON, await customer(work, playing(work, person_pcap)))

    # What each customer answered, as the campaign recorded it.
    outcomes = {a.number: (a.outcome, a.connected, a.amd_status) for a in (busy, no_answer, machine, person)}
    assert outcomes == {
        e164(BUSY): ("busy", False, None),
        e164(NO_ANSWER): ("no_answer", False, None),
        e164(MACHINE): ("machine", False, "MACHINE"),
        e164(PERSON): ("reached", True, "HUMAN"),
    }
    assert machine.amd_cause and machine.amd_cause.split("-")[0] in ("LONGGREETING", "MAXWORDS"), machine
    assert person.agent_id == SIP_AGENT
    assert seen[NO_ANSWER].received("CANCEL"), seen[NO_ANSWER].why()  # given up after the ring timeout
    # Retried by their rules (busy 5 min, no answer and machine 30 min); the person is done.
    now = c.dialler.clock()
    contacts = {k.number: k for k in await c.store.contacts(cid)}
    for number, minutes in ((BUSY, 5), (NO_ANSWER, 30), (MACHINE, 30)):
        k = contacts[e164(number)]
        assert (k.state, k.attempts) == ("pending", 1), k
        assert k.next_attempt_at is not None
        assert dt.timedelta(minutes=minutes - 1) < k.next_attempt_at - now <= dt.timedelta(minutes=minutes)
    assert contacts[e164(PERSON)].state == "done"

    # Each customer was called through the route on carrier-a and saw the hotline, not the agent.
    for number, callee in seen.items():
        invite = callee.received("INVITE")[0]
        assert invite.startswith(f"INVITE sip:{number}@{CUSTOMER_A_IP}:{PORTS.customer_a}"), invite
        from_hdr, pai = presented(invite)
        assert "<sip:18001090@" in from_hdr and SIP_AGENT not in from_hdr, from_hdr
        assert "<sip:18001090@" in pai, invite

    # One CDR per call on the trunk leg, with what the carrier answered.
    expected = {BUSY: "BUSY", NO_ANSWER: "NO ANSWER", MACHINE: "ANSWERED", PERSON: "ANSWERED"}
    for a, number in ((busy, BUSY), (no_answer, NO_ANSWER), (machine, MACHINE), (person, PERSON)):
        legs = await eventually(lambda a=a, n=number: trunk_cdrs(b, a.call_id, n), timeout=15)
        assert len(legs) == 1, legs
        cdr = legs[0]
        assert cdr.disposition == expected[number], (number, cdr.disposition, cdr.lastapp)
        assert (cdr.billsec > 0) == (expected[number] == "ANSWERED"), (number, cdr.billsec)
