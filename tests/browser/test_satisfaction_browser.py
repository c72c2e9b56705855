"""In headless Chromium: the agent's pop reads the repeat-contact note for a customer who called twice
this week (the last time, from another of their numbers, saying it was not solved), and the
supervisor's wallboard shows today's CSAT in its own satisfaction block."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from core.bus import BusEvent
from core.db import unit_of_work
from core.models import CallRecord
from core.survey_config import SurveyConfig
from core.vietnam import VN_TZ
from ivr.survey import SurveyAnswer
from ivr.survey_store import SurveyContext, SurveyStore
from tests.browser.support import log_in
from tongdai.app import Bridge

pytestmark = [pytest.mark.browser, pytest.mark.asterisk]

CFG = SurveyConfig.model_validate(
    {
        "enabled": True,
        "questions": [
            {"id": "csat", "prompt": "survey_csat"},
            {"id": "solved", "prompt": "survey_solved", "kind": "yes_no"},
        ],
    }
)


async def test_pop_repeat_note_and_wallboard_csat(bridge: Bridge, browser: Any) -> None:
    from playwright.async_api import expect

    assert bridge.sessions is not None
    now = datetime.now(UTC)
    earlier = [now - timedelta(days=4), now - timedelta(days=2)]
    one = {
        "customer_id": "KH0000000001",
        "queue": "internet",
        "agent_id": "1002",
        "ivr_path_text": "Báo hỏng",
    }
    rows = [
        CallRecord(
            call_id="rep-1", caller_number="0912345678", started_at=earlier[0], answered_at=earlier[0], **one
        ),
        CallRecord(
            call_id="rep-2", caller_number="0281234567", started_at=earlier[1], answered_at=earlier[1], **one
        ),
    ]
    async with unit_of_work(bridge.sessions) as s:
        s.add_all(rows)
    store = SurveyStore(bridge.sessions, now=lambda: earlier[1] + timedelta(minutes=5))
    ctx = SurveyContext("rep-2", "internet", "1002", "KH0000000001", "vi")
    await store.record(ctx, CFG, [SurveyAnswer("csat", 2, "answered"), SurveyAnswer("solved", 2, "answered")])
    today = SurveyStore(bridge.sessions)  # a survey asked just now: today's CSAT on the wallboard
    ctx_today = SurveyContext("rep-0", "internet", "1002", "KH0000000002", "vi")
    await today.record(
        ctx_today, CFG, [SurveyAnswer("csat", 5, "answered"), SurveyAnswer("solved", 1, "answered")]
    )

    base = f"http://127.0.0.1:{bridge.web_port}"
    agent = await log_in(browser, base, "1002")
    data = {
        "ringing_agent": "1002",
        "queue": "internet",
        "caller_number": "0912345678",
        "customer_id": "KH0000000001",
        "ivr_path_text": "Internet",
        "started_at": time.time(),
    }
    bridge.bus.publish(BusEvent("call.ringing", "rep-3", data))
    last = earlier[1].astimezone(VN_TZ).strftime("%d/%m")
    await expect(agent.get_by_test_id("pop-repeat")).to_have_text(
        f"Lần liên hệ thứ 3 trong 7 ngày — lần trước: {last}, Báo hỏng, chưa giải quyết", timeout=15000
    )
    bridge.bus.publish(BusEvent("call.ended", "rep-3", {**data, "disposition": "abandoned"}))

    wall = await log_in(browser, base, "9000", "/wallboard")
    bridge.bus.publish(BusEvent("survey.finished", "rep-0", {"queue": "internet"}))  # the board refreshes
    await expect(wall.get_by_test_id("kpi-csat")).to_contain_text("5,00", timeout=20000)
    await expect(wall.get_by_test_id("kpi-response_rate")).to_contain_text("100,0 %")
    await expect(wall.get_by_test_id("kpi-definitions")).to_contain_text("CSAT")
