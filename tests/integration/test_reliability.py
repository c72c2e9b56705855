"""Nothing is lost and nothing waits on the network inside the AMI drain: a whole node (real SQLite,
real Redis behind a proxy that can hang, a loopback AMI server) keeps tracking calls and writing their
records while Redis stops answering, while another process holds SQLite's write lock past the busy
timeout, and when it is stopped with writes still queued."""

from __future__ import annotations

import asyncio
import sqlite3
import threading
import time
import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from sqlalchemy import func, select

from billing.models import CdrRecord
from core.db import create_engine, session_factory
from core.models import AuditEntry, CallRecord
from tests.conftest import REDIS_URL
from tests.support.cdrs import cdr
from tests.support.fake_net import FakeAmi, HangingProxy
from tests.support.settings import free_port, make_settings
from tongdai.app import Node


def _settings(tmp_path: Path, ami_port: int, redis_url: str | None = None) -> Any:
    web = free_port()
    return make_settings(
        node={"name": f"rel-{uuid.uuid4().hex[:6]}", "data_dir": str(tmp_path / "var")},
        database={"url": f"sqlite+aiosqlite:///{tmp_path / 'node.db'}"},
        web={"port": web, "allowed_origins": [f"http://127.0.0.1:{web}"]},
        asterisk={"ami": {"port": ami_port, "ping_interval": 30, "reconnect_min": 0.1}},
        redis={
            "url": redis_url,
            "channel": f"tongdai.test.{uuid.uuid4().hex[:8]}",
            "socket_timeout": 0.5,
            "socket_connect_timeout": 0.5,
        },
        cdr={"csv_path": str(tmp_path / "none.csv")},
        retention={"enabled": False},
    )


@pytest.fixture
async def ami() -> AsyncIterator[FakeAmi]:
    server = FakeAmi()
    await server.start()
    yield server
    await server.stop()


async def _started(node: Node) -> None:
    await node.start()
    assert node.ami is not None
    await node.ami.wait_connected(10)


def _call(ami: FakeAmi, n: int, agent: str = "1001") -> None:
    """One queued call from ring to hangup, as Asterisk reports it."""
    cid, caller, leg = f"rel-{n}", f"rel-{n}.1", f"rel-{n}.2"
    ami.event("Newchannel", Linkedid=cid, Uniqueid=caller, Context="tongdai-hotline", Exten="19001091",
              CallerIDNum="0912345678", Channel=f"PJSIP/trunk-{n}")  # fmt: skip
    ami.event("QueueCallerJoin", Linkedid=cid, Uniqueid=caller, Queue="mobile", Channel=f"PJSIP/trunk-{n}")
    ami.event("Newchannel", Linkedid=cid, Uniqueid=leg, Context="tongdai-agents", Exten=agent)
    ami.event("AgentCalled", Linkedid=cid, Uniqueid=caller, Queue="mobile", MemberName=agent,
              Interface=f"Local/{agent}@tongdai-agents/n")  # fmt: skip
    ami.event("AgentConnect", Linkedid=cid, Uniqueid=caller, Queue="mobile", MemberName=agent,
              Interface=f"Local/{agent}@tongdai-agents/n", HoldTime="1", DestChannel="x")  # fmt: skip
    ami.event("AgentComplete", Linkedid=cid, Uniqueid=caller, Queue="mobile", MemberName=agent,
              Interface=f"Local/{agent}@tongdai-agents/n", TalkTime="3")  # fmt: skip
    ami.event("Hangup", Linkedid=cid, Uniqueid=leg)
    ami.event("Hangup", Linkedid=cid, Uniqueid=caller)
    ami.event("Cdr", **{**cdr(n), "LinkedID": cid})


