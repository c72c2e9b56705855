"""A real bridge (aiohttp on 127.0.0.1, real SQLite, demo customers, no Asterisk) running in its own
thread and event loop, for synchronous HTTP clients such as schemathesis's."""

from __future__ import annotations

import asyncio
import re
import threading
from pathlib import Path
from typing import get_args

import requests

from agent_desktop.config import Scope
from crm_bridge.demo_data import load_demo
from tests.support.settings import free_port, make_settings
from tongdai.app import Bridge


class LiveBridge:
    def __init__(self, data: Path, *, token: str) -> None:
        port = free_port()
        self.settings = make_settings(
            node={"name": "live-test", "data_dir": str(data / "var")},
            database={"url": f"sqlite+aiosqlite:///{data / 'live.db'}"},
            web={"port": port, "allowed_origins": [f"http://127.0.0.1:{port}"]},
            redis={"url": None},
            desktop={"api_tokens": [{"name": "crm", "token": token, "scopes": list(get_args(Scope))}]},
            cdr={"csv_path": str(data / "none.csv")},
            webchat={"enabled": True, "queues": [{"name": "mobile"}]},  # its agents' and reports' API too
        )
        self.base = f"http://127.0.0.1:{port}"
        self._ready = threading.Event()
        self._failed: BaseException | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stop: asyncio.Event | None = None
        self._thread = threading.Thread(target=self._run, name="live-bridge", daemon=True)

    def __enter__(self) -> LiveBridge:
        self._thread.start()
        if not self._ready.wait(60):
            raise TimeoutError("the bridge did not start in 60 s")
        if self._failed is not None:
            raise self._failed
        return self

    def __exit__(self, *exc: object) -> None:
        assert self._loop is not None and self._stop is not None
        self._loop.call_soon_threadsafe(self._stop.set)
        self._thread.join(30)

    def _run(self) -> None:
        loop = self._loop = asyncio.new_event_loop()
        try:
            loop.run_until_complete(self._main())
        finally:
            loop.close()

    async def _main(self) -> None:
        self._stop = asyncio.Event()
        bridge = Bridge(self.settings)
        try:
            await bridge.start(connect_ami=False)
            assert bridge.engine is not None
            await load_demo(bridge.engine, 0)
        except BaseException as err:
            self._failed = err
            self._ready.set()
            await bridge.stop()
            raise
        self._ready.set()
        try:
            await self._stop.wait()
        finally:
            await bridge.stop()

    def login(self, agent: str, password: str) -> tuple[requests.Session, str]:
        """A logged-in browser-like session and the CSRF token its pages carry."""
        http = requests.Session()
        page = http.get(f"{self.base}/login", timeout=10).text
        m = re.search(r'name="csrf" value="([^"]+)"', page)
        assert m, page
        form = {"csrf": m.group(1), "agent": agent, "password": password}
        r = http.post(f"{self.base}/login", data=form, allow_redirects=False, timeout=10)
        assert r.status_code == 302, r.text
        m = re.search(r'data-csrf="([^"]+)"', http.get(f"{self.base}/", timeout=10).text)
        assert m
        return http, m.group(1)
