"""The report page's API on a real bridge (real aiohttp server, SQLite, no Asterisk): its figures per
day, half-hour, queue, tier and agent equal a recomputation from the call rows; the SQL report and
the half-hour cut agree; a bar's drill-down lists exactly its calls; the CSV and XLSX carry the same
numbers; supervisors only."""

from __future__ import annotations

import csv
import io
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from openpyxl import load_workbook

from reports.scheduled import run_due
from tests.support.api_client import Client, logged_in
from tests.support.report_day import DAY, recompute, seeded_day
from tests.support.reports import seed, vn
from tests.support.settings import free_port, make_settings
from tongdai.app import Bridge

Q = f"since={DAY}&until=2026-11-06"
FIELDS = ("offered", "answered", "answered_in_sl", "abandoned", "exited", "sl", "asa", "aht", "abandon_rate")
LISTS = {
    "day": "days",
    "halfhour": "half_hours",
    "queue": "queues",
    "tier": "tiers",
    "agent": "agent_figures",
}


@pytest.fixture
async def desk(tmp_path: Path) -> AsyncIterator[Bridge]:
    port = free_port()
    settings = make_settings(
        node={"name": "report-page-test", "data_dir": str(tmp_path / "var")},
        database={"url": f"sqlite+aiosqlite:///{tmp_path / 'desk.db'}"},
        web={"port": port, "allowed_origins": [f"http://127.0.0.1:{port}"]},
        redis={"url": None},
        reports={"schedule": {"directory": str(tmp_path / "reports"), "formats": ["csv", "xlsx"]}},
    )
    b = Bridge(settings)
    await b.start(connect_ami=False)
    assert b.sessions is not None
    await seed(b.sessions, seeded_day())
    yield b
    await b.stop()


@pytest.fixture
async def boss(desk: Bridge) -> AsyncIterator[Client]:
    c = await logged_in(f"http://127.0.0.1:{desk.web_port}", "9000")
    yield c
    await c.http.close()


def _pick(item: dict[str, Any]) -> dict[str, Any]:
    return {k: item[k] for k in FIELDS}


async def test_every_cut_equals_a_recomputation_from_the_calls(desk: Bridge, boss: Client) -> None:
    assert desk.sessions is not None
    status, page = await boss.send("GET", f"/api/reports/page?{Q}")
    assert status == 200, page
    want = await recompute(desk.sessions)
    assert _pick(page["total"]) == want["total"][""]
    assert page["total"]["offered"] == 22 and page["total"]["exited"] == 1
    for scope, name in LISTS.items():
        got = {i.get("day") or i["name"]: _pick(i) for i in page[name]}
        assert got == want[scope], scope
    # The SQL aggregate (days, queues, tiers) and the half-hours read from the rows add up alike.
    assert sum(h["offered"] for h in page["half_hours"]) == page["total"]["offered"]
    assert sum(h["answered_in_sl"] for h in page["half_hours"]) == page["total"]["answered_in_sl"]
    assert [h["name"] for h in page["half_hours"]] == ["08:00", "08:30", "09:00", "09:30", "10:00", "10:30"]


async def test_a_bars_drill_down_lists_exactly_its_calls(boss: Client) -> None:
    status, r = await boss.send("GET", f"/api/reports/calls?{Q}&scope=halfhour&key=08:00")
    assert status == 200, r
    assert [c["call_id"] for c in r["calls"]] == ["d01", "d02", "d03", "d04"]  # 08:29:59 is still 08:00
    assert [c["outcome"] for c in r["calls"]] == ["answered", "answered", "abandoned", "answered"]
    assert [c["in_sl"] for c in r["calls"]] == [True, False, False, True]
    status, r = await boss.send("GET", f"/api/reports/calls?{Q}&scope=agent&key=1003")
    assert [c["call_id"] for c in r["calls"]] == ["d05", "d09", "d13", "d17", "d22"]
    status, r = await boss.send("GET", f"/api/reports/calls?{Q}&scope=queue&key=mobile")
    assert r["count"] == 10 and {c["queue"] for c in r["calls"]} == {"mobile"}
    status, r = await boss.send("GET", f"/api/reports/calls?{Q}&scope=tier&key=gold")
    assert [c["call_id"] for c in r["calls"]] == ["d02", "d06", "d09", "d12", "d17", "d21"]
    status, r = await boss.send("GET", f"/api/reports/calls?{Q}&scope=day&key={DAY}")
    assert r["count"] == 22  # not x01 the day before, nor x02 the day after
    for key in ("2026-11-06", "not-a-day"):  # no bar of the period: no calls
        status, r = await boss.send("GET", f"/api/reports/calls?{Q}&scope=day&key={key}")
        assert (status, r["count"]) == (200, 0), key
    status, r = await boss.send("GET", f"/api/reports/calls?{Q}&queue=internet&scope=agent&key=1001")
    assert [c["call_id"] for c in r["calls"]] == ["d04", "d12"]
    status, r = await boss.send("GET", f"/api/reports/calls?{Q}&scope=week&key=x")
    assert status == 400 and r["error"]["code"] == "request.invalid"


