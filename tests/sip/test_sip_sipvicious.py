"""The SIP edge against sipvicious (issue #13): the attacker's usual tools, aimed at the sandbox's
SIP port on loopback, learn nothing. ``svwar`` cannot tell a real agent's extension from a made-up
one (every REGISTER, INVITE or OPTIONS without credentials gets the same challenge), ``svcrack``
finds no password of a real phone in a dictionary of likely ones, and ``svmap`` sees no version."""

from __future__ import annotations

import asyncio
import re
import socket
import sys
from pathlib import Path

import pytest

from tests.asterisk.conftest import AsteriskSandbox
from tests.support.sip import SECRETS, SIP_AGENT, SIP_SUPERVISOR
from tongdai.app import Bridge

pytestmark = [pytest.mark.sip, pytest.mark.asterisk]
TOOLS = Path(sys.executable).parent
LOOPBACK = "127.0.0.1"


async def sipvicious(tool: str, *args: str, timeout: float = 120) -> str:
    """Run one sipvicious tool from the venv; its report (stdout and stderr together)."""
    proc = await asyncio.create_subprocess_exec(
        str(TOOLS / f"sipvicious_{tool}"),
        *args,
        stdin=asyncio.subprocess.DEVNULL,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )
    out, _ = await asyncio.wait_for(proc.communicate(), timeout)
    return out.decode("utf-8", "replace")


def found_extensions(report: str) -> list[str]:
    """svwar's result table: ``| 7101 | reqauth |`` rows (the header row names no number)."""
    return re.findall(r"^\|\s*(\d+)\s*\|", report, re.MULTILINE)


@pytest.mark.parametrize("method", ["REGISTER", "INVITE", "OPTIONS"])
async def test_svwar_enumerates_no_extension(
    sip_bridge: Bridge, asterisk_sandbox: AsteriskSandbox, method: str
) -> None:
    real = {SIP_AGENT, SIP_SUPERVISOR}
    lo, hi = min(int(a) for a in real) - 5, max(int(a) for a in real) + 5
    report = await sipvicious(
        "svwar",
        "--force",
        "-e",
        f"{lo}-{hi}",
        "-m",
        method,
        "-p",
        str(asterisk_sandbox.sip_port),
        "127.0.0.1",
    )
    # Forced past its own sanity check ("authentication request for an unknown extension"), it
    # still tells no extension apart.
    assert found_extensions(report) == [] and "found nothing" in report, report


async def test_svcrack_finds_no_password(
    sip_bridge: Bridge, asterisk_sandbox: AsteriskSandbox, tmp_path: Path
) -> None:
    words = tmp_path / "passwords.txt"
    guesses = [SIP_AGENT, "1234", "123456", "password", "admin", "secret", f"{SIP_AGENT}{SIP_AGENT}", "demo"]
    words.write_text("\n".join(guesses) + "\n")
    assert SECRETS[SIP_AGENT] not in guesses
    report = await sipvicious(
        "svcrack", "-u", SIP_AGENT, "-d", str(words), "-p", str(asterisk_sandbox.sip_port), "127.0.0.1"
    )
    assert "found nothing" in report and not re.search(rf"^\|\s*{SIP_AGENT}\s*\|", report, re.MULTILINE), (
        report
    )


async def test_svmap_sees_no_version(sip_bridge: Bridge, asterisk_sandbox: AsteriskSandbox) -> None:
    report = await sipvicious("svmap", "-p", str(asterisk_sandbox.sip_port), "127.0.0.1")
    assert "tongdai-asterisk" in report, report  # it found the server (the test would prove nothing else)
    assert not re.search(r"Asterisk PBX|\b22\.\d+", report), report


def register_reply(port: int, ext: str) -> tuple[str, list[str]]:
    """One unauthenticated REGISTER for ``ext``: the reply's status line and header names."""
    msg = (
        f"REGISTER sip:127.0.0.1:{port} SIP/2.0\r\n"
        f"Via: SIP/2.0/UDP 127.0.0.1:{{lport}};branch=z9hG4bK-{ext}-probe\r\n"
        f"From: <sip:{ext}@127.0.0.1>;tag=probe{ext}\r\nTo: <sip:{ext}@127.0.0.1>\r\n"
        f"Call-ID: probe-{ext}@127.0.0.1\r\nCSeq: 1 REGISTER\r\n"
        f"Contact: <sip:{ext}@127.0.0.1:{{lport}}>\r\nMax-Forwards: 70\r\nExpires: 60\r\n"
        "Content-Length: 0\r\n\r\n"
    )
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.bind(("127.0.0.1", 0))
        s.settimeout(5)
        s.sendto(msg.format(lport=s.getsockname()[1]).encode(), ("127.0.0.1", port))
        data = s.recv(65535).decode("utf-8", "replace")
    status, *headers = data.split("\r\n\r\n", 1)[0].split("\r\n")
    return status, sorted(h.split(":", 1)[0].lower() for h in headers)


async def test_a_real_and_a_made_up_extension_get_the_same_challenge(
    sip_bridge: Bridge, asterisk_sandbox: AsteriskSandbox
) -> None:
    real = await asyncio.to_thread(register_reply, asterisk_sandbox.sip_port, SIP_AGENT)
    fake = await asyncio.to_thread(register_reply, asterisk_sandbox.sip_port, "7999")
    assert real[0] == "SIP/2.0 401 Unauthorized" and "www-authenticate" in real[1]
    assert real == fake
