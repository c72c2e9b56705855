"""The agents' shared store with two nodes: a node whose Asterisk has no membership of an agent (it
reports them logged out at its start) never logs out the agent another node has logged in."""

from __future__ import annotations

import uuid

from redis.asyncio import Redis

from acd.agent_state import AgentState
from acd.agent_store import RedisAgentStore
from tests.conftest import REDIS_URL


async def test_a_node_never_logs_out_another_nodes_agent() -> None:
    prefix = f"tongdai-test-{uuid.uuid4().hex[:8]}:"
    r = Redis.from_url(REDIS_URL)
    a, b = RedisAgentStore(r, prefix, node="node-a"), RedisAgentStore(r, prefix, node="node-b")
    for s in (a, b):
        s.start()
    try:
        await a.save(AgentState("1001", "ready", "", 100.0, ("mobile",)))
        await a.writer.flush(5)
        await b.save(AgentState("1001", "logged_out", "", 200.0, ()))  # node B's start
        await b.writer.flush(5)
        assert (await b.load("1001")) == AgentState("1001", "ready", "", 100.0, ("mobile",))
        await a.save(AgentState("1001", "logged_out", "", 300.0, ()))  # its own node logs it out
        await a.writer.flush(5)
        assert (await b.load("1001")).status == "logged_out"  # type: ignore[union-attr]
        await b.save(AgentState("1001", "paused", "break", 400.0, ("mobile",)))  # now logged in on B
        await b.writer.flush(5)
        assert [s.status for s in await a.all()] == ["paused"]
    finally:
        for s in (a, b):
            await s.stop()
        await r.delete(*[k async for k in r.scan_iter(f"{prefix}*")])
        await r.aclose()
