"""Agent device state and wrap-up on the real Asterisk (issue #5, agents).

* An agent whose SIP phone is not registered (a PJSIP endpoint with no contact) is logged in but
  unreachable: app_queue reports the member's device as unavailable and never rings it; tongdai shows
  the agent ``unavailable`` (desktop, wallboard) and does not count it as ready.
* In a queue with ``wrapuptime`` (3 s in the sandbox), an agent whose call ended is in ``wrap_up``, is
  offered no call while it lasts, and is ready again when it ends; the periods are timed with
  Asterisk's own event stamps.
"""

from __future__ import annotations

import itertools
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from acd.models import AgentStateLog
from agent_desktop.api import WALLBOARD_KEY
from agent_desktop.wallboard import Wallboard
from core.ami import AmiClient
from core.bus import BusEvent
from tests.asterisk.acd_support import (
    GOLD,
    QUEUE,
    SIP_AGENT,
    STANDARD,
    WRAPUP_QUEUE,
    acd_overrides,
    agent_entry,
    clear_queue,
    hang_up_all,
    listen,
    queue_status,
    running_bridge,
    with_wrapup_queue,
)
from tests.asterisk.conftest import ACD_SIP_AGENT, AsteriskSandbox, eventually, place_call
from tongdai.app import Bridge

pytestmark = pytest.mark.asterisk

AGENT = "1006"  # a simulated agent: rings 1 s, answers, talks until the caller hangs up
DEVICE_UNAVAILABLE = "5"  # ast_device_state AST_DEVICE_UNAVAILABLE in QueueMember's Status


@pytest.fixture
async def clean(ami: AmiClient) -> AsyncIterator[None]:
    await hang_up_all(ami)
    for q in (QUEUE, WRAPUP_QUEUE):
        await clear_queue(ami, q)
    yield
    await hang_up_all(ami)
    for q in (QUEUE, WRAPUP_QUEUE):
        await clear_queue(ami, q)


def wallboard_of(b: Bridge) -> Wallboard:
    assert b._runner is not None  # the bridge's own desktop app, as supervisors' browsers see it
    board: Wallboard = b._runner.app[WALLBOARD_KEY]
    return board


@pytest.mark.usefixtures("clean")
async def test_agent_with_an_unregistered_sip_phone_is_unavailable_not_ready(
    asterisk_sandbox: AsteriskSandbox, ami: AmiClient, tmp_path: Path
) -> None:
    log = listen(ami)
    over = acd_overrides(
        [{**ACD_SIP_AGENT, "auto_login": False}, agent_entry(AGENT, "Phan Thị Lan")], [{"agent": SIP_AGENT}]
    )
    async with running_bridge(asterisk_sandbox, tmp_path, **over) as b:
        st = await b.agents.login(SIP_AGENT, [QUEUE])
        assert (st.status, st.queues) == ("unavailable", (QUEUE,))
        # app_queue's own view: a member whose device is unavailable (no registered contact).
        members, _ = await queue_status(ami)
        assert [(m.get("Name"), m.get("Location"), m.get("Status")) for m in members] == [
            (SIP_AGENT, f"PJSIP/{SIP_AGENT}", DEVICE_UNAVAILABLE)
        ]
        assert (await b.agents.state(SIP_AGENT)).status == "unavailable"  # the shared store

        board = wallboard_of(b)

        def on_board() -> dict[str, Any] | None:
            snap = board.snapshot()
            row = next(a for a in snap["agents"] if a["agent_id"] == SIP_AGENT)
            return snap if row["status"] == "unavailable" else None

        snap = await eventually(on_board, timeout=10)
        ready_rows = {a["agent_id"] for a in snap["agents"] if a["status"] == "ready" and not a["on_call"]}
        assert SIP_AGENT not in ready_rows
        assert snap["agent_counts"]["ready"] == len(ready_rows)
        assert snap["agent_counts"]["unavailable"] == 1

        # A caller waits: app_queue does not ring the unreachable agent; the next agent who logs in
        # (a reachable one) takes the call.
        await place_call(ami, STANDARD, dtmf="3", stay=120)
        await log.wait_for("QueueCallerJoin", Queue=QUEUE, CallerIDNum=STANDARD)
        await b.agents.login(AGENT, [QUEUE])
        connect = await log.wait_for("AgentConnect", Queue=QUEUE)
        assert connect.get("MemberName") == AGENT
        assert log.matching("AgentCalled", MemberName=SIP_AGENT) == []
        assert b.agents.snapshot(SIP_AGENT).status == "unavailable"  # type: ignore[union-attr]

        st = await b.agents.logout(SIP_AGENT)
        assert st.status == "logged_out"


