"""Tier priority with wait aging on the real Asterisk (issue #5, "Done means").

Callers walk the IVR (key 3 → queue ``tv``), are identified by their number (demo customers: VIP,
gold, standard) and enter app_queue with their tier's priority; the bridge's QueueAger raises a
waiting caller's priority with QueueChangePriorityCaller. The queue's only agent, 1004, is not free
until the test makes it so; which caller gets it is read from Asterisk's own AgentCalled/AgentConnect
events and from the call records tongdai writes.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from acd.models import AgentStateLog
from core.ami import AmiClient, AmiEvent
from core.models import CallRecord
from tests.asterisk.acd_support import (
    GOLD,
    QUEUE,
    SHORT_TIERS,
    STANDARD,
    VIP,
    AmiLog,
    acd_overrides,
    agent_entry,
    clear_queue,
    hang_up_all,
    listen,
    queue_status,
    running_bridge,
)
from tests.asterisk.conftest import AsteriskSandbox, eventually, place_call
from tongdai.app import Bridge

pytestmark = pytest.mark.asterisk

AGENT = "1004"


def overrides(policy: str = "aging") -> dict[str, Any]:
    return acd_overrides(
        [agent_entry(AGENT, "Đặng Văn Tú")],
        [{"agent": AGENT}],
        # refresh 0.5 s: the ager may push each caller's new priority twice a second.
        acd={"policy": policy, "tiers": SHORT_TIERS, "refresh_seconds": 0.5},
    )


async def caller_waits(ami: AmiClient, log: AmiLog, number: str) -> AmiEvent:
    """Place a call that keys 3 (→ tv) and return its QueueCallerJoin."""
    await place_call(ami, number, dtmf="3", stay=120)
    return await log.wait_for("QueueCallerJoin", Queue=QUEUE, CallerIDNum=number)


async def entries_by_number(ami: AmiClient) -> dict[str, AmiEvent]:
    _, entries = await queue_status(ami)
    return {e.get("CallerIDNum"): e for e in entries}


async def records(b: Bridge, joins: dict[str, AmiEvent]) -> dict[str, CallRecord]:
    """The call records of the test's callers, once the bridge has written all of them."""
    assert b.sessions is not None
    sessions = b.sessions

    async def get() -> dict[str, CallRecord] | None:
        async with sessions() as s:
            got = {n: await s.get(CallRecord, j.get("Linkedid")) for n, j in joins.items()}
        return got if all(got.values()) else None  # type: ignore[return-value]

    out: dict[str, CallRecord] = await eventually(get, timeout=15)
    return out


def status_of(b: Bridge) -> str:
    st = b.agents.snapshot(AGENT)
    return st.status if st is not None else ""


async def state_log(b: Bridge, last: str) -> list[str]:
    """The agent's finished status periods (agent_state_log), once the one named ``last`` is there."""
    assert b.sessions is not None
    async with b.sessions() as s:
        q = select(AgentStateLog.status).where(AgentStateLog.agent == AGENT).order_by(AgentStateLog.id)
        rows = list(await s.scalars(q))
    return rows if rows and rows[-1] == last else []


@pytest.fixture
async def clean(ami: AmiClient) -> Any:
    """Start with nobody in ``tv`` and leave no caller or member of ours behind."""
    await hang_up_all(ami)
    await clear_queue(ami)
    yield
    await hang_up_all(ami)
    await clear_queue(ami)


