"""Logins against the real desktop app: an agent id locked after repeated failures (429 with
Retry-After, audited, even the right password refused meanwhile), other agents unaffected, and a
burst of bad logins checked off the event loop so the loop keeps answering."""

from __future__ import annotations

import asyncio
import re
import time
from collections.abc import AsyncIterator
from pathlib import Path

import aiohttp
import pytest
from sqlalchemy import select

from agent_desktop.pages import PASSWORDS_KEY
from core.models import AuditEntry
from tests.support.agi_env import IVR_HEADER
from tests.support.settings import make_settings
from tongdai.app import Bridge


@pytest.fixture
async def bridge(tmp_path: Path) -> AsyncIterator[Bridge]:
    settings = make_settings(
        node={"name": "sec", "data_dir": str(tmp_path / "var")},
        database={"url": f"sqlite+aiosqlite:///{tmp_path / 'db.sqlite'}"},
        web={"port": 0},
    )
    node = Bridge(settings)
    await node.start(connect_ami=False)
    try:
        yield node
    finally:
        await node.stop()


def client() -> aiohttp.ClientSession:
    return aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True))  # cookies for 127.0.0.1


async def attempt(
    http: aiohttp.ClientSession, base: str, agent: str, password: str
) -> aiohttp.ClientResponse:
    async with http.get(f"{base}/login") as r:
        m = re.search(r'name="csrf" value="([^"]+)"', await r.text())
    assert m
    return await http.post(
        f"{base}/login",
        data={"agent": agent, "password": password, "csrf": m.group(1)},
        allow_redirects=False,
    )


async def test_lockout_after_repeated_failures_is_audited(bridge: Bridge) -> None:
    base = f"http://127.0.0.1:{bridge.web_port}"
    async with client() as http:
        statuses = []
        for _ in range(12):
            r = await attempt(http, base, "1001", "wrong")
            statuses.append(r.status)
            if r.status == 429:
                wait = int(r.headers["Retry-After"])
                assert wait >= 1
                if wait > 10:  # the lockout, not a backoff step
                    break
                await asyncio.sleep(wait)
        assert 401 in statuses and 429 in statuses
        right = await attempt(http, base, "1001", "demo-1001")
        assert right.status == 429  # locked: not even checked
        other = await attempt(http, base, "1002", "demo-1002")
        assert other.status == 302  # another agent at the same address logs in
    assert bridge.sessions is not None
    async with bridge.sessions() as s:
        rows = list(await s.scalars(select(AuditEntry).where(AuditEntry.action == "auth.lockout")))
    assert [(r.subject_type, r.subject_id) for r in rows] == [("agent", "1001")]


async def test_a_burst_of_bad_logins_is_answered_while_the_node_keeps_serving(bridge: Bridge) -> None:
    base = f"http://127.0.0.1:{bridge.web_port}"

    async def one(i: int) -> aiohttp.ClientResponse:
        async with client() as http:  # each its own session (and CSRF token), as 40 browsers would
            return await attempt(http, base, f"{2000 + i}", "nope")

    async def health() -> int:
        async with client() as http, http.get(f"{base}/healthz") as r:
            return r.status

    *results, ok = await asyncio.gather(*(one(i) for i in range(40)), health())
    # Every attempt is refused as a bad login, or as "busy" past the checker's bound; none errors.
    assert {r.status for r in results} <= {401, 503} and 401 in {r.status for r in results}
    assert ok == 200


async def test_a_login_burst_does_not_delay_a_callers_ivr(bridge: Bridge) -> None:
    """60 bad logins at once (argon2id in the bounded pool) while a caller's FastAGI session opens:
    the IVR's first command reaches Asterisk while the logins are still being checked, so hashing
    never holds the event loop the IVR runs on. (The figure is printed; goals are for benchmarks.)"""
    base = f"http://127.0.0.1:{bridge.web_port}"
    assert bridge.agi is not None
    burst_done = asyncio.Event()

    async def one(i: int) -> int:
        async with client() as http:
            r = await attempt(http, base, f"{3000 + i}", "nope")
            return r.status

    async def burst() -> list[int]:
        try:
            return list(await asyncio.gather(*(one(i) for i in range(60))))
        finally:
            burst_done.set()

    assert bridge._runner is not None
    checker = bridge._runner.app[PASSWORDS_KEY]

    def pending() -> int:
        return int(checker._waiting)  # checks queued or running in the argon2id pool

    async def first_command() -> tuple[float, bool]:
        # Once checks queue behind the pool's two workers, the hashing is certainly under way.
        while pending() < 8 and not burst_done.is_set():  # noqa: ASYNC110 (polls a counter, no event)
            await asyncio.sleep(0.005)
        reader, writer = await asyncio.open_connection("127.0.0.1", bridge.agi.port)
        try:
            t0 = time.perf_counter()
            writer.write(IVR_HEADER.encode())
            await writer.drain()
            line = await asyncio.wait_for(reader.readline(), 10)
            waited = time.perf_counter() - t0
            assert line.startswith(b"GET VARIABLE"), line
            return waited, pending() == 0
        finally:
            writer.close()

    statuses, (waited, after_burst) = await asyncio.gather(burst(), first_command())
    print(f"IVR first command after {waited * 1000:.1f} ms during 60 concurrent bad logins")
    assert set(statuses) <= {401, 503} and 401 in statuses
    assert not after_burst, f"the IVR's first command waited for the password checks ({waited * 1000:.0f} ms)"
