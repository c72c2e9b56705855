"""Agent login, pause with a reason, unpause and logout through the real Asterisk (issue #5).

Each change goes through AgentStateService (QueueAdd/QueuePause/QueueRemove on AMI) and is checked
where it lands: app_queue's own view (QueueStatus on the test's AMI connection), the service's view,
the shared store in Redis (127.0.0.1:6379) and the ``agent_state_log`` rows written for reports.
"""

from __future__ import annotations

import itertools
import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from redis.asyncio import Redis
from sqlalchemy import select

from acd.agents import InvalidPauseReason
from acd.models import AgentStateLog
from core.ami import AmiClient, AmiEvent
from core.errors import Conflict
from tests.asterisk.acd_support import (
    QUEUE,
    STANDARD,
    acd_overrides,
    agent_entry,
    clear_queue,
    hang_up_all,
    listen,
    queue_status,
    running_bridge,
)
from tests.asterisk.conftest import AsteriskSandbox, eventually, place_call

pytestmark = [pytest.mark.asterisk, pytest.mark.redis]

AGENT = "1005"
NO_ANSWER = "8001"  # the dialplan's 8XXX agents ring for 1 s, then reject the call
IFACE = f"Local/{AGENT}@tongdai-agents/n"
OTHER_QUEUE = "billing"  # a second queue for AGENT, with a penalty
REDIS_DB_URL = "redis://127.0.0.1:6379/12"


async def members_of(ami: AmiClient, agent_id: str) -> dict[str, AmiEvent]:
    """app_queue's own view: queue → QueueMember entry of this agent."""
    resp = await ami.action("QueueStatus", {"Member": agent_id}, multi=True, timeout=10)
    return {e.get("Queue"): e for e in resp.events if e.name == "QueueMember" and e.get("Name") == agent_id}


@pytest.fixture
async def redis() -> AsyncIterator[Redis]:
    r = Redis.from_url(REDIS_DB_URL)
    for key in await r.keys("tongdai:agent*"):
        await r.delete(key)
    yield r
    await r.aclose()


@pytest.fixture
async def clean(ami: AmiClient) -> AsyncIterator[None]:
    await hang_up_all(ami)
    await clear_queue(ami)
    yield
    await hang_up_all(ami)
    await clear_queue(ami)
    # Only our agent leaves the other queue: its other members belong to the other tests.
    await ami.action("QueueRemove", {"Queue": OTHER_QUEUE, "Interface": IFACE}, check=False)


def overrides(**over: Any) -> dict[str, Any]:
    out = acd_overrides(
        [agent_entry(AGENT, "Võ Thị Hạnh"), agent_entry(NO_ANSWER, "Máy không trả lời")],
        [{"agent": AGENT}],
        **over,
    )
    for q in out["queues"]:
        if q["name"] == OTHER_QUEUE:
            q["members"] = [*q["members"], {"agent": AGENT, "penalty": 2}]
    return out


async def in_redis(redis: Redis, **fields: bytes) -> bool:
    """Whether the agent's hash in Redis holds these values (the store writes behind the AMI drain)."""
    raw = await redis.hgetall(f"tongdai:agent:{AGENT}")
    return all(raw.get(k.encode()) == v for k, v in fields.items())


