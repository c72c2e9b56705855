"""GET /api/reports/service-level on a real bridge (real aiohttp server, real SQLite, no Asterisk):
supervisors and integration tokens only, figures from the calls table, clear 400s on bad periods."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import aiohttp
import pytest

from tests.support.desktop import login
from tests.support.reports import sample_calls, sample_states, seed
from tests.support.settings import free_port, make_settings
from tongdai.app import Bridge

TOKEN = "reports-token-0123456789abcdef"
URL = "/api/reports/service-level"


@pytest.fixture
async def desk(tmp_path: Path) -> AsyncIterator[Bridge]:
    port = free_port()
    settings = make_settings(
        node={"name": "reports-test", "data_dir": str(tmp_path / "var")},
        database={"url": f"sqlite+aiosqlite:///{tmp_path / 'desk.db'}"},
        web={"port": port, "allowed_origins": [f"http://127.0.0.1:{port}"]},
        redis={"url": None},
        desktop={"api_tokens": [{"name": "bi", "token": TOKEN, "scopes": ["reports:read"]}]},
    )
    b = Bridge(settings)
    await b.start(connect_ami=False)
    assert b.sessions is not None
    await seed(b.sessions, [*sample_calls(), *sample_states()])
    yield b
    await b.stop()


def client() -> aiohttp.ClientSession:
    return aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True))


async def test_supervisor_gets_the_report(desk: Bridge) -> None:
    base = f"http://127.0.0.1:{desk.web_port}"
    async with client() as http:
        await login(http, base, "9000", "demo-9000")
        async with http.get(f"{base}{URL}?since=2026-11-01&until=2026-11-03") as r:
            assert r.status == 200, await r.text()
            body = await r.json()
        assert body["total"]["offered"] == 8 and body["total"]["compliant"] is False
        assert [d["day"] for d in body["days"]] == ["2026-11-01", "2026-11-02"]
        assert "answered + abandoned" in body["definitions"]["sl"]
        async with http.get(f"{base}{URL}?since=2026-11-01&until=2026-11-03&queue=internet") as r:
            one = await r.json()
        assert one["total"]["offered"] == 1 and one["queue"] == "internet"


async def test_integration_token_reads_agent_is_refused(desk: Bridge) -> None:
    base = f"http://127.0.0.1:{desk.web_port}"
    q = "?since=2026-11-01&until=2026-11-02"
    async with client() as http:
        async with http.get(f"{base}{URL}{q}", headers={"Authorization": f"Bearer {TOKEN}"}) as r:
            assert r.status == 200
            assert (await r.json())["total"]["offered"] == 6
        async with http.get(f"{base}{URL}{q}") as r:
            assert r.status == 401
        await login(http, base, "1001", "demo-1001")
        async with http.get(f"{base}{URL}{q}") as r:
            assert r.status == 403
            assert (await r.json())["error"]["message"] == "supervisors only"


async def test_bad_periods_are_400_with_a_reason(desk: Bridge) -> None:
    base = f"http://127.0.0.1:{desk.web_port}"
    auth = {"Authorization": f"Bearer {TOKEN}"}
    async with client() as http:
        for query, words in [
            ("?since=2026-11-01", "until is required"),
            ("?since=1/11/2026&until=2026-12-01", "is not a date like 2026-11-01"),
            ("?since=2026-12-01&until=2026-11-01", "must be after since"),
            ("?since=2020-01-01&until=2026-12-01", "at most 366 days"),
        ]:
            async with http.get(f"{base}{URL}{query}", headers=auth) as r:
                assert r.status == 400, query
                err = (await r.json())["error"]
                assert err["code"] == "report.bad_period" and words in err["message"], err


async def test_openapi_lists_the_route(desk: Bridge) -> None:
    async with client() as http, http.get(f"http://127.0.0.1:{desk.web_port}/api/openapi.json") as r:
        spec = await r.json()
    params = spec["paths"][URL]["get"]["parameters"]
    assert [p["name"] for p in params] == ["since", "until", "queue"]
