"""Stopping the bridge with desktops still connected: their websockets are closed (going away, so the
page reconnects to the next server) and the stop does not sit out aiohttp's shutdown timeout."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

import aiohttp

from tests.support.desktop import login, next_frame
from tests.support.settings import free_port, make_settings
from tongdai.app import Bridge


async def test_stop_closes_open_websockets_promptly(tmp_path: Path) -> None:
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    b = Bridge(
        make_settings(
            node={"name": "shutdown-test", "data_dir": str(tmp_path / "var")},
            database={"url": f"sqlite+aiosqlite:///{tmp_path / 'db.sqlite'}"},
            web={"port": port, "allowed_origins": [base]},
            redis={"url": None},
        )
    )
    await b.start(connect_ami=False)
    stopped = False
    try:
        async with (
            aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True)) as agent,
            aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True)) as sup,
        ):
            await login(agent, base, "1001", "demo-1001")
            await login(sup, base, "9000", "demo-9000")
            async with (
                agent.ws_connect(f"{base}/ws", origin=base) as a_ws,
                sup.ws_connect(f"{base}/ws", origin=base) as s_ws,
            ):
                await next_frame(a_ws, "hello")
                await next_frame(s_ws, "hello")
                started = time.monotonic()
                stopping = asyncio.create_task(b.stop())
                stopped = True
                for ws in (a_ws, s_ws):
                    while (msg := await ws.receive(timeout=5)).type == aiohttp.WSMsgType.TEXT:
                        pass
                    assert msg.type in (aiohttp.WSMsgType.CLOSE, aiohttp.WSMsgType.CLOSED)
                    assert ws.close_code == 1001
                await stopping
                took = time.monotonic() - started
        assert took < 4, f"stop took {took:.1f}s with desktops connected"
    finally:
        if not stopped:
            await b.stop()
