"""A real node for the security tests: the desktop on 127.0.0.1, SQLite, demo customers, no Asterisk;
with Redis (the shared session store) when a test asks for it."""

from __future__ import annotations

import re
import uuid
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from crm_bridge.demo_data import load_demo
from tests.conftest import REDIS_URL
from tests.support.settings import deep_merge, free_port, make_settings
from tongdai.app import Bridge
from tongdai.settings import Settings

CRM_TOKEN = "crm-token-0123456789abcdef0123"  # customers:read, calls:read
BI_TOKEN = "bi-token-0123456789abcdef012345"  # recordings:read, stats:read: no audio, no customers


def node_settings(tmp_path: Path, *, redis: bool = False, **over: Any) -> Settings:
    port = free_port()
    base: dict[str, Any] = {
        "node": {"name": f"sec-{uuid.uuid4().hex[:6]}", "data_dir": str(tmp_path / "var")},
        "database": {"url": f"sqlite+aiosqlite:///{tmp_path / 'sec.db'}"},
        "web": {"port": port, "allowed_origins": [f"http://127.0.0.1:{port}"]},
        # Its own channel, hence its own session namespace: nothing shared with another test's node.
        "redis": {"url": REDIS_URL, "channel": f"t.{uuid.uuid4().hex}"} if redis else {"url": None},
        "desktop": {
            "wallboard_coalesce": 0.05,
            "api_tokens": [
                {"name": "crm", "token": CRM_TOKEN, "scopes": ["customers:read", "calls:read"]},
                {"name": "bi", "token": BI_TOKEN, "scopes": ["recordings:read", "stats:read"]},
            ],
        },
        "cdr": {"csv_path": str(tmp_path / "none.csv")},
    }
    return make_settings(**deep_merge(base, over))


@pytest.fixture
async def start_node(tmp_path: Path) -> AsyncIterator[Callable[..., Any]]:
    """``await start_node(redis=..., **config overrides)``: a started node, stopped after the test."""
    started: list[Bridge] = []

    async def start(**kw: Any) -> Bridge:
        node = Bridge(node_settings(tmp_path / f"n{len(started)}", **kw))
        await node.start(connect_ami=False)
        started.append(node)
        assert node.engine is not None
        await load_demo(node.engine, 0)
        return node

    yield start
    for node in reversed(started):
        await node.stop()


def base(node: Bridge) -> str:
    return f"http://127.0.0.1:{node.web_port}"


def browser() -> aiohttp.ClientSession:
    # unsafe=True: aiohttp's client otherwise ignores cookies set by an IP-address host.
    return aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True))


async def csrf_of(http: aiohttp.ClientSession, node: Bridge) -> str:
    async with http.get(f"{base(node)}/") as r:
        m = re.search(r'data-csrf="([^"]+)"', await r.text())
    assert m, "not logged in"
    return m.group(1)


def session_cookie(http: aiohttp.ClientSession) -> str:
    return next(c.value for c in http.cookie_jar if c.key == "tongdai_session")


def with_settings(node: Bridge, **update: Any) -> Settings:
    """Replace the node's current config (as a reload would): agents, roles and rules at once."""
    assert node.desk is not None
    new = node.desk.services.settings.model_copy(update=update)
    node.desk.services.settings = new
    return new
