"""Skills, the VIP group and the sticky agent on the real Asterisk (issue #15, "Done means").

Queue ``skills`` (rendered for this Asterisk by conftest: strategy ``linear``, a VIP stage with 7303, a
sticky stage of 10 s, the widening rule at 2 s per level and every member at 4 s). 7301 is a plain
member and is logged in first, so app_queue alone would always ring it first; 7302 has the internet
skill the IVR node asks for. Who is rung is read from Asterisk's own AgentCalled events.
"""

from __future__ import annotations

import copy
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from core.ami import AmiClient, AmiEvent
from core.bus import BusEvent
from core.models import CallRecord
from core.vietnam import VN_TZ
from tests.asterisk.acd_support import (
    STANDARD,
    VIP,
    AmiLog,
    clear_queue,
    hang_up_all,
    listen,
    running_bridge,
)
from tests.asterisk.conftest import (
    ROUTING,
    ROUTING_AGENTS,
    ROUTING_QUEUE,
    AsteriskSandbox,
    eventually,
    place_call,
)
from tests.support.settings import SIMPLE_IVR, TEST_QUEUES, base_config
from tongdai.app import Bridge

pytestmark = pytest.mark.asterisk

Q = ROUTING_QUEUE["name"]
PLAIN, EXPERT, VIP_DESK = "7301", "7302", "7303"
STAGES = [Q, f"{Q}.vip", *(f"{Q}.a{a}" for a in (PLAIN, EXPERT))]


def overrides() -> dict[str, Any]:
    ivr = copy.deepcopy(SIMPLE_IVR)
    ivr["nodes"]["main"]["options"]["5"] = "skills_internet"
    ivr["nodes"]["skills_internet"] = {
        "type": "transfer",
        "queue": Q,
        "skill": "internet",
        "label": "Internet",
    }
    return {
        "agents": [*base_config()["agents"], *ROUTING_AGENTS],
        "queues": [*TEST_QUEUES, ROUTING_QUEUE],
        "routing": ROUTING,
        "ivr": ivr,
    }


async def next_event(log: AmiLog, since: int, name: str, **headers: str) -> AmiEvent:
    """The first ``name`` event with these headers among those seen after the first ``since``."""

    def found() -> AmiEvent | None:
        return next(
            (
                e
                for e in log.events[since:]
                if e.name == name and all(e.get(k) == v for k, v in headers.items())
            ),
            None,
        )

    ev: AmiEvent = await eventually(found, timeout=20)
    return ev


@pytest.fixture
async def clean(ami: AmiClient) -> AsyncIterator[None]:
    async def clear() -> None:
        await hang_up_all(ami)
        for q in STAGES:
            await clear_queue(ami, q)

    await clear()
    yield
    await clear()


@asynccontextmanager
async def bridge_with(
    sandbox: AsteriskSandbox, tmp_path: Path, *agents: str
) -> AsyncIterator[tuple[Bridge, list[BusEvent]]]:
    """The bridge with ``agents`` logged in, in that order; the call.ringing events it publishes."""
    async with running_bridge(sandbox, tmp_path, **overrides()) as b:
        ringing: list[BusEvent] = []

        async def on_ringing(ev: BusEvent) -> None:
            ringing.append(ev)

        b.bus.subscribe("call.ringing", on_ringing, name="test-ringing")
        for a in agents:
            await b.agents.login(a)
        yield b, ringing


@pytest.mark.usefixtures("clean")
async def test_an_internet_caller_reaches_the_internet_agent_first_then_the_others(
    asterisk_sandbox: AsteriskSandbox, ami: AmiClient, tmp_path: Path
) -> None:
    log = listen(ami)
    async with bridge_with(asterisk_sandbox, tmp_path, PLAIN, EXPERT):
        # The members' penalties app_queue holds: the expert at the top of the internet band.
        pens = {e.get("MemberName"): e.get("Penalty") for e in log.matching("QueueMemberAdded", Queue=Q)}
        assert pens == {PLAIN: "11", EXPERT: "1"}

        await place_call(ami, STANDARD, dtmf="5", stay=30)
        called = await log.wait_for("AgentCalled", Queue=Q)
        assert called.get("MemberName") == EXPERT  # though 7301 is free and first for "linear"
        await log.wait_for("AgentConnect", Queue=Q, MemberName=EXPERT)

        # The expert is busy now: the next internet caller waits for the window to open (4 s), then
        # reaches the plain member.
        await place_call(ami, VIP.replace("0912", "0913"), dtmf="5", stay=30)  # an unknown caller
        join = await log.wait_for("QueueCallerJoin", Queue=Q, CallerIDNum=VIP.replace("0912", "0913"))
        joined = time.monotonic()
        second = await log.wait_for("AgentCalled", Queue=Q, MemberName=PLAIN, timeout=20)
        waited = time.monotonic() - joined
        assert second.get("Linkedid") == join.get("Linkedid")
        assert waited >= 3.0, f"the plain member was rung after {waited:.1f} s, before the window opened"


