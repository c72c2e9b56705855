"""Two nodes act as one (issue #14 item 1), as separate processes on two real Asterisks: each node
stores only its own calls, CDRs and recordings, once; a desktop on node B pops a call ringing on node
A with the right customer; both wallboards show both nodes' queues and agents, exactly; agent state
agrees on both nodes and in Redis."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import pytest
import pytest_asyncio
from redis.asyncio import Redis
from sqlalchemy import select
from sqlalchemy.ext.asyncio import create_async_engine

from billing.models import CdrRecord
from core.ami import AmiClient
from core.models import CallRecord
from recordings.models import Recording
from tests.asterisk.conftest import place_call
from tests.conftest import REDIS_URL
from tests.multinode.conftest import Cluster, Node
from tests.support.desktop import login, next_frame

pytestmark = [pytest.mark.multinode, pytest.mark.asyncio(loop_scope="module")]

AGENTS = {"1001": "ready", "1002": "ready", "1003": "ready", "9000": "logged_out"}


async def until(fn: Any, what: str, timeout: float = 45) -> Any:
    """Poll ``fn`` (async) until it returns something truthy, within a deadline."""
    deadline = time.monotonic() + timeout
    last: Any = None
    while time.monotonic() < deadline:
        last = await fn()
        if last:
            return last
        await asyncio.sleep(0.3)
    raise AssertionError(f"{what}: not within {timeout} s (last: {last!r})")


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def amis(cluster: Cluster) -> AsyncIterator[dict[str, AmiClient]]:
    clients = {n.key: n.ami() for n in cluster.nodes}
    for c in clients.values():
        await c.start()
    for c in clients.values():
        await c.wait_connected(60)
        await c.wait_booted(60)
    yield clients
    for c in clients.values():
        await c.stop()


async def _rows(cluster: Cluster) -> tuple[list[CallRecord], list[CdrRecord], list[Recording]]:
    engine = create_async_engine(cluster.db_url)
    try:
        async with engine.connect() as conn:
            calls = list((await conn.execute(select(CallRecord))).all())
            cdrs = list((await conn.execute(select(CdrRecord))).all())
            recs = list((await conn.execute(select(Recording))).all())
        return calls, cdrs, recs  # type: ignore[return-value]
    finally:
        await engine.dispose()


async def _agents_ready(cluster: Cluster, http: aiohttp.ClientSession) -> bool:
    for n in cluster.nodes:
        board = await n.get(http, "/api/wallboard")
        states = {a["agent_id"]: a["status"] for a in board["agents"]}
        if states != AGENTS:
            return False
    return True


async def test_each_node_stores_its_own_calls_once_and_node_b_pops_a_call_ringing_on_node_a(
    cluster: Cluster, amis: dict[str, AmiClient]
) -> None:
    a, b = cluster.a, cluster.b
    async with aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True)) as http:
        # Agents logged in on their own node's Asterisk (auto-login), seen alike by both nodes.
        await until(lambda: _agents_ready(cluster, http), "every agent ready on both wallboards")
        await login(http, b.base, "1001", "demo-1001")
        async with http.ws_connect(f"{b.base}/ws", origin=b.base) as ws:
            assert (await next_frame(ws, "hello"))["agent_id"] == "1001"
            # Nguyễn Văn An calls node A and presses 1 (mobile): 1001 rings on A's Asterisk.
            await place_call(amis["a"], "0912345678", dtmf="1", stay=4)
            pop = await next_frame(ws, "pop", timeout=30)
        assert pop["call_id"].startswith("tdmna-") and pop["queue"] == "mobile"
        assert pop["customer"]["customer_id"] == "KH0000000001"
        assert pop["customer"]["name"] == "Nguyễn Văn An"
        assert pop["customer"]["tier"] == "large"

        # More calls on both Asterisks: one more to 1001 on A, two to 1002 on B. A second caller to an
        # agent is placed once the first is answered, and stays until the agent is free again.
        async def talking(agent: str) -> bool:
            board = await a.get(http, "/api/wallboard")
            return any(x["agent_id"] == agent and x["on_call"] for x in board["agents"])

        await place_call(amis["b"], "0912345678", dtmf="2", stay=4)
        await until(lambda: talking("1001"), "1001 answered on node A")
        await place_call(amis["a"], "0987654321", dtmf="1", stay=10)
        await until(lambda: talking("1002"), "1002 answered on node B")
        await place_call(amis["b"], "0987654321", dtmf="2", stay=10)

        seen: list[Any] = []

        async def settled() -> Any:
            calls, cdrs, recs = await _rows(cluster)
            answered = [c for c in calls if c.disposition == "answered"]
            queue_legs = {c.linkedid for c in cdrs if c.lastapp == "Queue"}
            if len(answered) < 4 or len(recs) < 4 or not {c.call_id for c in answered} <= queue_legs:
                seen.append((sorted((c.call_id, c.disposition) for c in calls), len(cdrs), len(recs)))
                return None
            return calls, cdrs, recs

        try:
            calls, cdrs, recs = await until(settled, "4 answered calls with their CDRs and recordings", 90)
        except AssertionError as err:
            raise AssertionError(f"{err}; last seen {seen[-1:]}") from None
        by_node = {
            n.key: [c for c in calls if c.call_id.startswith(f"{n.system_name}-")] for n in cluster.nodes
        }
        assert len(calls) == 4 and len({c.call_id for c in calls}) == 4
        assert len(by_node["a"]) == 2 and len(by_node["b"]) == 2
        assert {c.queue for c in by_node["a"]} == {"mobile"} and {c.queue for c in by_node["b"]} == {
            "internet"
        }
        assert len({c.call_id for c in recs}) == len(recs) == 4
        assert len({(c.system_name, c.uniqueid, c.sequence) for c in cdrs}) == len(cdrs)

        # Each node wrote only its own rows: its writers' counts are its own Asterisk's calls and
        # CDRs, not the cluster's (before origin filtering each node wrote every node's, N times).
        for n in cluster.nodes:
            own_cdrs = [c for c in cdrs if c.system_name == n.system_name]
            own_recorded = [c for c in own_cdrs if c.recording]
            assert own_cdrs and all(c.linkedid.startswith(f"{n.system_name}-") for c in own_cdrs)

            async def counted(n: Node = n, k: int = len(own_cdrs), r: int = len(own_recorded)) -> Any:
                m = await n.metrics(http)
                got = {
                    w: m.get(f'tongdai_writer_written_total{{writer="{w}"}}', 0.0)
                    for w in ("calls", "cdrs", "recordings")
                }
                want = {"calls": 2.0, "cdrs": float(k), "recordings": float(r)}
                seen.append((n.name, got, want))
                return got == want

            try:
                await until(counted, f"{n.name} wrote its own rows only")
            except AssertionError as err:
                raise AssertionError(f"{err}; written, wanted: {seen[-1]}") from None
            # Each recording is in the directory of the node whose Asterisk recorded it.
            for rec in recs:
                if rec.call_id.startswith(f"{n.system_name}-"):
                    assert (n.settings.recordings.dir / rec.path).is_file(), rec.path


async def _board(n: Node, http: aiohttp.ClientSession) -> dict[str, Any]:
    board = await n.get(http, "/api/wallboard")
    return {
        "queues": {
            q["name"]: (q["waiting"], q["offered"], q["answered"], q["abandoned"]) for q in board["queues"]
        },
        "agents": {x["agent_id"]: x["status"] for x in board["agents"]},
    }


async def test_both_wallboards_show_both_nodes_queues_and_agents_exactly(
    cluster: Cluster, amis: dict[str, AmiClient]
) -> None:
    async with aiohttp.ClientSession() as http:
        await until(lambda: _agents_ready(cluster, http), "every agent ready again after the calls")
        before = await _board(cluster.a, http)
        # Callers who wait: node B has no member of "mobile", node A none of "internet".
        await place_call(amis["b"], "0912345678", dtmf="1", stay=120)
        await place_call(amis["a"], "0987654321", dtmf="2", stay=120)
        await place_call(amis["a"], "0911111111", dtmf="2", stay=120)

        def plus(q: str, waiting: int, offered: int, abandoned: int = 0) -> tuple[int, int, int, int]:
            _w, o, ans, ab = before["queues"][q]
            return (waiting, o + offered, ans, ab + abandoned)

        waiting = {
            "mobile": plus("mobile", 1, 1),
            "internet": plus("internet", 2, 2),
            "care": plus("care", 0, 0),
        }

        async def boards_show(queues: dict[str, tuple[int, int, int, int]]) -> Any:
            boards = [await _board(n, http) for n in cluster.nodes]
            ok = all(bd["queues"] == queues and bd["agents"] == AGENTS for bd in boards)
            return boards if ok else None

        await until(lambda: boards_show(waiting), "both wallboards count the callers waiting on either node")
        # Agent state agrees in the shared store too (written behind each node's AMI drain).
        r = Redis.from_url(REDIS_URL)

        async def stored_agrees() -> bool:
            stored = {
                agent: (await r.hget(f"{cluster.redis_prefix}agent:{agent}", "status") or b"").decode()
                for agent in AGENTS
            }
            return stored == AGENTS

        try:
            await until(stored_agrees, "every agent's state in Redis as on the wallboards")
        finally:
            await r.aclose()
        # The waiting callers give up (hung up on their Asterisk): abandoned, counted once, on both boards.
        for ami in amis.values():
            await ami.action("Hangup", {"Channel": "/^Local\\/18001090@tongdai-hotline/"}, check=False)
        gone = {
            "mobile": plus("mobile", 0, 1, 1),
            "internet": plus("internet", 0, 2, 2),
            "care": plus("care", 0, 0),
        }
        await until(lambda: boards_show(gone), "both wallboards count the abandoned callers once")