async def _until(cond: Any, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not await cond():
        if time.monotonic() > deadline:
            raise AssertionError(f"not within {timeout} s: {what}")
        await asyncio.sleep(0.05)


async def _count(db: Path, model: Any) -> int:
    engine = create_engine(f"sqlite+aiosqlite:///{db}")
    try:
        async with session_factory(engine)() as s:
            return int(await s.scalar(select(func.count()).select_from(model)) or 0)
    finally:
        await engine.dispose()


@pytest.mark.redis
async def test_a_hung_redis_does_not_stop_call_tracking(tmp_path: Path, ami: FakeAmi) -> None:
    host, port = REDIS_URL.split("//", 1)[1].split("/", 1)[0].split(":")
    proxy = HangingProxy(host, int(port))
    await proxy.start()
    node = Node(_settings(tmp_path, ami.port, f"redis://127.0.0.1:{proxy.port}/0"))
    try:
        await _started(node)
        assert node.ops is not None and node.acd is not None
        proxy.hang()  # Redis stops answering: every connection stalls, new ones too
        started = time.monotonic()
        iface = "Local/1001@tongdai-agents/n"
        ami.event(
            "QueueMemberAdded", Queue="mobile", MemberName="1001", Interface=iface, Paused="0", Status="1"
        )
        for n in range(20):
            _call(ami, n)

        async def all_ended() -> bool:
            return (
                not node.tracker.calls
                and node.ops is not None
                and node.ops.call_store.writer.stats.written >= 20
            )

        await _until(all_ended, 10, "20 calls tracked to their end and written while Redis hangs")
        assert time.monotonic() - started < 10
        assert await _count(tmp_path / "node.db", CallRecord) == 20
        assert node.ami is not None and node.ami.queue_depth == 0  # the drain never waited on Redis
        # The agent's states went to the write-behind store; this node still answers from them.
        assert (await node.agents.state("1001")).agent_id == "1001"
        async with aiohttp.ClientSession() as http:
            async with http.get(f"http://127.0.0.1:{node.web_port}/readyz") as r:
                body = await r.json()
                assert r.status == 503 and list(body["down"]) == ["redis"], body
            async with http.get(f"http://127.0.0.1:{node.web_port}/metrics") as r:
                text = await r.text()
        assert 'tongdai_calls_ended_total{disposition="answered"} 20.0' in text
        assert 'tongdai_dependency_up{dependency="redis"} 0.0' in text
        store = node.acd.agents.store
        writer = getattr(store, "writer")  # noqa: B009 (the Redis store's, not the protocol's)
        await _until(lambda: _false(writer.healthy), 5, "the agent-state writer reports Redis failing")

        proxy.release()  # Redis is back: the latest states are written, the node is ready again
        await _until(lambda: _true(writer.healthy and writer.depth == 0), 15, "agent states flushed to Redis")
        async with aiohttp.ClientSession() as http, http.get(f"http://127.0.0.1:{node.web_port}/readyz") as r:
            assert r.status == 200
    finally:
        await node.stop()
        await proxy.stop()


async def _true(v: bool) -> bool:
    return v


async def _false(v: bool) -> bool:
    return not v


def _hold_write_lock(db: Path, seconds: float, held: threading.Event, release: threading.Event) -> None:
    """Another process's writer: SQLite's write lock held past the node's busy timeout (5 s), for at
    least ``seconds`` and until the test has seen what it waits for (``release``), at most a minute:
    on a loaded machine a fixed hold could end before the test looked."""
    conn = sqlite3.connect(db, timeout=30)
    try:
        conn.execute("BEGIN IMMEDIATE")
        held.set()
        time.sleep(seconds)
        release.wait(60)
        conn.rollback()
    finally:
        conn.close()


async def test_a_locked_sqlite_burst_loses_no_call_cdr_or_audit_row(tmp_path: Path, ami: FakeAmi) -> None:
    node = Node(_settings(tmp_path, ami.port))
    db = tmp_path / "node.db"
    try:
        await _started(node)
        assert node.ops is not None
        held, release = threading.Event(), threading.Event()
        locker = threading.Thread(target=_hold_write_lock, args=(db, 6.5, held, release))
        locker.start()
        assert held.wait(5)
        for n in range(30):
            _call(ami, n)
        audits = [
            asyncio.create_task(node.ops.audit("1001", "profile.pop", "customer", f"KH{n:010d}"))
            for n in range(10)
        ]

        async def tracked() -> bool:
            return not node.tracker.calls

        await _until(tracked, 30, "calls tracked while the database is locked")
        assert locker.is_alive()  # the drain was not blocked: every call ended while the lock was held
        release.set()
        await asyncio.to_thread(locker.join)
        await node.bus.drain()  # handled = written, the writers included
        await asyncio.gather(*audits)
        await node.ops.audit.writer.flush(10)
        assert node.ops.call_store.writer.stats.retries >= 1  # it really met "database is locked"
        assert node.ops.call_store.writer.stats.failed == 0
    finally:
        await node.stop()
    assert await _count(db, CallRecord) == 30
    assert await _count(db, CdrRecord) == 30
    assert await _count(db, AuditEntry) == 10
    assert not (tmp_path / "var" / "spool" / "calls-deadletter.jsonl").exists()


async def test_stop_flushes_writes_queued_behind_a_locked_database(tmp_path: Path, ami: FakeAmi) -> None:
    node = Node(_settings(tmp_path, ami.port))
    db = tmp_path / "node.db"
    await _started(node)
    held, release = threading.Event(), threading.Event()
    locker = threading.Thread(target=_hold_write_lock, args=(db, 6.0, held, release))
    locker.start()
    assert held.wait(5)
    for n in range(15):
        _call(ami, n)

    async def queued() -> bool:
        return not node.tracker.calls and node.ops is not None and node.ops.call_store.writer.depth == 15

    await _until(queued, 30, "calls tracked, their records queued behind the lock")
    assert locker.is_alive()  # queued behind the lock, not written
    release.set()  # the lock ends at the earliest 6 s after it began: during the stop's flush
    await node.stop()  # drains the bus, then the writers flush within their deadline
    await asyncio.to_thread(locker.join)
    assert await _count(db, CallRecord) == 15
    assert await _count(db, CdrRecord) == 15


async def test_a_pop_is_timed_on_metrics(tmp_path: Path, ami: FakeAmi) -> None:
    """The pop-latency histogram counts each pop written to an agent's desktop."""
    from tests.support.desktop import login, next_frame

    node = Node(_settings(tmp_path, ami.port))
    try:
        await _started(node)
        base = f"http://127.0.0.1:{node.web_port}"
        async with aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True)) as http:
            await login(http, base, "1001", "demo-1001")
            async with http.ws_connect(f"{base}/ws", origin=base) as ws:
                await next_frame(ws, "hello")
                _call(ami, 1)
                pop = await next_frame(ws, "pop", timeout=10)
                assert pop["call_id"] == "rel-1"
            async with http.get(f"{base}/metrics") as r:
                text = await r.text()
        assert "tongdai_pop_seconds_count 1.0" in text, [ln for ln in text.splitlines() if "pop" in ln]
    finally:
        await node.stop()
