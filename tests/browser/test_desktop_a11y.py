"""The desktop's pages in headless Chromium on a real bridge without Asterisk (synthetic AMI events
through the real CallTracker), under a strict Content-Security-Policy: axe-core finds no critical or
serious violation on the login page, the agent desktop with a pop showing, the callback worklist and
the wallboard; hostile customer data and notes show as text; error ids reach the agent translated."""

from __future__ import annotations

import asyncio
import json
import re
from typing import Any

import pytest
from sqlalchemy import update

from agent_desktop.i18n import CATALOGUE
from core.ami import AmiEvent
from crm_bridge.models import Customer
from tests.browser.support import axe_violations, describe, log_in, new_page, watch_of
from tests.component.test_desktop_security import base, client, csrf_of, desk, feed_call
from tests.support.desktop import login
from tongdai.app import Bridge

__all__ = ["desk"]  # the fixture, imported

pytestmark = [pytest.mark.browser]

VI = CATALOGUE["vi"]
# Markup in a customer's name (a CRM import, an external CRM): it must show as these very characters.
HOSTILE = '<img src=x onerror="document.body.dataset.pwned=1">Nguyễn <b>Văn</b> An</h3><script>x()</script>'


async def assert_accessible(page: Any, base_url: str, where: str) -> None:
    found = await axe_violations(page, base_url)
    assert not found, f"axe-core on {where}:\n{describe(found)}"


def assert_clean(page: Any) -> None:
    watch = watch_of(page)
    assert watch.csp == [], watch.csp
    assert watch.errors == [], watch.errors


async def test_login_page_is_accessible_under_csp(desk: Bridge, browser: Any) -> None:
    from playwright.async_api import expect

    page, watch = await new_page(browser)
    await page.goto(f"{base(desk)}/login")
    await expect(page.get_by_role("button", name="Đăng nhập")).to_be_visible()
    await assert_accessible(page, base(desk), "the login page")
    # A wrong password is said in the page's language, as an alert.
    await page.get_by_label("Mã tổng đài viên").fill("1001")
    await page.get_by_label("Mật khẩu").fill("not-the-password")
    await page.get_by_role("button", name="Đăng nhập").click()
    await expect(page.get_by_role("alert")).to_have_text(VI["bad_login"])
    await assert_accessible(page, base(desk), "the login page with its error")
    assert watch.csp == [] and watch.errors == []
    # The page's policy is in force: an injected inline script is refused (and reported).
    await page.evaluate(
        "() => { const s = document.createElement('script');"
        " s.textContent = 'document.body.dataset.inline = 1'; document.head.append(s); }"
    )
    await expect(page.locator("body")).not_to_have_attribute("data-inline", re.compile(".*"))
    assert any("script-src 'self'" in m for m in watch.csp), watch.csp


