"""The screen pop with the operator's CRM configured: enriched when it answers in time, the local
profile marked stale when it is slow or down, and never a wait longer than the configured timeout.
Real bridge (no AMI), real SQLite, a real aiohttp server playing the CRM on loopback."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from aiohttp import web

from crm_bridge.demo_data import load_demo
from tests.support.settings import free_port, make_settings
from tongdai.app import Bridge

TIMEOUT = 0.2


@pytest.fixture
async def crm() -> AsyncIterator[tuple[str, dict[str, str]]]:
    mode = {"mode": "ok"}

    async def by_number(request: web.Request) -> web.StreamResponse:
        if mode["mode"] == "slow":
            await asyncio.sleep(3)
        if mode["mode"] == "down":
            return web.Response(status=503)
        if request.match_info["number"] != "+84912345678":
            return web.Response(status=404)
        return web.json_response({"customer_id": "KH0000000001", "name": "Nguyễn Văn An (CRM)"})

    app = web.Application()
    app.router.add_get("/customers/by-number/{number}", by_number)
    runner = web.AppRunner(app, shutdown_timeout=0.1)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    yield f"http://127.0.0.1:{runner.addresses[0][1]}", mode
    await runner.cleanup()


@pytest.fixture
async def bridge(tmp_path: Path, crm: tuple[str, dict[str, str]]) -> AsyncIterator[Bridge]:
    port = free_port()
    settings = make_settings(
        node={"name": "pop-crm-test", "data_dir": str(tmp_path / "var")},
        database={"url": f"sqlite+aiosqlite:///{tmp_path / 'pop.db'}"},
        web={"port": port, "allowed_origins": [f"http://127.0.0.1:{port}"]},
        redis={"url": None},
        crm={"external": {"enabled": True, "base_url": crm[0], "timeout_seconds": TIMEOUT}},
    )
    b = Bridge(settings)
    await b.start(connect_ami=False)
    assert b.engine is not None
    await load_demo(b.engine, 0)
    yield b
    await b.stop()


async def test_pop_is_enriched_by_a_quick_crm(bridge: Bridge) -> None:
    pop = await bridge.crm.profile_for_call({"caller_e164": "+84912345678", "customer_id": "KH0000000001"})
    assert pop is not None
    assert pop["name"] == "Nguyễn Văn An (CRM)"
    assert pop["source"] == "crm" and pop["stale"] is False
    assert pop["tier"] == "large"  # tier stays ours: billing data is the source of truth


@pytest.mark.parametrize("mode", ["slow", "down"])
async def test_slow_or_down_crm_gives_the_local_profile_marked_stale_in_time(
    bridge: Bridge, crm: tuple[str, dict[str, str]], mode: str
) -> None:
    crm[1]["mode"] = mode
    started = time.monotonic()
    pop = await bridge.crm.profile_for_call({"caller_e164": "+84912345678", "customer_id": None})
    waited = time.monotonic() - started
    assert pop is not None
    assert pop["customer_id"] == "KH0000000001" and pop["name"] == "Nguyễn Văn An"
    assert pop["stale"] is True
    assert waited < TIMEOUT + 0.5, f"the pop waited {waited:.2f}s on the CRM"


async def test_customer_keyed_in_from_another_phone_keeps_the_verified_id(bridge: Bridge) -> None:
    # The caller keyed KH…2 in the IVR from KH…1's phone: the pop shows who was verified.
    pop = await bridge.crm.profile_for_call({"caller_e164": "+84912345678", "customer_id": "KH0000000002"})
    assert pop is not None and pop["customer_id"] == "KH0000000002"
