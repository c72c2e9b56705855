"""Every log line of a call's handling names the call: AMI event handlers (the drain binds the event's
Linkedid and Uniqueid), bus subscribers and the tasks they start (the pop), and a FastAGI session (its
uniqueid from the header, its linkedid once read), as JSON log lines."""

from __future__ import annotations

import asyncio
import io
import json
import logging
from collections.abc import Iterator

import pytest

from core import log_redaction, logs
from core.agi import AgiServer, AgiSession
from core.ami import AmiClient, AmiEvent
from core.bus import BusEvent, LocalBus
from core.calls import CallTracker
from tests.support.agi_env import IVR_HEADER
from tests.support.fake_net import FakeAmi

log = logging.getLogger("tests.call_context")


@pytest.fixture
def json_logs() -> Iterator[io.StringIO]:
    root = logging.getLogger()
    handlers, level, factory = list(root.handlers), root.level, logging.getLogRecordFactory()
    out = io.StringIO()
    logs.configure(json_lines=True, stream=out)
    yield out
    for h in list(root.handlers):
        root.removeHandler(h)
    for h in handlers:
        root.addHandler(h)
    root.setLevel(level)
    logging.setLogRecordFactory(factory)
    log_redaction._installed = False


def lines(out: io.StringIO, message: str) -> list[dict[str, str]]:
    return [d for d in map(json.loads, out.getvalue().splitlines()) if d["message"] == message]


async def test_ami_handlers_and_bus_subscribers_log_with_the_linkedid(json_logs: io.StringIO) -> None:
    ami_server = FakeAmi()
    await ami_server.start()
    bus = LocalBus()
    tracker = CallTracker(bus)
    client = AmiClient("127.0.0.1", ami_server.port, "u", "s", ping_interval=30)
    handled = asyncio.Event()
    popped = asyncio.Event()

    async def acd_like_handler(ev: AmiEvent) -> None:
        if ev.name == "AgentCalled":
            log.info("agent handler")
            handled.set()

    async def pop_like_subscriber(ev: BusEvent) -> None:
        async def pop() -> None:  # a task of its own, as the pop hub starts one per call
            log.info("pop task")
            popped.set()

        asyncio.get_running_loop().create_task(pop())

    client.on_event(tracker.handle)
    client.on_event(acd_like_handler)
    bus.subscribe("call.ringing", pop_like_subscriber, name="pop")
    await client.start()
    try:
        await client.wait_connected(5)
        ami_server.event("Newchannel", Linkedid="ast1-7.0", Uniqueid="ast1-7.0", Context="tongdai-hotline")
        ami_server.event("QueueCallerJoin", Linkedid="ast1-7.0", Uniqueid="ast1-7.0", Queue="mobile")
        ami_server.event("AgentCalled", Linkedid="ast1-7.0", Uniqueid="ast1-7.0", MemberName="1001")
        await asyncio.wait_for(handled.wait(), 5)
        await asyncio.wait_for(popped.wait(), 5)
    finally:
        await client.stop()
        await bus.close()
        await ami_server.stop()
    (agent_line,) = lines(json_logs, "agent handler")
    assert agent_line["linkedid"] == "ast1-7.0" and agent_line["uniqueid"] == "ast1-7.0"
    (pop_line,) = lines(json_logs, "pop task")
    assert pop_line["linkedid"] == "ast1-7.0"


HEADER = IVR_HEADER


async def test_a_fastagi_session_logs_with_its_uniqueid_then_its_linkedid(json_logs: io.StringIO) -> None:
    srv = AgiServer("127.0.0.1", 0)
    decisions: list[tuple[str, float]] = []
    srv.on_decision = lambda route, seconds: decisions.append((route, seconds))
    done = asyncio.Event()

    async def ivr(s: AgiSession) -> None:
        log.info("session start")
        await s.get_variable("CHANNEL(linkedid)")
        log.info("session decided")
        done.set()

    srv.route("ivr", ivr)
    await srv.start()
    try:
        r, w = await asyncio.open_connection("127.0.0.1", srv.port)
        w.write(HEADER.encode())
        assert (await r.readline()).decode() == 'GET VARIABLE "CHANNEL(linkedid)"\n'
        w.write(b"200 result=1 (ast1-9.0)\n")
        await asyncio.wait_for(done.wait(), 5)
        w.close()
    finally:
        await srv.stop()
    (start,) = lines(json_logs, "session start")
    assert start["uniqueid"] == "ast1-9.1" and start["linkedid"] == ""
    (decided,) = lines(json_logs, "session decided")
    assert decided["uniqueid"] == "ast1-9.1" and decided["linkedid"] == "ast1-9.0"
    assert [route for route, _ in decisions] == ["ivr"] and decisions[0][1] >= 0  # one command, timed
