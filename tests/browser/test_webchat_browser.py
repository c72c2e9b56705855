"""Web chat in headless Chromium against the real Asterisk (whose app_queue says agent 1001 is ready in
``mobile``): customers on a shop page of another origin that embeds the widget with one script tag, the
agent on the desktop. A gold customer's chat is offered before a standard customer's who waited longer;
the chat pops the gold customer's profile and the page they came from; hostile text goes both ways and
stays text; delivered and read states; the transcript lands in the customer's history; the widget's
callback form puts requests into the desktop's worklist in tier order; a forged or expired portal token
is refused."""

from __future__ import annotations

import html
import weakref
from collections.abc import AsyncIterator
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web
from sqlalchemy import select

from core.vietnam import VN_TZ
from crm_bridge.demo_data import load_demo
from ivr.models import CallbackRequest
from tests.asterisk.conftest import AsteriskSandbox
from tests.browser.support import axe_violations, describe, log_in, watch_of
from tests.support.settings import free_port
from tongdai.app import Bridge
from webchat import portal_token

pytestmark = [pytest.mark.browser, pytest.mark.asterisk]

SECRET = "portal-secret-for-the-browser-test-0123"
GOLD, GOLD_NAME_PART = "KH0000000002", ""  # demo: sme → gold
STANDARD = "KH0000000003"  # demo: standard, +84333333333
SHOP_PORT = free_port()
SITE = f"http://127.0.0.1:{SHOP_PORT}"  # the operator's shop: another origin (tests/browser's own server)
# The message's own text: its text nodes (lit adds comment markers; the time and state are elements).
TEXT_NODES = "(e) => [...e.childNodes].filter((n) => n.nodeType === 3).map((n) => n.data).join('')"
PAGE_ERRORS: weakref.WeakKeyDictionary[Any, list[str]] = weakref.WeakKeyDictionary()
ALWAYS = {d: ["00:00-24:00"] for d in ("mon", "tue", "wed", "thu", "fri", "sat", "sun")}


@pytest.fixture
async def chat_bridge(asterisk_sandbox: AsteriskSandbox, tmp_path: Path) -> AsyncIterator[Bridge]:
    settings = asterisk_sandbox.settings_for(
        tmp_path,
        callbacks={"dialler": {"hours": {"weekly": ALWAYS, "country": None}}},
        webchat={
            "enabled": True,
            "allowed_origins": [SITE],
            "portal_secret": SECRET,
            "max_chats_per_agent": 1,
            "queues": [{"name": "mobile", "label_vi": "Di động", "label_en": "Mobile"}],
            "callback": {"pow_bits": 12, "min_fill_seconds": 0},
        },
    )
    b = Bridge(settings)
    shop_site = await _shop_server(f"http://127.0.0.1:{settings.web.port}")
    await b.start()
    assert b.ami is not None and b.engine is not None
    await b.ami.wait_connected(30)
    await b.ami.wait_booted(30)
    await b.agents.ready(30)
    await load_demo(b.engine, 0)
    yield b
    await b.stop()
    await shop_site.cleanup()


async def _shop_server(tongdai: str) -> web.AppRunner:
    """The operator's website: every page embeds the widget with one script tag (the portal's token
    for a logged-in customer comes from the query here, from the portal's session in real life)."""

    async def page(request: web.Request) -> web.Response:
        token = request.query.get("token", "")
        tok = f' data-token="{html.escape(token)}"' if token else ""
        body = (
            '<!doctype html><html lang="vi"><head><meta charset="utf-8"><title>Cửa hàng</title></head>'
            f'<body><h1>Gói cước</h1><script src="{tongdai}/chat/widget.js" data-topic="mobile"'
            f' data-lang="vi"{tok}>'
            "</script></body></html>"
        )
        # A strict policy, as an operator's site may have: the widget needs its origin allowed for
        # scripts and connections, and no inline style.
        ws = tongdai.replace("http://", "ws://")
        csp = f"default-src 'self'; script-src 'self' {tongdai}; connect-src {tongdai} {ws}; style-src 'self'"
        return web.Response(text=body, content_type="text/html", headers={"Content-Security-Policy": csp})

    app = web.Application()
    app.router.add_get("/{tail:.*}", page)
    runner = web.AppRunner(app)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", SHOP_PORT).start()
    return runner


async def shop(browser: Any, site: str, *, token: str = "", path: str = "/goi-cuoc") -> Any:
    """A customer (their own browser context) on the operator's shop page."""
    ctx = await browser.new_context(locale="vi-VN")
    page = await ctx.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    PAGE_ERRORS[page] = errors
    await page.goto(f"{site}{path}" + (f"?token={token}" if token else ""))
    return page


