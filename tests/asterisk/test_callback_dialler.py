"""The automatic callback dialler on the real Asterisk.

Two callback requests wait for the ``tv`` queue (a standard one, then a VIP one); its only agent, 1004,
logs in. The dialler calls the VIP first (Originate into ``tongdai-callback`` through the simulated
customers of ``tongdai-callsim-customer``); the customer answers, enters ``tv`` with the VIP priority,
and the agent's desktop pops that customer. A customer who never answers gets the request back in the
worklist with one attempt counted and a retry pause.
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from sqlalchemy import select

from core.ami import AmiClient
from core.models import AuditEntry
from tests.asterisk.acd_support import (
    QUEUE,
    STANDARD,
    VIP,
    acd_overrides,
    agent_entry,
    clear_queue,
    hang_up_all,
    listen,
    running_bridge,
)
from tests.asterisk.conftest import AsteriskSandbox, eventually
from tests.support.desktop import login, next_frame
from tongdai.app import Bridge

pytestmark = pytest.mark.asterisk

AGENT = "1004"
NEVER_ANSWERS = "0999000111"  # tongdai-simcustomer (the demo route): rings, never answers
ALWAYS_OPEN = {
    "weekly": {d: ["00:00-24:00"] for d in ("mon", "tue", "wed", "thu", "fri", "sat", "sun")},
    "country": None,  # no statutory days off either: the test runs on any date
}


def overrides() -> dict[str, Any]:
    return acd_overrides(
        [agent_entry(AGENT, "Đặng Văn Tú")],
        [{"agent": AGENT}],
        callbacks={
            "dialler": {
                "enabled": True,
                "ring_timeout": 5,
                "poll_seconds": 1,
                "hours": ALWAYS_OPEN,
            }
        },
    )


@pytest.fixture
async def clean(ami: AmiClient) -> Any:
    await hang_up_all(ami)
    await clear_queue(ami)
    yield
    await hang_up_all(ami)
    await clear_queue(ami)


async def status(b: Bridge, rid: int) -> tuple[str, str | None, int]:
    assert b.callbacks is not None
    v = await b.callbacks.get(rid)
    return v.status, v.outcome, v.attempts


@pytest.mark.usefixtures("clean")
async def test_vip_callback_is_dialled_first_and_pops_on_the_agents_desktop(
    asterisk_sandbox: AsteriskSandbox, ami: AmiClient, tmp_path: Path
) -> None:
    log = listen(ami)
    async with running_bridge(asterisk_sandbox, tmp_path, **overrides()) as b:
        assert b.callbacks is not None and b.dialler is not None
        std = await b.callbacks.record(
            STANDARD, "KH0000000003", "c-std", acd_tier="standard", priority=10, queue=QUEUE
        )
        vip = await b.callbacks.record(
            VIP, "KH0000000001", "c-vip", acd_tier="vip", priority=300, queue=QUEUE
        )
        assert [v.id for v in await b.callbacks.pending()] == [vip, std]
        assert await b.dialler.tick() == []  # nobody in tv is ready: nobody is called

        base = f"http://127.0.0.1:{b.web_port}"
        async with aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True)) as http:
            await login(http, base, AGENT, "demo-1001")
            async with http.ws_connect(f"{base}/ws", origin=base) as ws:
                await next_frame(ws, "hello")
                await b.agents.login(AGENT, [QUEUE])  # one agent ready: the dialler wakes

                pop = await next_frame(ws, "pop", timeout=30)
                assert pop["queue"] == QUEUE
                assert pop["customer"]["customer_id"] == "KH0000000001"
                joined = await log.wait_for("QueueCallerJoin", Queue=QUEUE)
                # The customer is in the queue as themselves, with the VIP's priority, on our call id.
                assert joined.get("CallerIDNum") == VIP
                assert joined.get("Linkedid") == pop["call_id"] and pop["call_id"].startswith(f"cb-{vip}-")
                await next_frame(ws, "answered", timeout=30)

        assert await eventually(lambda: _is(b, vip, ("done", "reached", 1)), timeout=20)
        # The agent is on the VIP's call: the standard request waits, untouched, its place kept.
        assert await status(b, std) == ("pending", None, 0)
        assert b.sessions is not None
        async with b.sessions() as s:
            actions = list(
                await s.scalars(
                    select(AuditEntry.action).where(
                        AuditEntry.subject_type == "callback", AuditEntry.subject_id == str(vip)
                    )
                )
            )
        assert actions == ["callback.dial", "callback.complete.reached"]


async def _is(b: Bridge, rid: int, want: tuple[str, str | None, int]) -> bool:
    return await status(b, rid) == want


@pytest.mark.usefixtures("clean")
async def test_an_unanswered_callback_returns_to_the_worklist_with_a_retry_pause(
    asterisk_sandbox: AsteriskSandbox, ami: AmiClient, tmp_path: Path
) -> None:
    log = listen(ami)
    async with running_bridge(asterisk_sandbox, tmp_path, **overrides()) as b:
        assert b.callbacks is not None and b.dialler is not None
        rid = await b.callbacks.record(
            NEVER_ANSWERS, None, "c-na", acd_tier="standard", priority=10, queue=QUEUE
        )
        await b.agents.login(AGENT, [QUEUE])
        response = await log.wait_for("OriginateResponse", timeout=30)
        assert response.get("Response") == "Failure"
        assert await eventually(lambda: _is(b, rid, ("pending", "no_answer", 1)), timeout=15)
        v = await b.callbacks.get(rid)
        assert v.claimed_by is None and v.not_before is not None and v.not_before > datetime.now(UTC)
        assert not log.matching("QueueCallerJoin", Queue=QUEUE)
        assert await b.dialler.tick() == []  # its retry pause holds it back
