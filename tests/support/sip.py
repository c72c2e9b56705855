"""SIPp on loopback for the SIP tier (tests/sip) and bench/bench_sip_load.py.

Addresses (all loopback, so nothing leaves the machine): Asterisk listens on 127.0.0.1; agent phones
register from 127.0.0.1; the carrier's calls come from 127.0.0.2 (the trunk's ``identify``); the
carrier's outbound side, where "customers" answer, is 127.0.0.3 (trunk ``carrier-a``) and 127.0.0.4
(trunk ``carrier-b``, the failover); 127.0.0.5 is an address no trunk identifies.
"""

from __future__ import annotations

import asyncio
import contextlib
import re
import shutil
import struct
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tests.support.settings import REPO, base_config, free_port

SCENARIOS = REPO / "tests" / "sip" / "scenarios"
SIPP = shutil.which("sipp") or "/usr/bin/sipp"
CARRIER_IP = "127.0.0.2"
CUSTOMER_A_IP = "127.0.0.3"
CUSTOMER_B_IP = "127.0.0.4"
STRANGER_IP = "127.0.0.5"
PHONE_IP = "127.0.0.1"

DID = "+8418001090"  # the hotline 18001090 in E.164, as carriers deliver it
CUSTOMER_PREFIX = "0868"  # outbound route "sip-test" (carrier-a then carrier-b); 086 is Viettel mobile
SIP_AGENT = "7101"
SIP_SUPERVISOR = "7190"
SIP_QUEUE = "sipq"
SECRETS = {SIP_AGENT: "Phone-a-kT9vQ2mLx7", SIP_SUPERVISOR: "Phone-s-Rw4zPq8Ny3"}


def free_udp_port(ip: str) -> int:
    return free_port(ip)


@dataclass(frozen=True)
class SipPorts:
    """Per-run ports of the carrier's outbound side (rendered into the trunks' contacts)."""

    customer_a: int
    customer_b: int

    @classmethod
    def pick(cls) -> SipPorts:
        return cls(free_udp_port(CUSTOMER_A_IP), free_udp_port(CUSTOMER_B_IP))


PORTS = SipPorts.pick()


def sip_agents(auto_login: bool = False) -> list[dict[str, Any]]:
    demo_hash = base_config()["agents"][0]["password_hash"]
    return [
        {
            "id": SIP_AGENT,
            "name": "Võ Thị Sương (SIP)",
            "phone": "pjsip",
            "sip_secret": SECRETS[SIP_AGENT],
            "auto_login": auto_login,
            "password_hash": demo_hash,
        },
        {
            "id": SIP_SUPERVISOR,
            "name": "Đỗ Minh Khang (SIP)",
            "role": "supervisor",
            "phone": "pjsip",
            "sip_secret": SECRETS[SIP_SUPERVISOR],
            "auto_login": False,
            "password_hash": demo_hash,
        },
    ]


# The post-call survey's queue (tests/sip/test_sip_survey.py): the caller is asked after the agent hangs
# up; every call is sampled, and the survey waits long for a key (a loaded machine's SIPp is slow).
SIP_SURVEY_QUEUE = "sipsurvey"
SIP_SURVEY: dict[str, Any] = {
    "enabled": True,
    "sample_percent": 100,
    "timeout_ms": 20000,
    "questions": [
        {"id": "csat", "prompt": "survey_csat", "kind": "scale", "scale_max": 5},
        {"id": "solved", "prompt": "survey_solved", "kind": "yes_no"},
    ],
}
SIP_QUEUES: list[dict[str, Any]] = [
    {"name": SIP_QUEUE, "label": "SIP", "wrapup": 0, "ring_timeout": 20, "members": []},
    {
        "name": SIP_SURVEY_QUEUE,
        "label": "SIP survey",
        "wrapup": 0,
        "ring_timeout": 20,
        "members": [],
        "survey": SIP_SURVEY,
    },
]


def sip_trunks(ports: SipPorts = PORTS) -> dict[str, Any]:
    return {
        "carriers": [
            {
                "name": "carrier-a",
                "host": CUSTOMER_A_IP,
                "port": ports.customer_a,
                "match": [f"{CARRIER_IP}/32"],
                "qualify_seconds": 0,
                "max_channels": 200,
                "dids": [
                    {"number": "18001090", "hotline": "18001090"},
                    {"number": "19001091", "hotline": "19001091"},
                ],
            },
            {
                "name": "carrier-b",
                "host": CUSTOMER_B_IP,
                "port": ports.customer_b,
                "match": [CUSTOMER_B_IP],
                "qualify_seconds": 0,
            },
        ],
        "outbound": [
            {
                "name": "sip-test",
                "patterns": [f"{CUSTOMER_PREFIX}XXXXXX"],
                "trunks": ["carrier-a", "carrier-b"],
            },
            {"name": "demo-simulated", "patterns": ["0[1-9]X."], "simulate": True},
        ],
    }


