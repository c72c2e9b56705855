"""The supervisors' and quality team's pages in headless Chromium, on a real bridge without Asterisk:

- the report page, for a seeded day typed as dd/mm/yyyy: its totals, each cut's table and every chart
  bar (its value, and its height on the chart's scale) equal a recomputation from the call rows, for
  every cut (day, half-hour, queue, tier, agent) and figure (SL, ASA, AHT, abandon rate, offered); a
  bar opens the calls behind it; the XLSX downloaded from the page, read back with openpyxl, has the
  same figures;
- a QA evaluation filled on the quality page is saved, scored and shown in the agent's own view (and
  in the report page's averages);
- the audit viewer lists this test's accesses (an unmask, the evaluation) and exports them.
axe-core finds no serious violation; no page error, nothing the policy refused. Screenshots of the
report and evaluation pages go to docs/screenshots on request (TONGDAI_SCREENSHOTS=1)."""

from __future__ import annotations

import io
import os
import re
import tempfile
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from openpyxl import load_workbook

from agent_desktop.i18n import CATALOGUE
from core.vietnam import VN_TZ
from tests.browser.support import axe_violations, describe, log_in, watch_of
from tests.component.test_desktop_security import base, desk
from tests.support.report_day import DAY, pct, recompute, sec1, seeded_day
from tests.support.reports import seed
from tongdai.app import Bridge

__all__ = ["desk"]  # the fixture, imported

pytestmark = [pytest.mark.browser]

SHOTS = (
    Path(__file__).resolve().parents[2] / "docs" / "screenshots"
    if os.environ.get("TONGDAI_SCREENSHOTS")
    else Path(tempfile.mkdtemp(prefix="tongdai-shots-"))
)
VI = CATALOGUE["vi"]
RP, QP, AP = VI["rpage"], VI["qpage"], VI["apage"]
DMY = "05/11/2026"  # DAY as typed
SCOPES = ("day", "halfhour", "queue", "tier", "agent")
METRICS = ("sl", "asa", "aht", "abandon_rate", "offered")
RATIOS = ("sl", "abandon_rate")
_TODAY = datetime.now(VN_TZ).date()
AROUND = tuple(f"{d:%d/%m/%Y}" for d in (_TODAY - timedelta(days=1), _TODAY + timedelta(days=1)))


def shown(metric: str, v: Any) -> str:
    """A figure as the page writes it (lib/format.js, lib/period.js)."""
    if metric in RATIOS:
        return pct(v)
    return (
        str(v or 0) if metric in ("offered", "answered", "abandoned", "exited", "answered_in_sl") else sec1(v)
    )


async def _check_chart(page: Any, scope: str, metric: str, want: dict[str, dict[str, Any]]) -> None:
    view = page.get_by_test_id("rep-view")
    await view.get_by_label(RP["by"]).select_option(scope)
    await view.get_by_label(RP["figure"]).select_option(metric)
    chart = page.get_by_test_id("rep-chart").locator("svg")
    bars = chart.get_by_test_id("rep-bar")
    keys = sorted(want)
    from playwright.async_api import expect

    await expect(bars).to_have_count(len(keys))
    await expect(chart).to_have_attribute("aria-label", re.compile(re.escape(RP["metrics"][metric])))
    scale = float(await chart.get_attribute("data-scale") or 0)
    plot = float(await chart.get_attribute("data-plot-height") or 0)
    values = [w[metric] for w in want.values()]
    assert scale == (1.0 if metric in RATIOS else max(1.0, *[v or 0 for v in values])), (scope, metric)
    got = await bars.evaluate_all(
        "bs => bs.map(b => [b.dataset.key, b.querySelector('rect').dataset.value,"
        " Number(b.querySelector('rect').getAttribute('height'))])"
    )
    assert [k for k, _, _ in got] == keys, (scope, metric)
    for key, value, height in got:
        expected = want[key][metric]
        assert (float(value) if value != "" else None) == expected, (scope, metric, key)
        assert abs(height - (expected or 0) / scale * plot) < 0.01, (scope, metric, key, height)
    # The table under the chart: the same figures as text.
    for key in keys:
        row = page.get_by_test_id("rep-rows").locator(f'tr[data-key="{key}"]')
        for col in ("offered", "answered", "abandoned", "sl", "asa", "aht", "abandon_rate"):
            await expect(row.locator(f'td[data-k="{col}"]')).to_have_text(shown(col, want[key][col]))