@pytest.mark.usefixtures("clean")
async def test_login_pause_unpause_logout_round_trip(
    asterisk_sandbox: AsteriskSandbox, ami: AmiClient, redis: Redis, tmp_path: Path
) -> None:
    over = overrides(redis={"url": REDIS_DB_URL, "channel": f"tongdai.test.{uuid.uuid4().hex}"})
    async with running_bridge(asterisk_sandbox, tmp_path, **over) as b:
        svc = b.agents
        assert (await svc.state(AGENT)).status == "logged_out"
        assert await members_of(ami, AGENT) == {}

        st = await svc.login(AGENT)
        assert (st.status, st.queues) == ("ready", (OTHER_QUEUE, QUEUE))
        m = await members_of(ami, AGENT)
        assert set(m) == {QUEUE, OTHER_QUEUE}
        assert m[OTHER_QUEUE].get("Penalty") == "2" and m[QUEUE].get("Penalty") == "0"
        assert all(e.get("Paused") == "0" for e in m.values())
        await eventually(lambda: in_redis(redis, status=b"ready"))  # written behind the AMI drain

        st = await svc.pause(AGENT, "lunch")
        assert (st.status, st.reason) == ("paused", "lunch")
        m = await members_of(ami, AGENT)
        assert {(e.get("Paused"), e.get("PausedReason")) for e in m.values()} == {("1", "lunch")}
        shared = await svc.state(AGENT)  # read back from Redis
        assert (shared.status, shared.reason, shared.queues) == ("paused", "lunch", (OTHER_QUEUE, QUEUE))
        queues = f"{OTHER_QUEUE},{QUEUE}".encode()
        await eventually(lambda: in_redis(redis, status=b"paused", reason=b"lunch", queues=queues))

        st = await svc.unpause(AGENT)
        assert (st.status, st.reason) == ("ready", "")
        assert {e.get("Paused") for e in (await members_of(ami, AGENT)).values()} == {"0"}

        st = await svc.logout(AGENT)
        assert (st.status, st.queues) == ("logged_out", ())
        assert await members_of(ami, AGENT) == {}
        assert (await svc.state(AGENT)).status == "logged_out"
        await eventually(lambda: in_redis(redis, status=b"logged_out"))

        assert b.sessions is not None
        sessions = b.sessions

        async def log_rows() -> list[AgentStateLog]:
            async with sessions() as s:
                q = select(AgentStateLog).where(AgentStateLog.agent == AGENT).order_by(AgentStateLog.id)
                rows = list(await s.scalars(q))
            return rows if len(rows) >= 4 else []

        rows = await eventually(log_rows, timeout=10)
    # One row per finished period, in order, each ending where the next starts.
    assert [(r.status, r.reason) for r in rows] == [
        ("logged_out", ""),
        ("ready", ""),
        ("paused", "lunch"),
        ("ready", ""),
    ]
    for prev, nxt in itertools.pairwise(rows):
        assert prev.ended == nxt.started
    for r in rows:  # seconds is the float difference; the timestamps are stored to the microsecond
        assert r.seconds >= 0 and r.seconds == pytest.approx((r.ended - r.started).total_seconds(), abs=1e-5)


@pytest.mark.usefixtures("clean")
async def test_invalid_pause_reason_is_refused_before_asterisk(
    asterisk_sandbox: AsteriskSandbox, ami: AmiClient, tmp_path: Path
) -> None:
    async with running_bridge(asterisk_sandbox, tmp_path, **overrides()) as b:
        await b.agents.login(AGENT, [QUEUE])
        with pytest.raises(InvalidPauseReason) as err:
            await b.agents.pause(AGENT, "smoke")
        msg = str(err.value)
        assert "'smoke'" in msg and "lunch" in msg and "break" in msg  # names the bad code and the good
        members, _ = await queue_status(ami)
        assert [(e.get("Name"), e.get("Paused")) for e in members] == [(AGENT, "0")]
        assert b.agents.snapshot(AGENT).status == "ready"  # type: ignore[union-attr]

        # Pausing someone who is logged in nowhere is refused by Asterisk, and said so.
        await b.agents.logout(AGENT)
        with pytest.raises(Conflict, match="logged in"):
            await b.agents.pause(AGENT, "break")


@pytest.mark.usefixtures("clean")
async def test_agent_who_misses_rings_is_paused_automatically(
    asterisk_sandbox: AsteriskSandbox, ami: AmiClient, tmp_path: Path
) -> None:
    log = listen(ami)
    over = overrides(acd={"agents": {"auto_pause_after_missed": 2}})
    for q in over["queues"]:
        if q["name"] == QUEUE:
            q["members"] = [{"agent": NO_ANSWER}]
    async with running_bridge(asterisk_sandbox, tmp_path, **over) as b:
        await b.agents.login(NO_ANSWER)
        await place_call(ami, STANDARD, dtmf="3", stay=120)

        paused = await log.wait_for("QueueMemberPause", timeout=30, Queue=QUEUE, Paused="1")
        assert paused.get("MemberName") == NO_ANSWER and paused.get("PausedReason") == "auto_missed"
        misses = log.matching("AgentRingNoAnswer", Queue=QUEUE, MemberName=NO_ANSWER)
        assert len(misses) == 2
        # The bridge's own connection may see the pause a moment after ours: wait for its view.
        await eventually(lambda: b.agents.auto_pauses == 1)
        st = b.agents.snapshot(NO_ANSWER)
        assert st is not None and (st.status, st.reason) == ("paused", "auto_missed")
        members, entries = await queue_status(ami)
        assert [(e.get("Name"), e.get("Paused"), e.get("PausedReason")) for e in members] == [
            (NO_ANSWER, "1", "auto_missed")
        ]
        assert [e.get("CallerIDNum") for e in entries] == [STANDARD]  # the caller waits for someone else