@pytest.mark.usefixtures("clean")
async def test_a_vip_caller_reaches_the_vip_group_first_a_standard_caller_never(
    asterisk_sandbox: AsteriskSandbox, ami: AmiClient, tmp_path: Path
) -> None:
    log = listen(ami)
    async with bridge_with(asterisk_sandbox, tmp_path, PLAIN, EXPERT, VIP_DESK) as (b, _):
        await place_call(ami, VIP, dtmf="5", stay=30)
        called = await log.wait_for("AgentCalled", CallerIDNum=VIP)
        vip_call = called.get("Linkedid")
        assert (called.get("Queue"), called.get("MemberName")) == (f"{Q}.vip", VIP_DESK)
        await log.wait_for("AgentConnect", MemberName=VIP_DESK)
        await hang_up_all(ami)

        await place_call(ami, STANDARD, dtmf="5", stay=30)
        called = await log.wait_for("AgentCalled", CallerIDNum=STANDARD)
        assert (called.get("Queue"), called.get("MemberName")) == (Q, EXPERT)
        assert not log.matching("QueueCallerJoin", Queue=f"{Q}.vip", CallerIDNum=STANDARD)
        # The VIP's record counts in its queue, not in the stage.
        assert b.sessions is not None
        sessions = b.sessions

        async def vip_record() -> CallRecord | None:
            async with sessions() as s:
                rec: CallRecord | None = await s.scalar(
                    # This call's: the node's start also recorded earlier tests' calls from the CSV.
                    select(CallRecord).where(CallRecord.call_id == vip_call, CallRecord.ended_at.is_not(None))
                )
                return rec

        rec = await eventually(vip_record)
        assert (rec.queue, rec.agent_id, rec.disposition) == (Q, VIP_DESK, "answered")


@pytest.mark.usefixtures("clean")
async def test_the_sticky_agent_gets_the_repeat_caller_and_is_skipped_when_not_ready(
    asterisk_sandbox: AsteriskSandbox, ami: AmiClient, tmp_path: Path
) -> None:
    log = listen(ami)
    async with bridge_with(asterisk_sandbox, tmp_path, PLAIN) as (b, ringing):
        # First call: only the plain member is in, so it serves the customer.
        await place_call(ami, STANDARD, dtmf="5", stay=30)
        connect = await log.wait_for("AgentConnect", Queue=Q, MemberName=PLAIN)
        await hang_up_all(ami)
        assert b.sessions is not None
        sessions = b.sessions
        # This call's record, by its id: the start's CSV reconciliation also brings back `recovered`
        # rows for earlier tests' calls with this agent (the sandbox's CDR file is shared).
        first_call = connect.get("Linkedid")

        async def answered_at() -> datetime | None:
            async with sessions() as s:
                return await s.scalar(select(CallRecord.answered_at).where(CallRecord.call_id == first_call))

        first = await eventually(answered_at)
        # The Việt Nam date of that answer (not of "now": the repeat call may come after midnight there).
        served_on = first.replace(tzinfo=first.tzinfo or UTC).astimezone(VN_TZ).date().isoformat()
        await eventually(lambda: (st := b.agents.snapshot(PLAIN)) is not None and st.status == "ready")
        await b.agents.login(EXPERT)

        # Repeat call: the window alone would give it to the expert; the sticky stage offers it to 7301.
        n = len(log.events)
        await place_call(ami, STANDARD, dtmf="5", stay=30)
        called = await log.wait_for("AgentCalled", CallerIDNum=STANDARD, Queue=f"{Q}.a{PLAIN}")
        assert called.get("MemberName") == PLAIN
        assert not [e for e in log.events[n:] if e.name == "AgentCalled" and e.get("MemberName") == EXPERT]
        await log.wait_for("AgentConnect", MemberName=PLAIN, Linkedid=called.get("Linkedid"))
        # What the pop is built from: the sticky agent and the date it served the customer.
        ev = await eventually(lambda: next((e for e in ringing if e.call_id == called.get("Linkedid")), None))
        assert ev.data["sticky_agent"] == PLAIN and ev.data["ringing_agent"] == PLAIN
        assert ev.data["sticky_served_on"] == served_on
        await hang_up_all(ami)
        await eventually(lambda: (st := b.agents.snapshot(PLAIN)) is not None and st.status == "ready")

        # Not ready (paused): the stage is skipped at once and the expert answers without a wait.
        await b.agents.pause(PLAIN, "meeting")
        n = len(log.events)
        started = time.monotonic()
        await place_call(ami, STANDARD, dtmf="5", stay=30)
        called = await next_event(log, n, "AgentCalled", CallerIDNum=STANDARD)
        assert (called.get("Queue"), called.get("MemberName")) == (Q, EXPERT)
        assert time.monotonic() - started < 10, "waited out the sticky stage for a paused agent"
        assert not [
            e for e in log.events[n:] if e.name == "QueueCallerJoin" and e.get("Queue") == f"{Q}.a{PLAIN}"
        ]
