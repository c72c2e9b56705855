"""A node with ``ha.role: auto`` (real Redis, real SQLite, a loopback AMI server): passive while
another node holds its Asterisk's lease — no FastAGI listener, no AMI login, /readyz 503 "passive" —
active once the lease is free, and passive again, FastAGI closed and AMI logged out, the moment its
lease is no longer its own."""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest
import redis as redis_sync
import redis.asyncio as aioredis

from core.errors import AmiNotConnected
from core.lease import RedisLease
from tests.conftest import REDIS_URL
from tests.support.fake_net import FakeAmi
from tests.support.settings import free_port, make_settings
from tongdai.app import Node

pytestmark = pytest.mark.redis


@pytest.fixture
async def ami() -> AsyncIterator[FakeAmi]:
    server = FakeAmi()
    await server.start()
    yield server
    await server.stop()


async def _until(cond: Any, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not await cond():
        if time.monotonic() > deadline:
            raise AssertionError(f"not within {timeout} s: {what}")
        await asyncio.sleep(0.05)


async def _readyz(port: int) -> tuple[int, dict[str, Any]]:
    async with aiohttp.ClientSession() as http, http.get(f"http://127.0.0.1:{port}/readyz") as r:
        return r.status, await r.json()


async def _agi_listening(port: int) -> bool:
    try:
        _, w = await asyncio.open_connection("127.0.0.1", port)
    except OSError:
        return False
    w.close()
    return True


async def test_passive_until_the_lease_is_free_and_passive_again_once_it_is_not_ours(
    tmp_path: Path, ami: FakeAmi
) -> None:
    prefix = f"tongdai-test-{uuid.uuid4().hex[:8]}:"
    web, agi = free_port(), free_port()
    settings = make_settings(
        node={"name": "ha-b", "data_dir": str(tmp_path / "var")},
        database={"url": f"sqlite+aiosqlite:///{tmp_path / 'node.db'}"},
        web={"port": web, "allowed_origins": [f"http://127.0.0.1:{web}"]},
        asterisk={"ami": {"port": ami.port, "ping_interval": 30, "reconnect_min": 0.1}, "agi": {"port": agi}},
        redis={"url": REDIS_URL, "channel": f"tongdai.test.{uuid.uuid4().hex[:8]}", "key_prefix": prefix},
        ha={"role": "auto", "lease_ttl": 2, "poll_interval": 0.1},
        cdr={"csv_path": str(tmp_path / "none.csv")},
        retention={"enabled": False},
    )
    redis = aioredis.from_url(REDIS_URL, socket_timeout=2)
    key = f"{prefix}ha:{settings.asterisk.system_name}"
    other = RedisLease(redis, key, "ha-a", 30)
    token = await other.acquire()
    assert token is not None
    node = Node(settings)
    try:
        await node.start()
        assert node.lease is not None and node.ami is not None
        await asyncio.sleep(0.5)  # several polls
        status, body = await _readyz(web)
        assert (status, body["status"], body["role"]) == (503, "passive", "passive"), body
        assert not await _agi_listening(agi)
        assert "Login" not in ami.actions

        # The other node stops and gives the lease back: this one takes over within a poll or two.
        await other.release(token)
        await node.lease.wait_active(3)
        assert node.lease.token is not None and node.lease.token > token
        await node.ami.wait_connected(5)
        assert await _agi_listening(agi)
        status, body = await _readyz(web)
        assert (status, body["status"], body["role"]) == (200, "ready", "active"), body
        assert "Login" in ami.actions and "CoreShowChannels" in ami.actions  # the resync after login

        # Its lease taken from it (an operator, a split brain healed): it stops acting at once.
        await redis.set(key, "ha-a:999", px=30_000)

        async def stepped_down() -> bool:
            return node.lease is not None and not node.lease.holding()

        await _until(stepped_down, 3, "stepped down")
        await node.lease.wait_passive(3)
        assert not node.ami.connected
        assert not await _agi_listening(agi)
        status, body = await _readyz(web)
        assert (status, body["status"]) == (503, "passive"), body
    finally:
        await node.stop()
        await redis.delete(key, key + ":fence")
        await redis.aclose()


async def test_a_holder_stalled_past_its_lease_acts_no_more_when_it_wakes(
    tmp_path: Path, ami: FakeAmi
) -> None:
    """Fencing without Redis's word: the event loop blocked longer than the lease (a long pause,
    SIGSTOP), another node acquires meanwhile; on waking, before its lease task has run, the node
    already refuses AMI actions and FastAGI, then steps down and does not log in again."""
    prefix = f"tongdai-test-{uuid.uuid4().hex[:8]}:"
    web, agi = free_port(), free_port()
    settings = make_settings(
        node={"name": "ha-a", "data_dir": str(tmp_path / "var")},
        database={"url": f"sqlite+aiosqlite:///{tmp_path / 'node.db'}"},
        web={"port": web, "allowed_origins": [f"http://127.0.0.1:{web}"]},
        asterisk={"ami": {"port": ami.port, "ping_interval": 30, "reconnect_min": 0.1}, "agi": {"port": agi}},
        redis={"url": REDIS_URL, "channel": f"tongdai.test.{uuid.uuid4().hex[:8]}", "key_prefix": prefix},
        ha={"role": "auto", "lease_ttl": 1, "poll_interval": 0.1},
        cdr={"csv_path": str(tmp_path / "none.csv")},
        retention={"enabled": False},
    )
    key = f"{prefix}ha:{settings.asterisk.system_name}"
    sync = redis_sync.Redis.from_url(REDIS_URL, socket_timeout=2)
    node = Node(settings)
    try:
        await node.start()
        assert node.lease is not None and node.ami is not None
        await node.lease.wait_active(3)
        await node.ami.wait_connected(5)
        logins = ami.actions.count("Login")

        time.sleep(1.3)  # noqa: ASYNC251  (the point: the whole loop stalls past the 1 s lease)
        # Still inside the stall, as far as the node's tasks know: the other node acquires.
        assert sync.set(key, "ha-b:999", nx=True, px=30_000), "the lease had not lapsed"
        assert not node.lease.holding()
        with pytest.raises(AmiNotConnected, match="HA lease"):
            await node.ami.action("Ping")

        await node.lease.wait_passive(3)  # stepped down: FastAGI closed, AMI logged out
        assert not await _agi_listening(agi)
        await asyncio.sleep(0.5)  # several polls: it stays passive and off AMI
        assert not node.ami.connected and ami.actions.count("Login") == logins
        assert sync.get(key) == b"ha-b:999"
    finally:
        await node.stop()
        sync.delete(key, key + ":fence")
        sync.close()
