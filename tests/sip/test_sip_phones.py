"""Agent desk phones: register with their secret, qualify keeps the queue's view of them true."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import aiohttp
import pytest

from core.ami import AmiClient
from tests.asterisk.conftest import AsteriskSandbox, eventually
from tests.support.desktop import login, next_frame
from tests.support.sip import PHONE_IP, SECRETS, SIP_AGENT, SIP_QUEUE, registered_phone, start_sipp
from tongdai.app import Bridge

pytestmark = [pytest.mark.sip, pytest.mark.asterisk]
NOT_INUSE, UNAVAILABLE = "1", "5"  # QueueMember Status (device states)


async def member_status(ami: AmiClient) -> str:
    resp = await ami.action("QueueStatus", {"Queue": SIP_QUEUE}, multi=True, timeout=10)
    for e in resp.events:
        if e.name == "QueueMember" and e.get("StateInterface", e.get("Location")) == f"PJSIP/{SIP_AGENT}":
            return e.get("Status")
    return ""


async def test_registered_phone_is_available_and_a_dead_one_is_not(
    sip_bridge: Bridge, asterisk_sandbox: AsteriskSandbox, ami: AmiClient, tmp_path: Path
) -> None:
    target = f"127.0.0.1:{asterisk_sandbox.sip_port}"
    # A wrong secret does not register.
    intruder = await start_sipp(
        "phone_register.xml",
        target,
        tmp_path / "sipp",
        ip=PHONE_IP,
        keys={"agent": SIP_AGENT},
        extra=["-au", SIP_AGENT, "-ap", "wrong-secret-guess-1", "-m", "1", "-d", "1000"],
    )
    await intruder.wait(30)
    assert not [m for m in intruder.received("SIP/2.0 200")], intruder.why()
    async with registered_phone(target, SIP_AGENT, tmp_path / "sipp"):
        # Registered and answering qualify: the queue sees the phone as usable.
        await eventually(lambda: "Avail" in asterisk_sandbox.cli(f"pjsip show aor {SIP_AGENT}"), timeout=15)
        assert await eventually(lambda: _is(ami, NOT_INUSE), timeout=15)
    # The phone is gone (its registration has not expired): qualify (every 15 s, 3 s timeout) makes
    # it unavailable, so the queue stops ringing it.
    assert await eventually(lambda: _is(ami, UNAVAILABLE), timeout=40, interval=0.5)


async def _is(ami: AmiClient, status: str) -> bool:
    return await member_status(ami) == status


async def phone_frame(ws: aiohttp.ClientWebSocketResponse, status: str, timeout: float) -> dict[str, Any]:
    """The next "phone" frame with ``status`` (earlier ones, e.g. the catch-up, are skipped)."""
    while True:
        frame = await next_frame(ws, "phone", timeout=timeout)
        if frame["status"] == status:
            return frame


async def test_the_desktop_shows_the_phones_registration(
    sip_bridge: Bridge, asterisk_sandbox: AsteriskSandbox, tmp_path: Path
) -> None:
    """Registered, not answering qualify, signed off: each reaches the agent's desktop as it happens."""
    target = f"127.0.0.1:{asterisk_sandbox.sip_port}"
    base = f"http://127.0.0.1:{sip_bridge.web_port}"
    async with aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True)) as http:
        await login(http, base, SIP_AGENT, "demo-1001")
        async with http.ws_connect(f"{base}/ws", origin=base) as ws:
            await next_frame(ws, "hello")
            # On connect the desktop gets the phone's current state (from the re-sync at start).
            first = await next_frame(ws, "phone", timeout=15)
            assert first["agent_id"] == SIP_AGENT and first["status"] in ("unregistered", "unreachable")
            async with registered_phone(target, SIP_AGENT, tmp_path / "sipp"):
                up = await phone_frame(ws, "registered", timeout=15)
                assert up["contacts"] >= 1 and up["agent_id"] == SIP_AGENT
            # SIPp is gone but its registration stands: qualify (15 s, 3 s timeout) finds it silent.
            down = await phone_frame(ws, "unreachable", timeout=40)
            assert down["contacts"] >= 1
            bye = await start_sipp(
                "phone_unregister.xml",
                target,
                tmp_path / "sipp",
                ip=PHONE_IP,
                keys={"agent": SIP_AGENT},
                extra=["-au", SIP_AGENT, "-ap", SECRETS[SIP_AGENT], "-m", "1"],
            )
            assert await bye.wait(30) == 0, bye.why()
            gone = await phone_frame(ws, "unregistered", timeout=15)
            assert gone["contacts"] == 0
        # A desktop that connects later is told at once.
        async with http.ws_connect(f"{base}/ws", origin=base) as ws:
            assert (await next_frame(ws, "phone", timeout=15))["status"] == "unregistered"
