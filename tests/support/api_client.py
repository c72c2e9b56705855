"""JSON API clients for component tests: a logged-in desktop session (cookie + CSRF) or a bearer token."""

from __future__ import annotations

import re
from typing import Any

import aiohttp

from tests.support.desktop import login


class Client:
    """A supervisor or agent session (cookie + CSRF), or a bearer token."""

    def __init__(self, base: str, http: aiohttp.ClientSession, headers: dict[str, str]) -> None:
        self.base, self.http, self.headers = base, http, headers

    async def send(self, method: str, path: str, body: dict[str, Any] | None = None) -> tuple[int, Any]:
        async with self.http.request(method, f"{self.base}{path}", json=body, headers=self.headers) as r:
            assert r.content_type == "application/json", await r.text()
            return r.status, await r.json()


async def logged_in(base: str, agent: str) -> Client:
    """``agent`` logged in with the demo password; the caller closes ``client.http``."""
    http = aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True))
    await login(http, base, agent, f"demo-{agent}")
    async with http.get(f"{base}/") as r:
        m = re.search(r'data-csrf="([^"]+)"', await r.text())
    assert m
    return Client(base, http, {"X-CSRF-Token": m.group(1)})