async def test_csv_and_xlsx_carry_the_pages_numbers(desk: Bridge, boss: Client) -> None:
    _, page = await boss.send("GET", f"/api/reports/page?{Q}")
    async with boss.http.get(f"{boss.base}/api/reports/page.csv?{Q}") as r:
        assert r.status == 200 and r.headers["Content-Type"].startswith("text/csv")
        rows = list(csv.DictReader(io.StringIO((await r.read()).decode("utf-8-sig"))))
    async with boss.http.get(f"{boss.base}/api/reports/page.xlsx?{Q}") as r:
        assert r.status == 200
        ws = load_workbook(io.BytesIO(await r.read()))["figures"]
    values = list(ws.values)
    header, book = list(values[0]), [dict(zip(values[0], v, strict=True)) for v in values[1:]]
    assert header[:2] == ["scope", "key"]
    assert len(rows) == len(book) == 1 + sum(len(page[n]) for n in LISTS.values())
    for csv_row, x_row in zip(rows, book, strict=True):
        scope, key = csv_row["scope"], csv_row["key"]
        item = (
            page["total"]
            if scope == "total"
            else next(i for i in page[LISTS[scope]] if (i.get("day") or i["name"]) == key)
        )
        for f in FIELDS:
            want = item[f]
            assert (x_row[f] if x_row[f] != "" else None) == want, (scope, key, f)
            assert (float(csv_row[f]) if csv_row[f] else None) == want, (scope, key, f)


async def test_scheduled_files_are_the_days_exports(desk: Bridge, boss: Client, tmp_path: Path) -> None:
    assert desk.sessions is not None
    cfg = desk.settings.reports
    written = await run_due(desk.sessions, cfg, vn("2026-11-06 06:30:00"))
    names = sorted(p.name for p in written)
    assert "service-level-2026-11-05.csv" in names and "service-level-2026-11-05.xlsx" in names
    async with boss.http.get(f"{boss.base}/api/reports/page.csv?{Q}") as r:
        assert (tmp_path / "reports" / "service-level-2026-11-05.csv").read_bytes() == await r.read()
    assert await run_due(desk.sessions, cfg, vn("2026-11-06 07:00:00")) == []  # never twice


async def test_agents_are_refused(desk: Bridge) -> None:
    agent = await logged_in(f"http://127.0.0.1:{desk.web_port}", "1001")
    try:
        for path in ("/api/reports/page", "/api/reports/calls", "/api/reports/page.xlsx"):
            status, body = await agent.send("GET", f"{path}?{Q}")
            assert status == 403 and body["error"]["code"] == "access.supervisors_only", path
        async with agent.http.get(f"{agent.base}/reports") as r:
            assert r.status == 403
    finally:
        await agent.http.close()


async def test_the_pages_render_in_both_languages(desk: Bridge, boss: Client) -> None:
    from agent_desktop.i18n import CATALOGUE

    for lang in ("vi", "en"):
        t = CATALOGUE[lang]
        for path, words in (
            ("/reports", t["rpage"]["def_sl"].format(seconds="60", target="80%")),
            ("/quality", t["qpage"]["new"]),
            ("/audit", t["apage"]["note"]),
        ):
            async with boss.http.get(f"{boss.base}{path}?lang={lang}") as r:
                assert r.status == 200, (path, lang)
                page = await r.text()
            assert words in page, (path, lang)
            assert f'href="/reports?lang={lang}"' in page and f'href="/audit?lang={lang}"' in page