async def test_desktop_with_a_pop_is_accessible_and_shows_hostile_data_as_text(
    desk: Bridge, browser: Any
) -> None:
    from playwright.async_api import expect

    assert desk.engine is not None and desk.callbacks is not None
    async with desk.engine.begin() as conn:
        await conn.execute(
            update(Customer).where(Customer.customer_id == "KH0000000001").values(full_name=HOSTILE)
        )
    prio = desk.policy.initial_priority
    await desk.callbacks.record("0281234567", None, "c-std", acd_tier="standard", priority=prio("standard"))
    await desk.callbacks.record("0912345678", "KH0000000001", "c-vip", acd_tier="vip", priority=prio("vip"))
    page = await log_in(browser, base(desk), "1001")
    pop = page.get_by_test_id("pop")
    await expect(pop).to_contain_text(VI["waiting"])

    await feed_call(desk, "call-xss-1", "1001", answer=False, hangup=False)
    await expect(page.get_by_test_id("pop-name")).to_have_text(HOSTILE)
    await expect(page.locator("#pop-state")).to_have_text(VI["pop"]["ringing"])
    assert await pop.locator("img, script, b").count() == 0  # the name's markup never became elements
    await expect(page.get_by_test_id("pop-tier")).to_contain_text("Khách hàng lớn · thẻ đỏ")

    # A colleague's claim and my own claim: the worklist shows a labelled outcome select.
    rows = page.get_by_test_id("callback")
    await expect(rows).to_have_count(2)
    await rows.nth(0).get_by_role("button", name=VI["callbacks"]["call"]).click()
    # No Asterisk: the claim holds and the dial fails, translated, never as a raw id.
    await expect(rows.nth(0)).to_have_attribute("data-status", "claimed")
    outcome = rows.nth(0).get_by_role("combobox", name=re.compile("Kết quả gọi lại 0912345678"))
    await expect(outcome).to_be_visible()
    msg = page.get_by_test_id("callbacks-msg")
    await expect(msg).to_contain_text(VI["desk"]["error"])
    assert not re.search(r"\b[a-z]+\.[a-z_]+\b", await msg.inner_text()), await msg.inner_text()

    # Search finds the customer; the hostile name is text there too.
    await page.get_by_role("searchbox").fill("KH0000000001")
    await page.get_by_role("searchbox").press("Enter")
    results = page.get_by_test_id("search-results")
    await expect(results.locator("b")).to_have_text(HOSTILE)
    assert await results.locator("img, script").count() == 0

    # A hostile note saved as the disposition shows as text in the history at once.
    note = "<img src=x onerror=alert(1)>đã gọi lại"
    await page.get_by_test_id("dispo-code").select_option("resolved")
    await page.get_by_test_id("dispo-note").fill(note)
    await page.get_by_test_id("dispo-save").click()
    await expect(page.get_by_test_id("dispo-msg")).to_have_text(VI["desk"]["saved"])
    await expect(page.get_by_test_id("history-item").first).to_have_text(
        re.compile(r"^\d{2}/\d{2}/\d{4} call · Đã giải quyết · " + re.escape(note) + "$")
    )
    assert await pop.locator("img").count() == 0

    await assert_accessible(page, base(desk), "the agent desktop with a pop and the callback worklist")
    await expect(page.locator("body")).not_to_have_attribute("data-pwned", re.compile(".*"))

    # An audited unmask: the agent gives a reason in the browser's dialog, the ID number shows.
    page.once("dialog", lambda d: asyncio.ensure_future(d.accept("khách yêu cầu xác minh")))
    masked = await page.get_by_test_id("idno").inner_text()
    await page.get_by_test_id("unmask").click()
    await expect(page.get_by_test_id("unmask")).to_have_count(0)
    await expect(page.get_by_test_id("idno")).not_to_have_text(masked)
    await expect(page.get_by_test_id("idno")).to_have_text(re.compile(r"^\d{9,12}$"))
    assert_clean(page)


async def test_error_ids_reach_the_agent_translated(desk: Bridge, browser: Any) -> None:
    from playwright.async_api import expect

    # What the API answers for a click-to-call on this bridge (no Asterisk): its error id.
    async with client() as http:
        await login(http, base(desk), "1001", "demo-1001")
        token = await csrf_of(http, desk)
        async with http.post(
            f"{base(desk)}/api/calls/dial", json={"number": "0912345678"}, headers={"X-CSRF-Token": token}
        ) as r:
            assert r.status >= 400
            code = (await r.json())["error"]["code"]
    assert code in VI["errors"], code
    for lang in ("vi", "en"):
        text = CATALOGUE[lang]
        page = await log_in(browser, base(desk), "1001", lang=lang)
        await page.get_by_test_id("dial-number").fill("0912345678")
        await page.get_by_role("button", name=text["call"], exact=True).click()
        msg = page.get_by_test_id("dial-msg")
        await expect(msg).to_have_text(f"{text['desk']['error']}: {text['errors'][code]}")
        assert code not in await msg.inner_text()
        assert_clean(page)


async def test_state_form_errors_are_translated_and_unknown_ids_read_as_a_sentence(
    desk: Bridge, browser: Any
) -> None:
    """The one-click state forms report their outcome through the URL (``?state=<id>``): a known id
    reads as its translation, an id the catalogue lacks as the generic sentence naming it."""
    from urllib.parse import parse_qs, urlsplit

    from playwright.async_api import expect

    page = await log_in(browser, base(desk), "1001")
    await page.get_by_role("button", name=VI["ready"]).click()  # no Asterisk: the state cannot change
    await page.wait_for_url(re.compile(r"state="))
    code = parse_qs(urlsplit(page.url).query)["state"][0]
    assert code != "ok" and code in VI["errors"], code
    state_msg = page.get_by_test_id("state-msg")
    await expect(state_msg).to_have_text(VI["errors"][code])
    # The example: Asterisk refusing a QueuePause used to show "ami.action_failed" raw.
    await page.goto(f"{base(desk)}/?state=ami.action_failed")
    await expect(state_msg).to_have_text(VI["errors"]["ami.action_failed"])
    await expect(state_msg).not_to_contain_text("ami.")
    await page.goto(f"{base(desk)}/?state=made.up_error")
    await expect(state_msg).to_have_text(VI["error_fallback"].format(code="made.up_error"))
    # A crafted link cannot put its own sentence on the agent's screen.
    await page.goto(f"{base(desk)}/?state=G%E1%BB%8Di+ngay+0900123456")
    await expect(state_msg).to_have_text(VI["error_fallback"].format(code="?"))
    assert_clean(page)