async def test_the_report_page_matches_the_calls(desk: Bridge, browser: Any) -> None:
    from playwright.async_api import expect

    assert desk.sessions is not None
    await seed(desk.sessions, seeded_day())
    want = await recompute(desk.sessions)
    url = base(desk)
    page = await log_in(browser, url, "9000")
    await page.get_by_role("link", name=RP["title"]).click()
    await page.wait_for_url(re.compile(r"/reports\?lang=vi$"))
    await page.wait_for_selector("#link.up", timeout=15000)

    # A bad day is refused in the page's words; then the seeded day.
    period = page.get_by_test_id("rep-period")
    await period.get_by_label(RP["since"]).fill("31/02/2026")
    await period.get_by_role("button", name=RP["show"]).click()
    await expect(page.get_by_test_id("rep-msg")).to_have_text(RP["bad_date"].format(text="31/02/2026"))
    await period.get_by_label(RP["since"]).fill(DMY)
    await period.get_by_label(RP["to"]).fill(DMY)
    await period.get_by_role("button", name=RP["show"]).click()
    facts = page.get_by_test_id("rep-facts")
    total = want["total"][""]
    await expect(facts.locator('[data-k="offered"]')).to_have_text(str(total["offered"]))
    for k in ("answered", "abandoned", "sl", "asa", "aht", "abandon_rate"):
        await expect(facts.locator(f'[data-k="{k}"]')).to_have_text(shown(k, total[k]))
    await expect(page.get_by_test_id("rep-msg")).to_have_text("")

    for scope in SCOPES:
        for metric in METRICS:
            await _check_chart(page, scope, metric, want[scope])

    # A bar opens the calls behind it: the 08:00 half-hour's four calls (08:29:59 is still in it).
    await _check_chart(page, "halfhour", "sl", want["halfhour"])
    await page.get_by_test_id("rep-bar").and_(page.locator('[data-key="08:00"]')).click()
    calls = page.get_by_test_id("rep-call-rows").locator("tbody tr")
    await expect(calls).to_have_count(4)
    assert await calls.evaluate_all("rs => rs.map(r => r.dataset.call)") == ["d01", "d02", "d03", "d04"]
    await expect(page.get_by_test_id("rep-calls-title")).to_have_text(
        RP["calls_of"].format(scope=RP["scopes"]["halfhour"], key="08:00", count=4)
    )
    # The keyboard reaches a bar too: the queue "billing".
    await _check_chart(page, "queue", "asa", want["queue"])
    await page.get_by_test_id("rep-bar").and_(page.locator('[data-key="billing"]')).focus()
    await page.keyboard.press("Enter")
    await expect(calls).to_have_count(want["queue"]["billing"]["offered"])

    # The XLSX, as downloaded from the page, has the same figures.
    async with page.expect_download() as got:
        await page.get_by_test_id("rep-xlsx").click()
    download = await got.value
    assert download.suggested_filename == f"service-level-{DAY}-2026-11-06.xlsx"
    ws = load_workbook(io.BytesIO((await download.path()).read_bytes()))["figures"]
    values = list(ws.values)
    book = [dict(zip(values[0], v, strict=True)) for v in values[1:]]
    seen = 0
    for r in book:
        scope, key = str(r["scope"]), str(r["key"])
        w = want["total"][""] if scope == "total" else want[scope][key]
        for f in (
            "offered",
            "answered",
            "answered_in_sl",
            "abandoned",
            "exited",
            "sl",
            "asa",
            "aht",
            "abandon_rate",
        ):
            assert (None if r[f] == "" else r[f]) == w[f], (scope, key, f)
        seen += 1
    assert seen == 1 + sum(len(want[s]) for s in SCOPES)

    await _check_chart(page, "halfhour", "sl", want["halfhour"])
    found = await axe_violations(page, url)
    assert not found, describe(found)
    await page.screenshot(path=str(SHOTS / "reports.png"), full_page=True)
    watch = watch_of(page)
    assert watch.errors == [] and watch.csp == [], (watch.errors, watch.csp)


