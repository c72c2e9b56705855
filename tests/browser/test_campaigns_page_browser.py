"""The supervisors' campaigns page in headless Chromium on a real bridge without Asterisk (the dialler
is off: no AMI): a supervisor reaches it from the header, creates a campaign (a duplicate name is
refused, translated), uploads a CSV with one bad row (the row-numbered error shows, nothing imported),
then a good one, starts and pauses it (each change audited), sees the live figures and the detail
(refusals by rule, abandon rate against the cap, occupancy), downloads the CSV export, and stops the
campaign only once the confirmation is accepted. axe-core finds no serious violation; no page error,
nothing the policy refused. An agent is refused the page and has no link to it."""

from __future__ import annotations

import asyncio
import csv
import datetime as dt
import io
import os
import re
import tempfile
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import pytest
from sqlalchemy import select

from agent_desktop.i18n import CATALOGUE
from campaigns.amd import AmdSettings
from campaigns.models import CampaignAttempt, CampaignContact
from campaigns.store import NewCampaign
from core.models import AuditEntry
from core.vietnam import VN_TZ
from tests.browser.support import axe_violations, describe, log_in, watch_of
from tests.component.test_desktop_security import base, desk
from tongdai.app import Bridge

__all__ = ["desk"]  # the fixture, imported

pytestmark = [pytest.mark.browser]

# docs/screenshots/ only on request (TONGDAI_SCREENSHOTS=1), as in test_desktop_browser.py.
SHOTS = (
    Path(__file__).resolve().parents[2] / "docs" / "screenshots"
    if os.environ.get("TONGDAI_SCREENSHOTS")
    else Path(tempfile.mkdtemp(prefix="tongdai-shots-"))
)
VI, EN = CATALOGUE["vi"], CATALOGUE["en"]
CP = VI["cpage"]
NAME = "Gia hạn gói cước"
BAD_CSV = "number,name,priority\n0912345678,Nguyễn Văn An,5\nkhông-phải-số,Trần Bình,1\n"
GOOD_CSV = "number,name,priority\n0912345678,Nguyễn Văn An,5\n0987 654 321,Trần Thị Bình,1\n"


async def _audit(b: Bridge, cid: int) -> list[tuple[str, str, str]]:
    assert b.sessions is not None
    async with b.sessions() as s:
        rows = await s.scalars(
            select(AuditEntry).where(AuditEntry.subject_id == str(cid)).order_by(AuditEntry.id)
        )
        return [(r.actor, r.action, r.detail) for r in rows if r.action.startswith("campaign.")]