async def test_wallboard_is_accessible_and_its_chart_has_a_text_alternative(
    desk: Bridge, browser: Any
) -> None:
    from playwright.async_api import expect

    board = await log_in(browser, base(desk), "9000", "/wallboard")
    await feed_call(desk, "call-wb-1", "1001", answer=True, hangup=True)
    await feed_call(desk, "call-wb-2", "1002", answer=False, hangup=True)
    # A caller who took the queue's callback offer at its maximum wait: an exit, not an abandon.
    await feed_call(desk, "call-wb-3", "1002", answer=False, hangup=False)
    desk.tracker.annotate("call-wb-3", disposition="exit_callback")
    await desk.tracker.handle(AmiEvent("Hangup", {"Linkedid": "call-wb-3", "Uniqueid": "call-wb-3.caller"}))
    row = board.locator('[data-testid=queue-row][data-name="mobile"]')
    await expect(row.locator('[data-k="answered"]')).to_have_text("1", timeout=5000)
    await expect(row.locator('[data-k="exited"]')).to_have_text("1", timeout=5000)
    await expect(row.locator('[data-k="abandoned"]')).to_have_text("1")
    await expect(board.get_by_test_id("tile-exited").locator("b")).to_have_text("1")
    chart = board.get_by_role("img", name=re.compile(r"3 cuộc gọi, 1 đã trả lời, 1 bỏ máy"))
    await expect(chart).to_have_count(1)
    await board.get_by_text(VI["wall"]["chart_table"]).click()
    table = board.get_by_test_id("chart-table")
    await expect(table).to_be_visible()
    # Slot by slot (both calls may straddle a half-hour boundary): offered, answered, abandoned.
    rows = table.locator("tbody tr")
    figures = [[int(await r.locator("td").nth(k).inner_text()) for k in range(3)] for r in await rows.all()]
    assert [sum(col) for col in zip(*figures, strict=True)] == [3, 1, 1], figures
    await assert_accessible(board, base(desk), "the wallboard")
    assert_clean(board)


async def test_a_third_language_is_one_file(desk: Bridge, browser: Any) -> None:
    """Drop ``qaa.json`` (an ISO 639 code reserved for local use) beside vi and en: the pages offer
    it, serve it to the templates and the JS, and fall back to English for keys it lacks."""
    from playwright.async_api import expect

    path = CATALOGUE.directories[0] / "qaa.json"
    third = {
        "language": {"name": "Test-only"},
        "login": "QAA log in",
        "title": "QAA desk",
        "waiting": "QAA waiting",
        "pop": {"ringing": "QAA ringing"},
    }
    path.write_text(json.dumps(third), encoding="utf-8")
    try:
        CATALOGUE.reload()
        async with client() as http:
            async with http.get(f"{base(desk)}/login") as r:
                vi_login = await r.text()
            assert 'hreflang="qaa"' in vi_login and "Test-only" in vi_login
            async with http.get(f"{base(desk)}/login?lang=qaa") as r:
                html = await r.text()
            assert '<html lang="qaa">' in html and "QAA log in" in html
            assert "Password" in html  # a key the file lacks: English
        page = await log_in(browser, base(desk), "1001", lang="qaa")
        await expect(page.get_by_test_id("pop")).to_have_text("QAA waiting")  # rendered by the JS
        await feed_call(desk, "call-qaa-1", "1001", answer=False, hangup=False)
        await expect(page.locator("#pop-state")).to_have_text("QAA ringing")
        await expect(page.get_by_test_id("pop-debt")).to_have_text(re.compile(r" ₫$"))
        assert_clean(page)
    finally:
        path.unlink()
        CATALOGUE.reload()
    assert "qaa" not in CATALOGUE