async def test_an_evaluation_reaches_the_agent_and_the_audit_viewer(desk: Bridge, browser: Any) -> None:
    from playwright.async_api import expect

    assert desk.sessions is not None
    await seed(desk.sessions, seeded_day())
    url = base(desk)
    boss = await log_in(browser, url, "9000")

    # An access to audit later: the supervisor unmasks a customer's identity number, with a reason.
    csrf = await boss.locator("body").get_attribute("data-csrf")
    r = await boss.request.post(
        f"{url}/api/customers/KH0000000001/unmask",
        data={"reason": "khiếu nại cước tháng 10"},
        headers={"X-CSRF-Token": csrf or ""},
    )
    assert r.status == 200, await r.text()

    # The QA analyst's form, reached from a drill-down link (?call=d01).
    await boss.goto(f"{url}/quality?call=d01")
    await boss.wait_for_selector("#link.up", timeout=15000)
    form = boss.get_by_test_id("qa-form")
    await expect(form.get_by_label(QP["call_id"])).to_have_value("d01")
    q = form.get_by_test_id("qa-questions")
    await expect(q.locator(".qa-q")).to_have_count(6)

    async def answer(qid: str, value: str) -> None:
        await q.locator(f'[data-q="{qid}"] input[value="{value}"]').check()

    for qid, value in (("greeting", "yes"), ("identity", "yes"), ("understood", "4"), ("resolved", "na"),
                       ("card_data", "yes"), ("summary", "no")):  # fmt: skip
        await answer(qid, value)
    await form.get_by_label(QP["comment"]).fill("Tốt, thiếu tóm tắt cuối cuộc gọi")
    await form.get_by_test_id("qa-save").click()
    await expect(boss.get_by_test_id("qa-msg")).to_have_text(
        QP["saved"].format(score="70,00 %", agent="1001")
    )
    row = boss.get_by_test_id("qa-rows").locator('tr[data-call="d01"]')
    await expect(row.locator('[data-k="score"]')).to_have_text("70,00 %")
    found = await axe_violations(boss, url)
    assert not found, describe(found)
    await boss.screenshot(path=str(SHOTS / "quality-evaluation.png"), full_page=True)

    # The agent sees it on their own page, and has no form to fill.
    lan = await log_in(browser, url, "1001")
    await lan.get_by_role("link", name=QP["title"]).click()
    await lan.wait_for_selector("#link.up", timeout=15000)
    await expect(lan.get_by_role("heading", name=QP["mine"])).to_be_visible()
    await expect(lan.get_by_test_id("qa-form")).to_have_count(0)
    mine = lan.get_by_test_id("qa-rows").locator("tbody tr")
    await expect(mine).to_have_count(1)
    await expect(mine.locator('[data-k="score"]')).to_have_text("70,00 %")
    await expect(mine.locator('[data-k="comment"]')).to_have_text("Tốt, thiếu tóm tắt cuối cuộc gọi")
    await expect(lan.get_by_role("link", name=AP["title"])).to_have_count(0)  # no audit viewer for agents
    found = await axe_violations(lan, url)
    assert not found, describe(found)
    await lan.screenshot(path=str(SHOTS / "quality-agent.png"), full_page=True)

    # The report page's QA averages (evaluations are dated when made: around now, at whatever hour the
    # test runs, so the period spans yesterday to tomorrow in Việt Nam).
    await boss.goto(f"{url}/reports")
    await boss.wait_for_selector("#link.up", timeout=15000)
    period = boss.get_by_test_id("rep-period")
    await period.get_by_label(RP["since"]).fill(AROUND[0])
    await period.get_by_label(RP["to"]).fill(AROUND[1])
    await period.get_by_role("button", name=RP["show"]).click()
    qa = boss.get_by_test_id("rep-qa-agents").locator('tr[data-key="1001"] [data-k="average"]')
    await expect(qa).to_have_text("70,00")

    # The audit viewer lists this test's accesses, newest first, and exports them.
    await boss.get_by_role("link", name=AP["title"]).click()
    await boss.wait_for_selector("#link.up", timeout=15000)
    filt = boss.get_by_test_id("aud-filter")
    await filt.get_by_label(RP["since"]).fill(AROUND[0])
    await filt.get_by_label(RP["to"]).fill(AROUND[1])
    await filt.get_by_role("button", name=RP["show"]).click()
    rows = boss.get_by_test_id("aud-rows").locator("tbody tr")
    await expect(rows.and_(boss.locator('[data-action="profile.unmask"]'))).to_have_count(1)
    unmask = rows.and_(boss.locator('[data-action="profile.unmask"]'))
    await expect(unmask.locator('[data-k="subject"]')).to_have_text("KH0000000001")
    await expect(unmask).to_contain_text("khiếu nại cước tháng 10")
    await expect(
        rows.and_(boss.locator('[data-action="quality.evaluate"][data-subject="d01"]'))
    ).to_have_count(1)
    filt = boss.get_by_test_id("aud-filter")
    await filt.get_by_label(AP["kind"]).select_option("customer")
    await filt.get_by_label(AP["subject"]).fill("KH0000000001")
    await filt.get_by_role("button", name=RP["show"]).click()
    await expect(rows).to_have_count(1)
    await expect(boss.get_by_test_id("aud-count")).to_have_text(AP["count"].format(total=1, shown=1))
    async with boss.expect_download() as got:
        await boss.get_by_test_id("aud-csv").click()
    text = (await (await got.value).path()).read_text(encoding="utf-8-sig")
    assert text.splitlines()[0] == "at,actor,action,subject_type,subject_id,detail"
    assert len(text.splitlines()) == 2 and ",9000,profile.unmask,customer,KH0000000001," in text
    found = await axe_violations(boss, url)
    assert not found, describe(found)
    await boss.screenshot(path=str(SHOTS / "audit.png"), full_page=True)
    for p in (boss, lan):
        watch = watch_of(p)
        assert watch.errors == [] and watch.csp == [], (watch.errors, watch.csp)