# What Asterisk is configured with for the whole session (tests/asterisk/conftest.py merges it).
def session_overrides() -> dict[str, Any]:
    return {"trunks": sip_trunks()}


@dataclass
class Sipp:
    """One SIPp process; ``messages`` is its -trace_msg log (every SIP message sent and received)."""

    proc: asyncio.subprocess.Process
    messages: Path
    errors: Path
    args: list[str] = field(default_factory=list)

    async def wait(self, timeout: float) -> int:
        async with asyncio.timeout(timeout):
            return await self.proc.wait()

    async def stop(self) -> None:
        if self.proc.returncode is None:
            with contextlib.suppress(ProcessLookupError):
                self.proc.terminate()
            try:
                async with asyncio.timeout(5):
                    await self.proc.wait()
            except TimeoutError:
                self.proc.kill()
                await self.proc.wait()

    def log(self) -> str:
        return self.messages.read_text(errors="replace") if self.messages.exists() else ""

    def received(self, start_line: str) -> list[str]:
        """Every received message whose first line starts with ``start_line`` ('INVITE', 'SIP/2.0 404')."""
        out = []
        # Each entry: a line of dashes and a timestamp, "UDP message received [N] bytes :", a blank
        # line, then the message.
        for block in re.split(r"\n(?=-{10,} \d)", self.log()):
            lines = block.split("\n")
            if len(lines) < 3 or "message received" not in lines[1]:
                continue
            body = "\n".join(lines[2:]).lstrip("\n")
            if body.startswith(start_line):
                out.append(body)
        return out

    def why(self) -> str:
        err = self.errors.read_text(errors="replace") if self.errors.exists() else ""
        head = f"sipp {' '.join(self.args)}\n--- errors ---\n{err[-3000:]}"
        return f"{head}\n--- messages ---\n{self.log()[-4000:]}"


_runs = 0


async def start_sipp(
    scenario: str,
    target: str,
    work: Path,
    *,
    ip: str,
    port: int = 0,
    media_port: int = 0,
    keys: dict[str, str] | None = None,
    extra: list[str] | None = None,
) -> Sipp:
    """Start SIPp with a scenario of tests/sip/scenarios (``target`` = host:port, "" for a UAS)."""
    global _runs
    _runs += 1
    work.mkdir(parents=True, exist_ok=True)  # noqa: ASYNC240 (a local directory, once per process start)
    name = f"{Path(scenario).stem}-{ip}-{_runs}"
    messages = work / f"{name}.messages.log"
    errors = work / f"{name}.errors.log"
    port = port or free_udp_port(ip)
    media_port = media_port or free_udp_port(ip)
    args = [
        *([target] if target else []),
        "-sf",
        str(SCENARIOS / scenario) if "/" not in scenario else scenario,
        "-i",
        ip,
        "-p",
        str(port),
        "-mi",
        ip,
        "-mp",
        str(media_port),
        "-trace_msg",
        "-message_file",
        str(messages),
        "-trace_err",
        "-error_file",
        str(errors),
        "-nostdin",
    ]
    for k, v in (keys or {}).items():
        args += ["-key", k, v]
    args += extra or []
    proc = await asyncio.create_subprocess_exec(
        SIPP,
        *args,
        stdin=asyncio.subprocess.DEVNULL,
        stdout=asyncio.subprocess.DEVNULL,
        stderr=asyncio.subprocess.DEVNULL,
    )
    sipp = Sipp(proc, messages, errors, args)
    # Returned once it listens: an INVITE sent to a UAS before it bound would meet a closed port.
    loop = asyncio.get_running_loop()
    deadline = loop.time() + 10
    while not udp_bound(ip, port) and proc.returncode is None:
        if loop.time() > deadline:
            await sipp.stop()
            raise AssertionError(f"SIPp is not listening on {ip}:{port} after 10 s: {sipp.why()}")
        await asyncio.sleep(0.05)
    return sipp


def udp_bound(ip: str, port: int) -> bool:
    """Whether a UDP socket is bound to ip:port, read from /proc/net/udp (binding a probe socket
    ourselves could take the port from SIPp at the moment it binds)."""
    a, b, c, d = (int(x) for x in ip.split("."))
    local = f"{d:02X}{c:02X}{b:02X}{a:02X}:{port:04X}"
    rows = Path("/proc/net/udp").read_text().splitlines()[1:]
    return any(row.split()[1] == local for row in rows)


