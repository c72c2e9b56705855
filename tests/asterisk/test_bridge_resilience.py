"""The bridge under the failures operators meet: a broken FastAGI client, FastAGI down, Asterisk restart."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess

import pytest
from sqlalchemy import select

from billing.models import CdrRecord
from core.ami import AmiClient, AmiEvent
from core.bus import BusEvent
from core.models import CallRecord
from tests.asterisk.conftest import SANDBOX, AsteriskSandbox, eventually, place_call
from tongdai.app import Bridge

pytestmark = pytest.mark.asterisk


async def ended_calls(bridge: Bridge) -> asyncio.Queue[BusEvent]:
    q: asyncio.Queue[BusEvent] = asyncio.Queue()

    async def on(e: BusEvent) -> None:
        await q.put(e)

    bridge.bus.subscribe("call.ended", on)
    return q


async def test_half_header_client_does_not_stall_ami(bridge: Bridge, ami: AmiClient) -> None:
    assert bridge.agi is not None and bridge.ami is not None
    events: list[AmiEvent] = []

    async def seen(e: AmiEvent) -> None:
        events.append(e)

    bridge.ami.on_event(seen)
    # A client sends half an AGI header and disconnects; another stays silent mid-header.
    _r, w = await asyncio.open_connection("127.0.0.1", bridge.agi.port)
    w.write(b"agi_network: yes\nagi_netw")
    await w.drain()
    w.close()
    _r2, w2 = await asyncio.open_connection("127.0.0.1", bridge.agi.port)
    w2.write(b"agi_network: yes\nagi_request: agi://127.0.0.1/iv")
    await w2.drain()
    # AMI keeps answering and a real call still goes through the IVR to an agent meanwhile.
    for _ in range(5):
        reply = await asyncio.wait_for(bridge.ami.action("Ping"), 2)
        assert reply.ok
    ended = await ended_calls(bridge)
    await place_call(ami, "0987654321", dtmf="2", stay=2)
    call = await asyncio.wait_for(ended.get(), 30)
    assert call.data["queue"] == "internet" and call.data["agent_id"] == "1002"
    assert call.data["customer_id"] == "KH0000000002"
    assert any(e.name == "AgentConnect" for e in events)
    w2.close()


async def test_fastagi_down_caller_still_reaches_an_agent(bridge: Bridge, ami: AmiClient) -> None:
    assert bridge.agi is not None
    await bridge.agi.stop()  # the IVR is unreachable: Asterisk must fall back to the default queue
    ended = await ended_calls(bridge)
    await place_call(ami, "0333333333", dtmf="1", stay=2)
    call = await asyncio.wait_for(ended.get(), 30)
    assert call.data["queue"] == "care", call.data  # the default queue
    assert call.data["disposition"] == "answered" and call.data["agent_id"] == "1003"
    assert call.data["ivr_path"] == []


async def test_bridge_recovers_after_asterisk_restart(
    bridge: Bridge, asterisk_sandbox: AsteriskSandbox, ami: AmiClient
) -> None:
    assert bridge.ami is not None
    before = bridge.ami.connects
    await asyncio.to_thread(subprocess.run, [str(SANDBOX), "restart"], check=True, timeout=120)
    await eventually(lambda: bridge.ami is not None and bridge.ami.connects > before, timeout=60)
    await bridge.ami.wait_booted(30)
    # Calls flow again through the re-established link, end to end.
    await ami.wait_connected(30)
    ended = await ended_calls(bridge)
    await place_call(ami, "0912345678", dtmf="1", stay=2)
    call = await asyncio.wait_for(ended.get(), 40)
    assert call.data["customer_id"] == "KH0000000001" and call.data["disposition"] == "answered"
    assert bridge.sessions is not None

    async def stored() -> bool:
        async with bridge.sessions() as s:  # type: ignore[misc]
            rec = await s.get(CallRecord, call.call_id)
            cdr = await s.scalar(select(CdrRecord).where(CdrRecord.linkedid == call.call_id).limit(1))
        return rec is not None and cdr is not None

    await eventually(stored, timeout=15)


async def test_silent_asterisk_is_detected_and_link_restored(
    asterisk_sandbox: AsteriskSandbox, ami: AmiClient
) -> None:
    """A frozen Asterisk keeps the TCP connection open but answers nothing: only Ping replies tell."""
    m = asterisk_sandbox.settings.asterisk.ami
    client = AmiClient(
        m.host,
        m.port,
        m.username,
        "test-ami-secret",
        ping_interval=0.5,
        ping_timeout=0.5,
        action_timeout=1,
        reconnect_min=0.2,
        reconnect_max=1,
    )
    await client.start()
    try:
        await client.wait_connected(30)
        pid = int((asterisk_sandbox.root / "run/asterisk/asterisk.pid").read_text())
        os.kill(pid, signal.SIGSTOP)
        try:
            await eventually(lambda: not client.connected, timeout=10)
            assert client.silent_drops >= 1  # noticed by the unanswered Ping, not by TCP
        finally:
            os.kill(pid, signal.SIGCONT)
        await eventually(lambda: client.connected and client.connects >= 2, timeout=30)
        assert (await client.action("Ping")).ok
    finally:
        await client.stop()