@pytest.mark.usefixtures("clean")
async def test_wrap_up_holds_the_next_call_then_the_agent_is_ready(
    asterisk_sandbox: AsteriskSandbox, ami: AmiClient, tmp_path: Path
) -> None:
    log = listen(ami)
    over = with_wrapup_queue(acd_overrides([agent_entry(AGENT, "Phan Thị Lan")], []), [{"agent": AGENT}])
    async with running_bridge(asterisk_sandbox, tmp_path, **over) as b:
        seen: list[tuple[str, float]] = []  # the agent's published (status, since), in order

        async def record(ev: BusEvent) -> None:
            if ev.data["agent_id"] == AGENT:
                seen.append((ev.data["status"], ev.data["since"]))

        b.bus.subscribe("agent.state", record, name="test-wrapup")
        await b.agents.login(AGENT, [WRAPUP_QUEUE])

        # Caller 1 talks to the agent; caller 2 waits behind it.
        await place_call(ami, STANDARD, dtmf="4", stay=120)
        first = await log.wait_for("AgentConnect", Queue=WRAPUP_QUEUE, CallerIDNum=STANDARD)
        await place_call(ami, GOLD, dtmf="4", stay=120)
        await log.wait_for("QueueCallerJoin", Queue=WRAPUP_QUEUE, CallerIDNum=GOLD)

        await ami.action("Hangup", {"Channel": first.get("Channel")})
        # AgentComplete names the member; the caller's fields are empty once its channel is gone.
        done = await log.wait_for("AgentComplete", Queue=WRAPUP_QUEUE, MemberName=AGENT)
        ended = float(done.get("Timestamp"))

        def in_wrap_up() -> bool:
            st = b.agents.snapshot(AGENT)
            return st is not None and st.status == "wrap_up"

        await eventually(in_wrap_up, timeout=5)
        assert b.agents.snapshot(AGENT).since == ended  # type: ignore[union-attr]  # Asterisk's stamp
        _, entries = await queue_status(ami, WRAPUP_QUEUE)
        assert [e.get("CallerIDNum") for e in entries] == [GOLD]  # the free agent is not offered it

        # Caller 2 is offered the agent only once wrap-up is over. app_queue compares whole seconds
        # (time(NULL) - wrapuptime < lastcall.tv_sec), so its 3 s can be as short as 2 s + a fraction.
        called = await log.wait_for("AgentCalled", timeout=15, Queue=WRAPUP_QUEUE, CallerIDNum=GOLD)
        assert called.get("MemberName") == AGENT
        assert float(called.get("Timestamp")) - ended >= 2.0
        assert [e.get("CallerIDNum") for e in log.matching("AgentCalled", Queue=WRAPUP_QUEUE)] == [
            STANDARD,
            GOLD,
        ]
        second = await log.wait_for("AgentConnect", Queue=WRAPUP_QUEUE, CallerIDNum=GOLD)

        # Nobody waits any more: after caller 2 the agent wraps up, then is ready, 3 s later exactly.
        await ami.action("Hangup", {"Channel": second.get("Channel")})
        completes = await eventually(
            lambda: (got := log.matching("AgentComplete", Queue=WRAPUP_QUEUE, MemberName=AGENT))[1:] and got
        )
        done2 = completes[1]

        def ready_again() -> bool:
            # The snapshot changes first; the agent.state event reaches subscribers a moment later.
            st = b.agents.snapshot(AGENT)
            published = bool(seen) and seen[-1] == ("ready", st.since if st else None)
            return (
                st is not None
                and st.status == "ready"
                and st.since > float(done2.get("Timestamp"))
                and published
            )

        await eventually(ready_again, timeout=10)
        statuses = [s for s, _ in seen]
        i = statuses.index("wrap_up")
        assert statuses[i - 1 : i + 1] == ["on_call", "wrap_up"]
        # Between the two calls: wrap_up, then ringing for caller 2 (through "ready" if the bridge's
        # timer ran out before app_queue's next ring), never ringing during the wrap-up.
        between = statuses[i + 1 : statuses.index("on_call", i)]
        assert between in (["ringing"], ["ready", "ringing"])
        assert statuses[-2:] == ["wrap_up", "ready"]
        last_wrap, last_ready = seen[-2][1], seen[-1][1]
        assert last_wrap == float(done2.get("Timestamp"))
        assert last_ready - last_wrap == pytest.approx(3.0)

        assert b.sessions is not None
        sessions = b.sessions

        async def wrap_rows() -> list[AgentStateLog]:
            async with sessions() as s:
                q = select(AgentStateLog).where(AgentStateLog.agent == AGENT).order_by(AgentStateLog.id)
                rows = list(await s.scalars(q))
            return rows if sum(r.status == "wrap_up" for r in rows) >= 2 else []

        rows = await eventually(wrap_rows, timeout=10)
    # The log for reports: consecutive periods, the last wrap-up exactly the queue's wrap-up time.
    for prev, nxt in itertools.pairwise(rows):
        assert prev.ended == nxt.started
    assert [r.seconds for r in rows if r.status == "wrap_up"][-1] == pytest.approx(3.0)
