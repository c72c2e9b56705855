"""A campaign call's pop in headless Chromium against the real Asterisk: the ``tv`` queue's agent
1004 has the desktop open; a care campaign is started; the dialler calls Nguyễn Văn An, who answers,
and the agent's pop shows him with the campaign's name and script; the agent picks one of the
campaign's dispositions in the pop's form and saves it against the contact."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from campaigns.component import customer_of
from campaigns.importer import import_csv
from campaigns.store import NewCampaign
from core.ami import AmiClient
from tests.asterisk.acd_support import (
    QUEUE,
    acd_overrides,
    agent_entry,
    clear_queue,
    hang_up_all,
    running_bridge,
)
from tests.asterisk.conftest import AsteriskSandbox, eventually
from tests.asterisk.test_campaign_dialler import vn_clock
from tests.browser.support import new_page

pytestmark = [pytest.mark.browser, pytest.mark.asterisk]

AGENT = "1004"
SCRIPT = "Chào anh An, VNPT gọi để gia hạn hợp đồng Internet <b>không</b> tốn phí."


async def test_the_agents_pop_shows_the_campaign_script(
    asterisk_sandbox: AsteriskSandbox, ami: AmiClient, browser: Any, tmp_path: Path
) -> None:
    from playwright.async_api import expect

    await hang_up_all(ami)
    await clear_queue(ami)
    over = acd_overrides(
        [agent_entry(AGENT, "Đặng Văn Tú")],
        [{"agent": AGENT}],
        campaigns={"dialler": True, "ring_timeout": 5},
    )
    try:
        async with running_bridge(asterisk_sandbox, tmp_path, **over) as b:
            c = b.campaigns
            assert c is not None and c.dialler is not None and b.directory is not None
            c.dialler.clock = vn_clock(10, 0)
            v = await c.store.create(
                NewCampaign(
                    name="Gia hạn Internet", queue=QUEUE, purpose="care", script=SCRIPT,
                    dispositions=["renewed", "declined"],
                ),
                "9000",
            )  # fmt: skip
            await import_csv(c.store, customer_of(b.directory), v.id, "number\n0912345678\n", max_rows=10)
            base = f"http://127.0.0.1:{b.web_port}"
            page, watch = await new_page(browser)
            await page.goto(f"{base}/login")
            await page.fill("input[name=agent]", AGENT)
            await page.fill("input[name=password]", "demo-1001")  # agent_entry's password
            await page.click("button[type=submit]")
            await page.wait_for_url(f"{base}/")
            await page.wait_for_selector("#link.up", timeout=15000)  # the websocket is up
            await b.agents.login(AGENT, [QUEUE])
            await c.store.control(v.id, "start")
            c.dialler.wake()

            await expect(page.get_by_test_id("pop-name")).to_have_text("Nguyễn Văn An", timeout=30000)
            campaign = page.get_by_test_id("pop-campaign")
            await expect(campaign).to_contain_text("Chiến dịch: Gia hạn Internet")
            # The script is text: markup in it is shown, never interpreted.
            await expect(page.get_by_test_id("pop-script")).to_have_text(SCRIPT)
            assert await campaign.locator("b").count() == 0

            # The campaign's own dispositions, saved once the dialler recorded the answered call.
            form = page.get_by_test_id("campaign-dispo-form")
            await expect(form).to_be_visible()
            await page.get_by_test_id("campaign-dispo").select_option("declined")

            async def recorded() -> bool:
                return any(k.last_outcome == "reached" for k in await c.store.contacts(v.id))

            assert await eventually(recorded, timeout=30)
            await page.get_by_test_id("campaign-dispo-save").click()
            await expect(page.get_by_test_id("campaign-wrap")).to_be_hidden()
            [contact] = await c.store.contacts(v.id)
            assert (contact.disposition, contact.state) == ("declined", "done")
            assert watch.errors == [] and watch.csp == []
    finally:
        await hang_up_all(ami)
        await clear_queue(ami)
