"""Preview dialling in headless Chromium on a real bridge without Asterisk (the agent's state from
app_queue's member events handed to the ACD's real handler): the ready agent clicks Next contact, the
card shows the contact and the script and the pop the customer's profile; Skip offers the next one;
Dial records the attempt and asks click-to-call, which cannot place it on this node (no Asterisk: the
translated error shows), so the agent records the outcome "not placed" in the campaign form; the
contact goes back to the list, not counted as an attempt. No page error, nothing the policy refused,
and axe-core finds no serious violation with the offer on screen."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from sqlalchemy import select

from agent_desktop.i18n import CATALOGUE
from campaigns.lists import ListEntry
from campaigns.models import CampaignAttempt
from campaigns.store import NewCampaign
from tests.browser.support import axe_violations, describe, log_in, watch_of
from tests.component.test_campaign_preview_api import ready
from tests.component.test_desktop_security import base, desk
from tongdai.app import Bridge

__all__ = ["desk"]  # the fixture, imported

pytestmark = [pytest.mark.browser]

VI = CATALOGUE["vi"]
SCRIPT = "Chào anh/chị, em gọi từ VNPT về gói cước <b>mới</b>."


async def test_an_agent_previews_skips_and_dials_from_the_desktop(desk: Bridge, browser: Any) -> None:
    from playwright.async_api import expect

    assert desk.campaigns is not None and desk.sessions is not None
    store = desk.campaigns.store
    c = await store.create(
        NewCampaign(
            name="Xem trước", queue="tv", purpose="care", mode="preview", script=SCRIPT,
            dispositions=["renewed"], window_start=dt.time(0, 0), window_end=dt.time(23, 59),
        ),
        "9000",
    )  # fmt: skip
    entries = [
        ListEntry("+84987654321", 5, "", "KH0000000002", (2,)),
        ListEntry("+84333333333", 1, "", "KH0000000003", (3,)),
    ]
    await store.import_list(c.id, entries, {})
    await store.control(c.id, "start")
    await ready(desk, "1001")
    page = await log_in(browser, base(desk), "1001")
    watch = watch_of(page)

    await page.get_by_test_id("preview-next").click()
    offer = page.get_by_test_id("preview-offer")
    await expect(page.get_by_test_id("preview-number")).to_have_text("0987654321")
    await expect(page.get_by_test_id("preview-script")).to_have_text(SCRIPT)  # text, not markup
    assert await offer.get_by_test_id("preview-script").locator("b").count() == 0
    await expect(page.get_by_test_id("pop-name")).to_have_text("Trần Thị Bình")  # the full profile
    found = await axe_violations(page, base(desk))
    assert not found, describe(found)

    await page.get_by_test_id("preview-skip").click()
    await expect(page.get_by_test_id("preview-number")).to_have_text("0333333333")
    await expect(page.get_by_test_id("pop-name")).to_have_text("Lê Văn Cường")  # in place of Bình's
    await page.get_by_test_id("preview-dial").click()
    # This node has no Asterisk: click-to-call is refused, in the agent's language.
    await expect(page.get_by_test_id("preview-msg")).to_contain_text(VI["desk"]["error"])
    await expect(page.get_by_test_id("campaign-dispo-form")).to_be_visible()
    await page.get_by_test_id("campaign-outcome").select_option("failed")
    await page.get_by_test_id("campaign-dispo-save").click()
    await expect(page.get_by_test_id("preview-msg")).to_have_text(VI["campaigns"]["saved"])
    await expect(page.get_by_test_id("campaign-wrap")).to_be_hidden()
    await expect(page.get_by_test_id("pop-name")).to_have_text("Lê Văn Cường")  # kept through the call

    by_number = {k.number: k for k in await store.contacts(c.id)}
    cuong = by_number["+84333333333"]
    assert (cuong.state, cuong.last_outcome, cuong.attempts) == ("pending", "failed", 0)
    assert by_number["+84987654321"].state == "pending"  # skipped: back on the list
    async with desk.sessions() as s:
        outcomes = [(a.contact_id, a.outcome, a.agent_id) for a in await s.scalars(select(CampaignAttempt))]
    assert outcomes == [(cuong.id, "failed", "1001")]
    assert watch.errors == [] and watch.csp == [], (watch.errors, watch.csp)