async def start_chat(page: Any, *, phone: str = "") -> None:
    await page.get_by_test_id("chat-open").click()
    if phone:
        await page.get_by_test_id("chat-phone").fill(phone)
        await page.get_by_test_id("chat-start").click()


async def say(page: Any, text: str) -> None:
    await page.get_by_test_id("chat-input").fill(text)
    await page.get_by_test_id("chat-send").click()


async def test_gold_chat_first_profile_hostile_text_and_history(chat_bridge: Bridge, browser: Any) -> None:
    from playwright.async_api import expect

    b = chat_bridge
    assert b.webchat is not None and b.directory is not None
    base = f"http://127.0.0.1:{b.web_port}"
    gold_profile = await b.directory.by_customer_id(GOLD)
    std_profile = await b.directory.by_customer_id(STANDARD)
    assert gold_profile is not None and std_profile is not None

    standard = await shop(browser, SITE, path="/ho-tro")
    # Styled under the shop's strict policy (no inline style): the widget's constructed style sheet.
    color = await standard.get_by_test_id("chat-open").evaluate("(b) => getComputedStyle(b).backgroundColor")
    assert color == "rgb(11, 87, 208)"
    await start_chat(standard, phone="0333 333 333")
    await expect(standard.get_by_test_id("chat-status")).to_contain_text("vị trí số 1")
    gold = await shop(browser, SITE, token=portal_token.sign(GOLD, SECRET))
    await start_chat(gold)
    await expect(gold.get_by_test_id("chat-status")).to_contain_text("vị trí số 1")
    # The gold customer went ahead of the standard one, who waited longer.
    await expect(standard.get_by_test_id("chat-status")).to_contain_text("vị trí số 2")

    # The supervisors' wallboard shows the two waiting chats.
    wall = await log_in(browser, base, "9000", "/wallboard")
    mobile = wall.locator("[data-testid=chat-queue-row][data-queue=mobile]")
    await expect(mobile.get_by_test_id("chat-waiting")).to_have_text("2")

    agent = await log_in(browser, base, "1001")
    chat = agent.get_by_test_id("chat")
    await expect(chat).to_have_count(1)
    await expect(chat.get_by_test_id("pop-name")).to_have_text(gold_profile.name)
    await expect(chat.get_by_test_id("pop-customer-id")).to_have_text(GOLD)
    await expect(chat.get_by_test_id("chat-page")).to_have_text(f"{SITE}/goi-cuoc")
    await expect(gold.get_by_test_id("chat-status")).to_contain_text("Nhân viên đã tham gia")
    await expect(mobile.get_by_test_id("chat-waiting")).to_have_text("1")
    await expect(wall.locator("[data-testid=chat-agent-load][data-agent='1001']")).to_have_text("#1001: 1")

    hostile = [
        '<script>window.pwned = 1</script><img src=x onerror="window.pwned=2">',
        "\u202eRTL override\u202c and \u200fשלום\u200f <b>bold?</b>",
        "A" * 10_240,
    ]
    for i, text in enumerate(hostile, start=1):
        await say(gold, text)
        await expect(chat.locator("[data-testid=chat-msg][data-from=customer]")).to_have_count(i)
    shown = chat.locator("[data-testid=chat-msg][data-from=customer]")
    for i, text in enumerate(hostile):
        assert (await shown.nth(i).evaluate(TEXT_NODES)) == text
    assert (
        await chat.locator(
            "[data-testid=chat-log] script, [data-testid=chat-log] img, [data-testid=chat-log] b"
        ).count()
        == 0
    )
    # The agent's panel read them: the customer sees "read" beside their messages.
    await expect(gold.get_by_test_id("chat-mine").last.get_by_test_id("chat-state")).to_have_text("đã xem")

    reply = "Dạ <i>chào anh</i>, xem https://vnpt.vn/goi?x=1 hoặc javascript:alert(1)"
    await gold.get_by_test_id("chat-input").press_sequentially("x")  # typing…
    await expect(chat.get_by_test_id("chat-typing")).to_be_visible()
    await chat.get_by_test_id("chat-reply").fill(reply)
    await chat.get_by_test_id("chat-send").click()
    theirs = gold.get_by_test_id("chat-theirs")
    await expect(theirs).to_have_text(reply)
    links = theirs.locator("a")
    await expect(links).to_have_count(1)
    assert await links.get_attribute("href") == "https://vnpt.vn/goi?x=1"
    assert "noopener" in (await links.get_attribute("rel") or "")
    assert await theirs.locator("i").count() == 0
    await expect(chat.get_by_test_id("chat-msg-state").last).to_have_attribute("data-state", "read")
    for page in (gold, agent):
        assert await page.evaluate("() => window.pwned") is None
    found = await axe_violations(agent, base)  # the desktop with a chat open passes axe-core
    assert not found, describe(found)

    # The customer reloads the page: the widget takes the same chat up again, its messages with it.
    await gold.reload()
    await expect(gold.get_by_test_id("chat-mine")).to_have_count(3)
    await expect(gold.get_by_test_id("chat-theirs")).to_have_text(reply)
    await expect(gold.get_by_test_id("chat-status")).to_contain_text("Nhân viên đã tham gia")
    await say(gold, "Em vừa tải lại trang")
    await expect(chat.locator("[data-testid=chat-msg][data-from=customer]")).to_have_count(4)

    # End with a disposition: the transcript is stored, the chat is in the customer's history, and the
    # standard customer's chat is offered next with their (phone-matched) profile.
    await chat.get_by_test_id("chat-end").click()
    await expect(gold.get_by_test_id("chat-status")).to_contain_text("đã kết thúc")
    await expect(chat.get_by_test_id("pop-customer-id")).to_have_text(STANDARD)
    await expect(standard.get_by_test_id("chat-status")).to_contain_text("Nhân viên đã tham gia")
    rows = await b.webchat.store.of_customer(GOLD)
    assert len(rows) == 1 and rows[0].row.agent_id == "1001" and rows[0].row.disposition
    transcript = (await b.webchat.store.get(rows[0].row.chat_id)).to_json()
    assert [m["text"] for m in transcript["messages"]] == [*hostile, reply, "Em vừa tải lại trang"]
    again = await b.directory.by_customer_id(GOLD)
    assert again is not None
    assert [i.call_id for i in again.recent_interactions if i.kind == "chat"] == [rows[0].row.chat_id]

    assert watch_of(agent).errors == [] and watch_of(agent).csp == []
    assert watch_of(wall).errors == [] and watch_of(wall).csp == []
    assert PAGE_ERRORS[gold] == [] and PAGE_ERRORS[standard] == []


