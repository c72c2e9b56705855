"""The desktop's callback worklist in headless Chromium against the real Asterisk: the list is in tier
order, "Call back" claims the request and dials the customer through click-to-call (the customer's leg
comes up in Asterisk), and the saved outcome closes the request, audited."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import select

from core.ami import AmiClient
from core.models import AuditEntry
from tests.asterisk.conftest import eventually
from tests.browser.support import axe_violations, describe, log_in, watch_of
from tests.browser.test_desktop_browser import hang_up_all
from tongdai.app import Bridge

pytestmark = [pytest.mark.browser, pytest.mark.asterisk]


async def test_agent_calls_back_the_vip_first_from_the_desktop(
    bridge: Bridge, ami: AmiClient, browser: Any
) -> None:
    from playwright.async_api import expect

    assert bridge.callbacks is not None and bridge.sessions is not None
    prio = bridge.policy.initial_priority
    std = await bridge.callbacks.record(
        "0281234567", None, "c-std", acd_tier="standard", priority=prio("standard")
    )
    vip = await bridge.callbacks.record(
        "0912345678", "KH0000000001", "c-vip", acd_tier="vip", priority=prio("vip")
    )
    base = f"http://127.0.0.1:{bridge.web_port}"
    try:
        page = await log_in(browser, base, "1001")
        rows = page.get_by_test_id("callback")
        await expect(rows).to_have_count(2)
        assert await rows.nth(0).get_attribute("data-id") == str(vip)  # asked later, served first
        assert await rows.nth(1).get_attribute("data-id") == str(std)
        await rows.nth(0).locator("button[data-act=call]").click()

        async def customer_leg() -> list[dict[str, str]]:
            resp = await ami.action("CoreShowChannels", multi=True, timeout=10)
            return [
                dict(e.headers)
                for e in resp.events
                if e.name == "CoreShowChannel"
                and e.get("Context") == "tongdai-simcustomer"
                and e.get("Exten") == "0912345678"
                and e.get("ChannelStateDesc") == "Up"
            ]

        await eventually(customer_leg, timeout=15)
        await expect(page.get_by_test_id("callbacks-msg")).to_contain_text("0912345678")
        mine = page.locator(f'[data-testid=callback][data-id="{vip}"]')
        await expect(mine).to_have_attribute("data-status", "claimed")
        # The worklist with my claim (its outcome select, its buttons) passes axe-core.
        found = await axe_violations(page, base)
        assert not found, describe(found)
        await mine.get_by_test_id("callback-outcome").select_option("reached")
        await mine.locator("button[data-act=complete]").click()
        await expect(rows).to_have_count(1)

        done = await bridge.callbacks.get(vip)
        assert (done.status, done.outcome, done.attempts, done.claimed_by) == ("done", "reached", 1, "1001")
        async with bridge.sessions() as s:
            audit = [
                (r.actor, r.action)
                for r in await s.scalars(select(AuditEntry).where(AuditEntry.subject_id == str(vip)))
            ]
        assert ("1001", "callback.claim") in audit and ("1001", "callback.complete.reached") in audit
        assert watch_of(page).errors == [] and watch_of(page).csp == []
    finally:
        await hang_up_all(ami)