async def test_a_supervisor_runs_a_campaign_from_its_page(desk: Bridge, browser: Any) -> None:
    from playwright.async_api import expect

    assert desk.sessions is not None and desk.campaigns is not None
    url = base(desk)
    page = await log_in(browser, url, "9000")
    await page.get_by_role("link", name=CP["title"]).click()
    await page.wait_for_url(re.compile(r"/campaigns\?lang=vi$"))
    await page.wait_for_selector("#link.up", timeout=15000)
    await expect(page.get_by_test_id("camp-list")).to_contain_text(CP["none"])

    # Create: the browser's hints (required fields) first, then the API's word.
    form = page.get_by_test_id("camp-new")
    await form.get_by_label(CP["name"]).fill(NAME)
    await form.get_by_label(CP["queue"]).select_option("tv")
    await form.get_by_label(CP["window_start"]).fill("00:00")
    await form.get_by_label(CP["window_end"]).fill("23:59")
    await form.get_by_label(CP["dispositions"]).fill("gia hạn, từ chối")
    await form.get_by_label(CP["script"]).fill("Chào anh/chị, em gọi từ VNPT.")
    await form.get_by_label(CP["amd"]).check()
    await page.get_by_test_id("camp-create").click()
    await expect(page.get_by_test_id("camp-new-msg")).to_have_text(CP["created"].format(name=NAME))
    card = page.get_by_test_id("campaign")
    await expect(card).to_have_count(1)
    await expect(card.get_by_test_id("camp-state")).to_have_text(VI["cstates"]["draft"])
    cid = int(await card.get_attribute("data-id") or 0)
    made = await desk.campaigns.store.get(cid)
    assert (made.queue, made.purpose, made.mode, made.dispositions) == (
        "tv",
        "care",
        "progressive",
        ["gia hạn", "từ chối"],
    )
    assert made.amd == AmdSettings() and made.retry_minutes == {"no_answer": 60.0, "busy": 15.0}
    await expect(card).to_contain_text(CP["amd_on"])
    # The same name again: the API's id, translated.
    await form.get_by_label(CP["name"]).fill(NAME)
    await form.get_by_label(CP["window_start"]).fill("00:00")
    await page.get_by_test_id("camp-create").click()
    await expect(page.get_by_test_id("camp-new-msg")).to_contain_text(VI["errors"]["campaign.exists"])
    await expect(card).to_have_count(1)

    # A list with one bad row: refused whole, the row named by its number.
    upload = card.get_by_test_id("camp-upload")
    file_input = upload.get_by_label(CP["csv_file"])
    await file_input.set_input_files(
        files=[{"name": "bad.csv", "mimeType": "text/csv", "buffer": BAD_CSV.encode()}]
    )
    await upload.get_by_role("button", name=CP["import"]).click()
    msg = card.get_by_test_id("camp-msg")
    await expect(msg).to_contain_text(VI["errors"]["campaign.list_rejected"])
    bad = card.get_by_test_id("camp-bad-rows").locator("li")
    await expect(bad).to_have_count(1)
    await expect(bad).to_have_text(re.compile(r"^Dòng 3: number: "))  # the API's words after the row
    async with desk.sessions() as s:
        assert list(await s.scalars(select(CampaignContact).where(CampaignContact.campaign_id == cid))) == []
    found = await axe_violations(page, url)
    assert not found, describe(found)

    await file_input.set_input_files(
        files=[{"name": "good.csv", "mimeType": "text/csv", "buffer": GOOD_CSV.encode()}]
    )
    await upload.get_by_role("button", name=CP["import"]).click()
    await expect(msg).to_have_text(CP["imported"].format(added=2, merged=0, linked=2))
    await expect(card.get_by_test_id("camp-bad-rows")).to_have_count(0)
    contacts = {k.number: k for k in await desk.campaigns.store.contacts(cid)}
    assert sorted(contacts) == ["+84912345678", "+84987654321"]

    # Start, pause: the state on the page, each change in the audit log.
    actions = card.get_by_role("group", name=CP["controls"].format(name=NAME))
    await actions.get_by_role("button", name=CP["start"]).click()
    await expect(card.get_by_test_id("camp-state")).to_have_text(VI["cstates"]["running"])
    await expect(msg).to_have_text(CP["now"].format(state=VI["cstates"]["running"]))
    await expect(actions.get_by_role("button", name=CP["start"])).to_be_disabled()
    await actions.get_by_role("button", name=CP["pause"]).click()
    await expect(card.get_by_test_id("camp-state")).to_have_text(VI["cstates"]["paused"])
    assert (await desk.campaigns.store.get(cid)).state == "paused"

    # Calls as the dialler would have recorded them: the live figures follow within a refresh.
    an, binh = contacts["+84912345678"], contacts["+84987654321"]
    now = dt.datetime.now(dt.UTC)
    attempts = [
        (an, "reached", None, True, "1001"),
        (binh, "reached", None, False, ""),  # answered, no agent in time: abandoned
        (binh, "machine", None, False, ""),
        (an, "refused", "outside_window", False, ""),
    ]
    async with desk.sessions() as s, s.begin():
        for k, outcome, reason, connected, agent in attempts:
            s.add(
                CampaignAttempt(
                    campaign_id=cid, contact_id=k.id, number=k.number, purpose="care", at=now,
                    outcome=outcome, reason=reason, connected=connected, agent_id=agent,
                )
            )  # fmt: skip
    figures = card.get_by_test_id("camp-figures")
    want = {"dialled": "3", "answered": "2", "connected": "1", "abandoned": "1", "machines": "1"}
    want["refused"] = "1"
    for k, v in want.items():
        await expect(figures.locator(f'[data-k="{k}"]')).to_have_text(v, timeout=15000)
    rate = figures.locator('[data-k="abandon_rate"]')
    await expect(rate).to_contain_text("50,0 %")
    await expect(rate).to_contain_text(CP["over_cap"])  # 50 % against the 3 % cap
    await expect(rate).to_have_class("error")
    await card.get_by_text(CP["detail"], exact=True).click()
    refusals = card.get_by_test_id("camp-refusals")
    await expect(refusals.locator("tr[data-reason=outside_window] th")).to_have_text(
        VI["refusals"]["outside_window"]
    )
    await expect(refusals.locator("tr[data-reason=outside_window] td")).to_have_text("1")
    await expect(card.get_by_test_id("camp-abandon")).to_have_text(
        CP["abandon_line"].format(abandoned=1, answered=2, rate="50,0 %", cap="3,0 %")
    )
    found = await axe_violations(page, url)
    assert not found, describe(found)
    await page.screenshot(path=str(SHOTS / "campaigns.png"), full_page=True)

    # A past period (Việt Nam time): none of today's calls; the exports follow the period; Live again.
    vn_now = now.astimezone(VN_TZ)
    since = (vn_now - dt.timedelta(days=2)).strftime("%Y-%m-%dT%H:%M")
    until = (vn_now - dt.timedelta(days=1)).strftime("%Y-%m-%dT%H:%M")
    period = page.get_by_test_id("camp-period")
    await period.get_by_label(CP["since"]).fill(since)
    await period.get_by_label(CP["until"]).fill(until)
    await period.get_by_role("button", name=CP["apply_period"]).click()
    await expect(figures.locator('[data-k="dialled"]')).to_have_text("0")
    query = urlencode({"since": since, "until": until})
    await expect(card.get_by_test_id("camp-csv")).to_have_attribute(
        "href", f"/api/campaigns/{cid}/outcomes.csv?{query}"
    )
    await expect(page.get_by_test_id("camp-updated")).to_have_text(
        CP["period_shown"].format(since=since, until=until)
    )
    await period.get_by_role("button", name=CP["live"]).click()
    await expect(figures.locator('[data-k="dialled"]')).to_have_text("3")
    await expect(card.get_by_test_id("camp-csv")).to_have_attribute(
        "href", f"/api/campaigns/{cid}/outcomes.csv"
    )

    # The CSV export, as downloaded from the page.
    async with page.expect_download() as got:
        await card.get_by_test_id("camp-csv").click()
    download = await got.value
    assert download.suggested_filename == f"campaign-{cid}-outcomes.csv"
    text = (await download.path()).read_text(encoding="utf-8-sig")
    rows = list(csv.DictReader(io.StringIO(text)))
    assert len(rows) == 4, rows
    by = sorted((r["name"], r["outcome"], r["reason"], r["connected"]) for r in rows)
    assert by == [
        ("Nguyễn Văn An", "reached", "", "yes"),
        ("Nguyễn Văn An", "refused", "outside_window", "no"),
        ("Trần Thị Bình", "machine", "", "no"),
        ("Trần Thị Bình", "reached", "", "no"),
    ], by
    xlsx = card.get_by_test_id("camp-xlsx")
    await expect(xlsx).to_have_attribute("href", f"/api/campaigns/{cid}/outcomes.xlsx")

    # Stop asks first: dismissed, nothing changes; accepted, the campaign stops for good.
    page.once("dialog", lambda d: d.dismiss())
    await actions.get_by_role("button", name=CP["stop"]).click()
    await expect(msg).not_to_have_text(CP["now"].format(state=VI["cstates"]["stopped"]))
    assert (await desk.campaigns.store.get(cid)).state == "paused"
    page.once("dialog", lambda d: d.accept())
    await actions.get_by_role("button", name=CP["stop"]).click()
    await expect(card.get_by_test_id("camp-state")).to_have_text(VI["cstates"]["stopped"])
    await expect(card.get_by_test_id("camp-upload")).to_have_count(0)

    audit = await _audit(desk, cid)
    export = audit.pop(4)  # its detail ends with the window, the time of the test
    assert export[:2] == ("9000", "campaign.export") and export[2].startswith("csv, 4 rows, "), export
    assert audit == [
        ("9000", "campaign.create", f"{NAME} (care)"),
        ("9000", "campaign.import", "2 added, 0 merged, 2 linked"),
        ("9000", "campaign.start", "draft → running"),
        ("9000", "campaign.pause", "running → paused"),
        ("9000", "campaign.stop", "paused → stopped"),
    ]
    watch = watch_of(page)
    assert watch.errors == [] and watch.csp == [], (watch.errors, watch.csp)