async def test_bad_or_expired_token_is_refused_in_the_widget(chat_bridge: Bridge, browser: Any) -> None:
    from playwright.async_api import expect

    forged = portal_token.sign(GOLD, "someone-else-s-secret-of-32-bytes-or-more")
    expired = portal_token.sign(GOLD, SECRET, lifetime=60, now=datetime.now(VN_TZ).timestamp() - 7200)
    for token in (forged, expired):
        page = await shop(browser, SITE, token=token)
        await start_chat(page)
        await expect(page.get_by_role("alert")).to_contain_text("không hợp lệ hoặc đã hết hạn")
        await expect(page.get_by_test_id("chat-status")).to_contain_text("đã đóng")
    assert chat_bridge.webchat is not None and chat_bridge.webchat.service.chats == {}


async def test_callback_form_joins_the_worklist_in_tier_order(chat_bridge: Bridge, browser: Any) -> None:
    from playwright.async_api import expect

    b = chat_bridge
    base = f"http://127.0.0.1:{b.web_port}"
    today = datetime.now(VN_TZ).date().isoformat()

    async def ask(page: Any, number: str) -> None:
        await page.get_by_test_id("callback-open").click()
        await page.get_by_test_id("cb-number").fill(number)
        await page.get_by_test_id("cb-day").fill(today)
        await page.get_by_test_id("cb-from").select_option("00:00")  # from now (a window begun starts now)
        await page.get_by_test_id("cb-to").select_option("24:00")
        await page.get_by_test_id("cb-send").click()
        await expect(page.get_by_test_id("cb-msg")).to_have_attribute("data-done", "1", timeout=20000)

    # Standard first, then gold (known by the portal token).
    await ask(await shop(browser, SITE), "0333333333")
    await ask(await shop(browser, SITE, token=portal_token.sign(GOLD, SECRET)), "0912 777 666")

    assert b.sessions is not None
    async with b.sessions() as s:
        rows = list(await s.scalars(select(CallbackRequest).order_by(CallbackRequest.id)))
    assert [(r.customer_id, r.acd_tier, r.queue) for r in rows] == [
        (STANDARD, "standard", "mobile"),
        (GOLD, "gold", "mobile"),
    ]
    agent = await log_in(browser, base, "1001")
    items = agent.get_by_test_id("callback")
    await expect(items).to_have_count(2)
    assert await items.nth(0).get_attribute("data-number") == "+84912777666"  # asked later, served first
    assert await items.nth(1).get_attribute("data-number") == "+84333333333"
    assert watch_of(agent).errors == []