@contextlib.asynccontextmanager
async def registered_phone(
    asterisk: str,
    agent: str,
    work: Path,
    *,
    echo: bool = True,
    rtp_port: int | None = None,
) -> AsyncIterator[Sipp]:
    """A desk phone registered as ``agent`` that answers calls (echoing RTP, or RTP to ``rtp_port``)."""
    media = free_udp_port(PHONE_IP)
    keys = {"agent": agent, "rtp_ip": PHONE_IP, "rtp_port": str(rtp_port or media)}
    extra = [
        "-au",
        agent,
        "-ap",
        SECRETS[agent],
        "-oocsf",
        str(SCENARIOS / "phone_answer.xml"),
        "-aa",
        "-m",
        "1",
    ]
    extra += ["-d", "3600000"]
    if echo and rtp_port is None:
        extra.append("-rtp_echo")
    phone = await start_sipp(
        "phone_register.xml", asterisk, work, ip=PHONE_IP, media_port=media, keys=keys, extra=extra
    )
    try:
        # Yield only once Asterisk has accepted *this* registration: an earlier test's phone leaves
        # its contact behind (Avail until qualify notices), and a call placed before our 200 OK would
        # ring that dead contact instead.
        deadline = asyncio.get_running_loop().time() + 15
        while not any("CSeq: 2 REGISTER" in m for m in phone.received("SIP/2.0 200")):
            if phone.proc.returncode is not None or asyncio.get_running_loop().time() > deadline:
                raise AssertionError(f"the phone did not register: {phone.why()}")
            await asyncio.sleep(0.05)
        yield phone
    finally:
        await phone.stop()


class RtpReceiver(asyncio.DatagramProtocol):
    """Counts RTP packets (and non-silent G.711 payload bytes) sent to a UDP port: what a phone hears."""

    def __init__(self) -> None:
        self.packets = 0
        self.loud = 0  # PCMA bytes away from silence (0xD5/0x55 and their neighbours)

    def datagram_received(self, data: bytes, addr: tuple[str, int]) -> None:
        if len(data) <= 12 or data[0] >> 6 != 2:
            return
        self.packets += 1
        payload = data[12:]
        # A-law: 0xD5 / 0x55 are ±0; XOR 0x55 undoes the even-bit inversion, the low 7 bits grow with level.
        self.loud += sum(1 for b in payload if ((b ^ 0x55) & 0x7F) > 0x20)


@contextlib.asynccontextmanager
async def rtp_receiver(ip: str = PHONE_IP) -> AsyncIterator[tuple[int, RtpReceiver]]:
    loop = asyncio.get_running_loop()
    transport, proto = await loop.create_datagram_endpoint(RtpReceiver, local_addr=(ip, 0))
    try:
        yield transport.get_extra_info("sockname")[1], proto
    finally:
        transport.close()


def dtmf_pcap_after(digit: str, after: str, out: Path) -> Path:
    """A copy of sip-tester's RFC 4733 pcap of ``digit`` moved after the one of ``after`` in the RTP
    stream. The shipped pcaps share one SSRC, with sequence numbers and timestamps rising from digit
    0 to 9: replayed after a higher digit, a lower one is dropped by Asterisk as old packets (a "5"
    then a "1" arrives as "5" only). The copy's sequence numbers and timestamps follow ``after``'s."""
    shipped = Path("/usr/share/sip-tester")

    def packets(data: bytes) -> list[tuple[int, int]]:
        found, off = [], 24  # the global pcap header
        while off < len(data):
            incl = struct.unpack("<I", data[off + 8 : off + 12])[0]
            found.append((off + 16, incl))
            off += 16 + incl
        return found

    def rtp_at(data: bytes, start: int) -> tuple[int, int]:
        seq, ts = struct.unpack(">HI", data[start + 42 + 2 : start + 42 + 8])  # Ethernet + IPv4 + UDP
        return seq, ts

    last = (shipped / f"dtmf_2833_{after}.pcap").read_bytes()
    last_seq, last_ts = rtp_at(last, packets(last)[-1][0])
    data = bytearray((shipped / f"dtmf_2833_{digit}.pcap").read_bytes())
    first_seq, first_ts = rtp_at(bytes(data), packets(bytes(data))[0][0])
    for start, _ in packets(bytes(data)):
        seq, ts = rtp_at(bytes(data), start)
        new_seq = (last_seq + 50 + seq - first_seq) & 0xFFFF
        new_ts = (last_ts + 8000 + ts - first_ts) & 0xFFFFFFFF
        struct.pack_into(">HI", data, start + 42 + 2, new_seq, new_ts)
        struct.pack_into(">H", data, start + 34 + 6, 0)  # the UDP checksum: none
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_bytes(bytes(data))
    return out
