"""Helpers to act as an agent's browser: log in (CSRF included) and read websocket frames."""

from __future__ import annotations

import asyncio
import json
import re
from typing import Any

import aiohttp


async def login(session: aiohttp.ClientSession, base: str, agent: str, password: str) -> None:
    async with session.get(f"{base}/login") as r:
        html = await r.text()
    csrf = re.search(r'name="csrf" value="([^"]+)"', html)
    assert csrf, html
    form = {"csrf": csrf.group(1), "agent": agent, "password": password}
    async with session.post(f"{base}/login", data=form, allow_redirects=False) as r:
        assert r.status == 302, await r.text()


async def next_frame(ws: aiohttp.ClientWebSocketResponse, kind: str, timeout: float = 20) -> dict[str, Any]:
    async with asyncio.timeout(timeout):
        while True:
            msg = await ws.receive()
            assert msg.type == aiohttp.WSMsgType.TEXT, msg
            frame: dict[str, Any] = json.loads(msg.data)
            if frame["type"] == kind:
                return frame
