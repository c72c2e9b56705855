"""A flood of FastAGI connections cannot take the server: sessions are capped per peer and in total,
the connection past a cap is closed at once (Asterisk then takes the dialplan fallback), counted and
logged, a peer that never completes its header is dropped after the header timeout, and a legitimate
session is still served. Real sockets on 127.0.0.0/8 (each 127.0.0.x is its own peer address)."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import AsyncIterator

import pytest

from core.agi import AgiServer, AgiSession
from core.config import AgiConfig
from tests.component.test_fastagi_server import HEADER

Conn = tuple[asyncio.StreamReader, asyncio.StreamWriter]


@pytest.fixture
async def served() -> AsyncIterator[tuple[AgiServer, asyncio.Queue[str]]]:
    seen: asyncio.Queue[str] = asyncio.Queue()
    srv = AgiServer(
        "127.0.0.1",
        0,
        allowed_peers=["127.0.0.0/8"],
        header_timeout=1.0,
        command_timeout=2,
        max_sessions_per_peer=5,
        max_sessions=7,
    )

    async def ivr(s: AgiSession) -> None:
        await seen.put(s.request.peer)
        await s.set_variable("TONGDAI_ACTION", "queue")

    srv.route("ivr", ivr)
    await srv.start()
    yield srv, seen
    await srv.stop()


async def open_from(srv: AgiServer, source: str) -> Conn:
    return await asyncio.open_connection("127.0.0.1", srv.port, local_addr=(source, 0))


async def half_open(srv: AgiServer, source: str) -> Conn:
    """A session that sends part of a header and goes quiet, once the server counts it."""
    conn = await open_from(srv, source)
    conn[1].write(b"agi_network: yes\n")
    await conn[1].drain()
    return conn


async def wait_active(srv: AgiServer, n: int) -> None:
    """Until the server counts ``n`` open sessions (it sees a connection a loop turn after connect)."""
    deadline = time.monotonic() + 2
    while srv.active != n:
        assert time.monotonic() < deadline, f"{srv.active} sessions, expected {n}"
        await asyncio.sleep(0.01)


async def closed_at_once(conn: Conn, within: float = 0.5) -> bool:
    """The server closed the connection without waiting for a header (well inside header_timeout)."""
    return await asyncio.wait_for(conn[0].read(), within) == b""


async def legitimate_call(srv: AgiServer, source: str, seen: asyncio.Queue[str]) -> None:
    reader, writer = await open_from(srv, source)
    writer.write(HEADER.encode())
    await writer.drain()
    assert (await asyncio.wait_for(reader.readline(), 2)).startswith(b"SET VARIABLE")
    writer.write(b"200 result=1\n")
    await writer.drain()
    assert await asyncio.wait_for(seen.get(), 2) == source
    assert await asyncio.wait_for(reader.read(), 2) == b""  # the route finished: closed
    writer.close()


async def test_per_peer_cap_refuses_at_once_and_others_are_served(
    served: tuple[AgiServer, asyncio.Queue[str]], caplog: pytest.LogCaptureFixture
) -> None:
    srv, seen = served
    flood = [await half_open(srv, "127.0.0.1") for _ in range(5)]
    await wait_active(srv, 5)
    caplog.set_level(logging.WARNING, logger="core.agi")
    extra = await open_from(srv, "127.0.0.1")
    assert await closed_at_once(extra)
    assert srv.over_capacity == 1 and srv.active == 5
    assert any("over capacity" in r.getMessage() and "127.0.0.1" in r.getMessage() for r in caplog.records)
    # Another Asterisk (peer) still gets its calls served while the first is at its cap.
    await legitimate_call(srv, "127.0.0.2", seen)
    for _, w in [*flood, extra]:
        w.close()


async def test_total_cap_then_half_open_sessions_time_out_and_free_their_slots(
    served: tuple[AgiServer, asyncio.Queue[str]],
) -> None:
    srv, seen = served
    flood = [await half_open(srv, "127.0.0.1") for _ in range(5)]
    flood += [await half_open(srv, "127.0.0.2") for _ in range(2)]
    await wait_active(srv, 7)
    late = await open_from(srv, "127.0.0.3")  # under its own per-peer cap, over the total
    assert await closed_at_once(late)
    assert srv.over_capacity == 1
    # No complete header within header_timeout (1 s): every half-open session is closed ...
    started = time.monotonic()
    for conn in flood:
        assert await asyncio.wait_for(conn[0].read(), 3) == b""
    assert time.monotonic() - started < 2.5
    await wait_active(srv, 0)
    # ... and the peer that flooded is served again.
    await legitimate_call(srv, "127.0.0.1", seen)
    assert srv.rejected == 7  # the seven timed-out headers, counted apart from the capacity refusals
    for _, w in [*flood, late]:
        w.close()


async def test_a_silent_peer_that_sends_nothing_is_dropped_after_the_header_timeout(
    served: tuple[AgiServer, asyncio.Queue[str]],
) -> None:
    srv, _ = served
    reader, writer = await open_from(srv, "127.0.0.4")
    await wait_active(srv, 1)
    started = time.monotonic()
    assert await asyncio.wait_for(reader.read(), 3) == b""
    assert 0.8 < time.monotonic() - started < 2.5
    assert srv.active == 0
    writer.close()


def test_the_config_defaults_are_the_servers() -> None:
    srv, cfg = AgiServer("127.0.0.1", 0), AgiConfig()
    assert (srv.max_sessions_per_peer, srv.max_sessions) == (cfg.max_sessions_per_peer, cfg.max_sessions)
    assert (cfg.max_sessions_per_peer, cfg.max_sessions) == (500, 2000)
