"""The supervisors' data-rights page in headless Chromium on a real bridge without Asterisk: a consent
withdrawn by phone is recorded and listed with its source; the export downloads one ZIP holding every
item of the demo customer; the erasure, once confirmed, removes the personal fields while the billing
rows remain. An agent is refused the page. axe-core finds no serious violation; no page error."""

from __future__ import annotations

import json
import zipfile
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select

from agent_desktop.i18n import CATALOGUE
from crm_bridge.models import Customer, MonthlyRevenue, Subscription
from tests.browser.support import axe_violations, describe, log_in, watch_of
from tests.component.test_desktop_security import base, desk
from tongdai.app import Bridge

__all__ = ["desk"]  # the fixture, imported

pytestmark = [pytest.mark.browser]
R = CATALOGUE["vi"]["rights"]
CID = "KH0000000001"


async def _billing(b: Bridge) -> tuple[int, int]:
    assert b.sessions is not None
    async with b.sessions() as s:
        subs = await s.scalar(
            select(func.count()).select_from(Subscription).where(Subscription.customer_id == CID)
        )
        bills = await s.scalar(
            select(func.count())
            .select_from(MonthlyRevenue)
            .join(Subscription, Subscription.id == MonthlyRevenue.subscription_id)
            .where(Subscription.customer_id == CID)
        )
    return int(subs or 0), int(bills or 0)


async def test_a_supervisor_exports_and_erases_a_customer(desk: Bridge, browser: Any, tmp_path: Path) -> None:
    from playwright.async_api import expect

    url = base(desk)
    page = await log_in(browser, url, "9000")
    await page.get_by_role("link", name=R["title"]).click()
    await page.wait_for_url(f"{url}/data-rights?lang=vi")
    await page.wait_for_selector("#link.up", timeout=15000)

    consent = page.get_by_test_id("consent-form")
    await consent.get_by_test_id("consent-customer").fill(CID)
    await consent.get_by_test_id("consent-which").select_option("marketing")
    await consent.get_by_test_id("consent-granted").select_option("false")
    await consent.get_by_test_id("consent-source").select_option("phone")
    await consent.get_by_test_id("consent-note").fill("Khách gọi 1090 rút đồng ý")
    await consent.get_by_test_id("consent-granted").select_option("true")
    await page.get_by_test_id("consent-save").click()
    await expect(page.get_by_test_id("consent-msg")).to_have_text(R["consent_saved"])
    await consent.get_by_test_id("consent-granted").select_option("false")
    await page.get_by_test_id("consent-save").click()
    rows = page.get_by_test_id("consent-row")
    await expect(rows).to_have_count(2)
    await expect(rows.first).to_contain_text(R["sources"]["phone"])
    await expect(rows.first).to_contain_text(R["no"])

    form = page.get_by_test_id("rights-form")
    await form.get_by_test_id("rights-customer").fill(CID)
    await form.get_by_test_id("rights-reason").fill("Đơn yêu cầu số 12")
    async with page.expect_download() as dl:
        await page.get_by_test_id("rights-export").click()
    target = tmp_path / "export.zip"
    await (await dl.value).save_as(target)
    with zipfile.ZipFile(target) as z:
        files = {n: json.loads(z.read(n)) for n in z.namelist()}
    subs, bills = await _billing(desk)
    assert subs and bills
    assert files["profile.json"][0]["full_name"] == "Nguyễn Văn An"
    assert len(files["subscriptions.json"]) == subs and len(files["bills.json"]) == bills
    assert [c["consent"] for c in files["consent_log.json"]] == ["marketing", "marketing"]
    assert files["manifest.json"]["reason"] == "Đơn yêu cầu số 12"
    await expect(page.get_by_test_id("rights-msg")).to_have_text(R["exported"].format(id=CID))

    # The erasure asks first: dismissed, nothing happens; accepted, it runs.
    page.once("dialog", lambda d: d.dismiss())
    await page.get_by_test_id("rights-erase").click()
    assert desk.sessions is not None
    async with desk.sessions() as s:
        assert (await s.get(Customer, CID)).full_name == "Nguyễn Văn An"  # type: ignore[union-attr]
    page.once("dialog", lambda d: d.accept())
    await page.get_by_test_id("rights-erase").click()
    await expect(page.get_by_test_id("rights-msg")).to_have_text(
        R["erased"].format(id=CID, recordings=0, kept=0)
    )
    async with desk.sessions() as s:
        c = await s.get(Customer, CID)
        assert c is not None and "Nguyễn" not in c.full_name and c.id_number is None and c.addresses == []
    assert await _billing(desk) == (subs, bills)  # billing rows remain

    violations = await axe_violations(page, url)
    assert not violations, describe(violations)
    assert not watch_of(page).errors and not watch_of(page).csp, (watch_of(page).errors, watch_of(page).csp)
    await page.context.close()

    agent = await log_in(browser, url, "1001")
    r = await agent.goto(f"{url}/data-rights")
    assert r is not None and r.status == 403
    await expect(agent.get_by_role("link", name=R["title"])).to_have_count(0)
    await agent.context.close()
