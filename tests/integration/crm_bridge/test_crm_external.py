"""External CRM adapter against a real aiohttp server on 127.0.0.1:0 (fast, slow, failing)."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from datetime import date

import pytest
from aiohttp import web
from sqlalchemy.ext.asyncio import AsyncEngine

from core.db import Base, create_engine, session_factory
from crm_bridge.demo_data import DEMO_CUSTOMERS, load_demo
from crm_bridge.directory import CustomerDirectory
from crm_bridge.external import CrmUnavailable, ExternalCrm, ProfileService

AN = DEMO_CUSTOMERS[0]
# Room for a loaded machine to answer a fast CRM in time; the slow one sleeps 5 s, far past it.
TIMEOUT = 1.0


@pytest.fixture
async def engine(sqlite_url: str) -> AsyncIterator[AsyncEngine]:
    eng = create_engine(sqlite_url)
    async with eng.begin() as conn:
        await conn.run_sync(Base.metadata.create_all)
    await load_demo(eng, 0, today=date(2026, 5, 15))
    yield eng
    await eng.dispose()


@pytest.fixture
async def crm_server() -> AsyncIterator[tuple[str, dict[str, str]]]:
    """A CRM whose behaviour the test switches: mode['mode'] in ok | slow | error | garbage | unknown."""
    mode = {"mode": "ok"}

    async def by_number(request: web.Request) -> web.StreamResponse:
        number = request.match_info["number"]
        m = mode["mode"]
        if m == "slow":
            await asyncio.sleep(5)
        if m == "error":
            return web.Response(status=500, text="boom")
        if m == "garbage":
            return web.Response(text="<html>", content_type="text/html")
        if m == "unknown" or number not in ("+84912345678", "+84977000111"):
            return web.Response(status=404)
        if number == "+84977000111":
            return web.json_response({"customer_id": "EXT-77", "name": "Hoàng Thị Lan"})
        return web.json_response(
            {"customer_id": "KH0000000001", "name": "Nguyễn Văn An (CRM)", "segment": "churn_risk", "x": 1}
        )

    app = web.Application()
    app.router.add_get("/customers/by-number/{number}", by_number)
    runner = web.AppRunner(app, shutdown_timeout=0.1)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = runner.addresses[0][1]
    yield f"http://127.0.0.1:{port}", mode
    await runner.cleanup()


@pytest.fixture
async def service(
    engine: AsyncEngine, crm_server: tuple[str, dict[str, str]]
) -> AsyncIterator[tuple[ProfileService, dict[str, str]]]:
    url, mode = crm_server
    ext = ExternalCrm(url, timeout_seconds=TIMEOUT)
    directory = CustomerDirectory(session_factory(engine), today=lambda: date(2026, 5, 15))
    yield ProfileService(directory, ext), mode
    await ext.close()


async def test_fast_crm_enriches_the_local_profile(service: tuple[ProfileService, dict[str, str]]) -> None:
    svc, _ = service
    p = await svc.by_number("0912345678")
    assert p is not None
    assert (p.source, p.stale) == ("crm", False)
    assert p.name == "Nguyễn Văn An (CRM)" and p.segment == "churn_risk"
    assert p.tier == "large" and p.points == AN.points  # ours, never overwritten


@pytest.mark.parametrize("mode", ["slow", "error", "garbage"])
async def test_slow_or_failing_crm_gives_local_profile_marked_stale(
    service: tuple[ProfileService, dict[str, str]], mode: str
) -> None:
    svc, switch = service
    switch["mode"] = mode
    t0 = time.perf_counter()
    p = await svc.by_number("0912345678")
    elapsed = time.perf_counter() - t0
    assert p is not None
    assert (p.customer_id, p.name, p.source, p.stale) == (AN.customer_id, AN.name, "local", True)
    assert elapsed < TIMEOUT + 2  # never waits past the hard timeout (the slow server sleeps 5 s)


async def test_crm_that_does_not_know_the_number_is_not_stale(
    service: tuple[ProfileService, dict[str, str]],
) -> None:
    svc, switch = service
    switch["mode"] = "unknown"
    p = await svc.by_number("0912345678")
    assert p is not None and (p.source, p.stale) == ("local", False)


async def test_customer_known_only_to_the_crm(service: tuple[ProfileService, dict[str, str]]) -> None:
    svc, _ = service
    p = await svc.by_number("0977000111")
    assert p is not None
    assert (p.customer_id, p.name, p.source, p.tier) == ("EXT-77", "Hoàng Thị Lan", "crm", "standard")
    assert await svc.by_number("0977000999") is None


async def test_crm_down_entirely() -> None:
    ext = ExternalCrm("http://127.0.0.1:1", timeout_seconds=TIMEOUT)
    try:
        with pytest.raises(CrmUnavailable):
            await ext.by_number("+84912345678")
    finally:
        await ext.close()


async def test_adapter_timeout_raises_unavailable(crm_server: tuple[str, dict[str, str]]) -> None:
    url, mode = crm_server
    mode["mode"] = "slow"
    ext = ExternalCrm(url, timeout_seconds=0.1)
    try:
        t0 = time.perf_counter()
        with pytest.raises(CrmUnavailable, match="within"):
            await ext.by_number("+84912345678")
        assert time.perf_counter() - t0 < 2  # the 0.1 s timeout, not the server's 5 s
    finally:
        await ext.close()
