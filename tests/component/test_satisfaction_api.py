"""GET /api/reports/satisfaction and its .csv/.xlsx exports on a real bridge (aiohttp, SQLite, no
Asterisk): supervisors and integration tokens only; the exports carry the JSON's numbers."""

from __future__ import annotations

import csv
import io
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import aiohttp
import openpyxl
import pytest

from core.db import unit_of_work
from core.models import CallRecord
from core.survey_config import SurveyConfig
from ivr.survey import SurveyAnswer
from ivr.survey_store import SurveyContext, SurveyStore
from tests.support.desktop import login
from tests.support.settings import free_port, make_settings
from tongdai.app import Bridge

TOKEN = "kpi-token-0123456789abcdef0123"
URL = "/api/reports/satisfaction"
T0 = datetime(2026, 11, 2, 3, 0, tzinfo=UTC)  # 10:00 on 2 Nov in Việt Nam
CFG = SurveyConfig.model_validate(
    {
        "enabled": True,
        "questions": [
            {"id": "csat", "prompt": "survey_csat"},
            {"id": "solved", "prompt": "survey_solved", "kind": "yes_no"},
        ],
    }
)


@pytest.fixture
async def desk(tmp_path: Path) -> AsyncIterator[Bridge]:
    port = free_port()
    settings = make_settings(
        node={"name": "kpi-test", "data_dir": str(tmp_path / "var")},
        database={"url": f"sqlite+aiosqlite:///{tmp_path / 'desk.db'}"},
        web={"port": port, "allowed_origins": [f"http://127.0.0.1:{port}"]},
        redis={"url": None},
        desktop={"api_tokens": [{"name": "bi", "token": TOKEN, "scopes": ["reports:read"]}]},
    )
    b = Bridge(settings)
    await b.start(connect_ami=False)
    assert b.sessions is not None
    one = {"caller_number": "0912345678", "customer_id": "KH1", "queue": "mobile", "agent_id": "1001"}
    rows = [
        CallRecord(
            call_id=f"c{n}",
            started_at=T0 + timedelta(days=n),
            answered_at=T0 + timedelta(days=n, seconds=9),
            **one,
        )
        for n in range(3)
    ]
    async with unit_of_work(b.sessions) as s:
        s.add_all(rows)
    store = SurveyStore(b.sessions, now=lambda: T0 + timedelta(minutes=5))
    for call_id, csat in (("c0", 5), ("c1", 3)):
        ctx = SurveyContext(call_id, "mobile", "1001", "KH1", "vi")
        await store.record(
            ctx, CFG, [SurveyAnswer("csat", csat, "answered"), SurveyAnswer("solved", None, "no_answer")]
        )
    yield b
    await b.stop()


async def test_supervisor_reads_the_kpis_and_exports_the_same_numbers(desk: Bridge) -> None:
    base = f"http://127.0.0.1:{desk.web_port}"
    q = "?since=2026-11-01&until=2026-11-08&window_days=7"
    async with aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True)) as http:
        await login(http, base, "9000", "demo-9000")
        async with http.get(f"{base}{URL}{q}") as r:
            assert r.status == 200, await r.text()
            body = await r.json()
        t = body["total"]
        assert (t["surveyed"], t["responded"], t["csat"], t["csat_top2"]) == (2, 2, 4.0, 0.5)
        # c0 is repeated by c1 and c1 by c2 (one owner, a day apart); c2's window closed too (by now).
        assert (t["contacts"], t["repeated"]) == (3, 2) and t["fcr"] == pytest.approx(1 / 3)
        assert "no answer" in body["definitions"]["no_answer"] and body["days"]["2026-11-02"]["surveyed"] == 2
        async with http.get(f"{base}{URL}.csv{q}") as r:
            assert r.status == 200 and r.headers["Content-Type"].startswith("text/csv")
            table = list(csv.reader(io.StringIO((await r.read()).decode("utf-8-sig"))))
        total = dict(zip(table[0], table[1], strict=True))
        assert (int(total["surveyed"]), float(total["csat"]), float(total["fcr"])) == (
            2,
            4.0,
            round(1 / 3, 4),
        )
        async with http.get(f"{base}{URL}.xlsx{q}") as r:
            assert r.status == 200
            wb = openpyxl.load_workbook(io.BytesIO(await r.read()))
        sheet = list(wb["kpis"].iter_rows(values_only=True))
        x = dict(zip(sheet[0], sheet[1], strict=True))
        assert (x["surveyed"], x["csat"]) == (2, 4.0) and x["fcr"] == pytest.approx(t["fcr"])
    async with aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True)) as agent:
        await login(agent, base, "1001", "demo-1001")
        async with agent.get(f"{base}{URL}{q}") as r:
            assert r.status == 403


async def test_an_integration_token_reads_them_and_bad_periods_are_400(desk: Bridge) -> None:
    base = f"http://127.0.0.1:{desk.web_port}"
    auth = {"Authorization": f"Bearer {TOKEN}"}
    async with aiohttp.ClientSession() as http:
        async with http.get(f"{base}{URL}?since=2026-11-01&until=2026-11-08", headers=auth) as r:
            assert r.status == 200 and (await r.json())["total"]["surveyed"] == 2
        async with http.get(f"{base}{URL}?since=2026-11-08&until=2026-11-01", headers=auth) as r:
            assert r.status == 400 and "must be after since" in (await r.json())["error"]["message"]
        async with http.get(
            f"{base}{URL}?since=2026-11-01&until=2026-11-08&topic=weather", headers=auth
        ) as r:
            assert r.status == 400