@pytest.mark.usefixtures("clean")
async def test_vip_is_connected_first_when_an_agent_becomes_ready(
    asterisk_sandbox: AsteriskSandbox, ami: AmiClient, tmp_path: Path
) -> None:
    log = listen(ami)
    async with running_bridge(asterisk_sandbox, tmp_path, **overrides()) as b:
        await b.agents.login(AGENT)
        assert (await b.agents.pause(AGENT, "meeting")).status == "paused"

        # They arrive in the worst order for the VIP: standard first, VIP last.
        joins = {n: await caller_waits(ami, log, n) for n in (STANDARD, GOLD, VIP)}
        waiting = await entries_by_number(ami)
        assert waiting[VIP].get("Position") == "1", {n: dict(e.headers) for n, e in waiting.items()}
        assert not log.matching("AgentCalled", Queue=QUEUE)  # nobody was free

        await b.agents.unpause(AGENT)
        called = await log.wait_for("AgentCalled", Queue=QUEUE)
        connected = await log.wait_for("AgentConnect", Queue=QUEUE)
        assert called.get("CallerIDNum") == VIP and called.get("MemberName") == AGENT
        assert connected.get("Linkedid") == joins[VIP].get("Linkedid")
        assert connected.get("MemberName") == AGENT
        # The others are still waiting, standard now behind gold.
        waiting = await entries_by_number(ami)
        assert [waiting[n].get("Position") for n in (GOLD, STANDARD)] == ["1", "2"]

        # The agent's own state follows the call: on the call now, ready once it ends (no wrap-up here).
        await eventually(lambda: status_of(b) == "on_call")
        await hang_up_all(ami)
        recs = await records(b, joins)
        await eventually(lambda: status_of(b) == "ready")
        periods = await eventually(lambda: state_log(b, "on_call"))
    assert periods == ["logged_out", "ready", "paused", "ready", "ringing", "on_call"]
    assert {n: r.acd_tier for n, r in recs.items()} == {VIP: "vip", GOLD: "gold", STANDARD: "standard"}
    assert recs[VIP].agent_id == AGENT and recs[VIP].disposition == "answered"
    assert recs[VIP].priority == 300
    for n in (GOLD, STANDARD):
        assert recs[n].agent_id == "" and recs[n].disposition == "abandoned"


@pytest.mark.usefixtures("clean")
@pytest.mark.parametrize(("policy", "winner"), [("aging", STANDARD), ("strict", GOLD)])
async def test_standard_past_its_target_goes_before_a_new_gold_caller(
    asterisk_sandbox: AsteriskSandbox, ami: AmiClient, tmp_path: Path, policy: str, winner: str
) -> None:
    """With aging the standard caller who waited past its 6 s target is served first; the same calls
    under strict priority serve the gold caller (the control: the test can tell the two apart)."""
    log = listen(ami)
    async with running_bridge(asterisk_sandbox, tmp_path, **overrides(policy)) as b:
        joins = {STANDARD: await caller_waits(ami, log, STANDARD)}
        target = next(t["target_seconds"] for t in SHORT_TIERS if t["name"] == "standard")

        async def waited_past_target() -> bool:
            e = (await entries_by_number(ami)).get(STANDARD)
            return e is not None and int(e.get("Wait") or 0) > target

        await eventually(waited_past_target, timeout=target + 10)
        joins[GOLD] = await caller_waits(ami, log, GOLD)
        waiting = await entries_by_number(ami)
        prio = {n: int(e.get("Priority")) for n, e in waiting.items()}
        if policy == "aging":
            # Aged in app_queue itself: past its target, standard outranks gold's entry priority.
            assert prio[STANDARD] > prio[GOLD] >= 25, prio
            assert b.aging.pushes > 0 and b.aging.failures == 0
        else:
            assert prio == {STANDARD: 10, GOLD: 25}
            assert b.aging.pushes == 0
        assert waiting[winner].get("Position") == "1"

        await b.agents.login(AGENT)  # the agent becomes ready
        connected = await log.wait_for("AgentConnect", Queue=QUEUE)
        assert connected.get("CallerIDNum") == winner
        assert [e.get("CallerIDNum") for e in log.matching("AgentCalled", Queue=QUEUE)] == [winner]

        await hang_up_all(ami)
        recs = await records(b, joins)
    assert recs[winner].agent_id == AGENT and recs[winner].disposition == "answered"
    loser = GOLD if winner == STANDARD else STANDARD
    assert recs[loser].agent_id == "" and recs[loser].disposition == "abandoned"