async def test_an_agent_is_refused_the_campaigns_page(desk: Bridge, browser: Any) -> None:
    from playwright.async_api import expect

    page = await log_in(browser, base(desk), "1001")
    await expect(page.get_by_role("link", name=CP["title"])).to_have_count(0)
    response = await page.goto(f"{base(desk)}/campaigns")
    assert response is not None and response.status == 403
    assert "supervisors only" in await page.content()


async def test_contacts_from_a_crm_query_in_english(desk: Bridge, browser: Any) -> None:
    from playwright.async_api import expect

    assert desk.campaigns is not None
    store = desk.campaigns.store
    c = await store.create(
        NewCampaign(
            name="Care", queue="tv", purpose="care", mode="progressive", script="",
            dispositions=[], window_start=dt.time(8, 0), window_end=dt.time(20, 0),
        ),
        "9000",
    )  # fmt: skip
    page = await log_in(browser, base(desk), "9000", "/campaigns", lang="en")
    cp = EN["cpage"]
    card = page.locator(f'[data-testid=campaign][data-id="{c.id}"]')
    await expect(card.get_by_test_id("camp-state")).to_have_text(EN["cstates"]["draft"])
    await card.get_by_text(cp["crm"], exact=True).click()
    query = card.get_by_test_id("camp-crm")
    await expect(query.get_by_role("checkbox", name=EN["tier_names"]["large"])).to_be_visible()
    # A contract window that ends before it starts: the API's refusal, translated, its words kept.
    await query.get_by_label(cp["contract_from"]).fill("2027-06-01")
    await query.get_by_label(cp["contract_until"]).fill("2027-01-01")
    await query.get_by_role("button", name=cp["build"]).click()
    msg = card.get_by_test_id("camp-msg")
    await expect(msg).to_contain_text(EN["errors"]["request.invalid"])
    await expect(msg).to_contain_text("contract_ends_until must not be before contract_ends_from")
    await query.get_by_label(cp["contract_from"]).fill("")
    await query.get_by_label(cp["contract_until"]).fill("")
    await query.get_by_label(cp["provinces"]).fill("Hà Nội")
    await query.get_by_label(cp["priority"]).fill("5")
    await query.get_by_role("button", name=cp["build"]).click()
    await expect(msg).to_have_text(cp["built"].format(matched=2, added=2, merged=0))
    contacts = await store.contacts(c.id)
    assert len(contacts) == 2 and {k.priority for k in contacts} == {5}
    assert all(k.customer_id for k in contacts)
    # The check boxes reach the query (the audit names the filters given).
    await query.get_by_role("checkbox", name=EN["tier_names"]["large"]).check()
    await query.get_by_role("checkbox", name=EN["segments"]["vip"]).check()
    await query.get_by_role("button", name=cp["build"]).click()
    deadline = asyncio.get_running_loop().time() + 10
    while len(audit := await _audit(desk, c.id)) < 2:
        assert asyncio.get_running_loop().time() < deadline, audit
        await asyncio.sleep(0.05)
    await expect(msg).to_contain_text(re.compile(r"^\d+ customers matched"))
    assert audit[-1][1] == "campaign.import", audit
    assert audit[-1][2].startswith("CRM query (tiers=large provinces=Hà Nội segments=vip)"), audit
    await card.get_by_text(cp["detail"], exact=True).click()
    await expect(card.get_by_test_id("camp-contacts")).to_have_text(
        f"{EN['contact_states']['pending']}: 2", timeout=15000
    )
    # Advertising from 07:00 breaks Decree 91/2020: the API's refusal, translated, its words kept.
    form = page.get_by_test_id("camp-new")
    await form.get_by_label(cp["name"]).fill("Khuyến mãi")
    await form.get_by_label(cp["purpose"]).select_option("advertising")
    await form.get_by_label(cp["window_start"]).fill("07:00")
    await page.get_by_test_id("camp-create").click()
    new_msg = page.get_by_test_id("camp-new-msg")
    await expect(new_msg).to_contain_text(EN["errors"]["campaign.invalid"])
    await expect(new_msg).to_contain_text("08:00")
    await expect(page.get_by_test_id("campaign")).to_have_count(1)
    found = await axe_violations(page, base(desk))
    assert not found, describe(found)
    watch = watch_of(page)
    assert watch.errors == [] and watch.csp == [], (watch.errors, watch.csp)
