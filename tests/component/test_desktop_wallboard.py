"""The wallboard on a real bridge: figures pushed to the supervisor within 1 s of each event, and
exactly what an independent recomputation from the stored ``calls`` rows gives."""

from __future__ import annotations

import asyncio
import json
from datetime import UTC, datetime, timedelta
from datetime import time as dt_time
from statistics import mean
from typing import Any

import aiohttp
import pytest
from sqlalchemy import select

from core.ami import AmiEvent
from core.bus import BusEvent
from core.models import CallRecord
from core.vietnam import VN_TZ
from tests.component.test_desktop_security import TOKEN, base, client, desk, feed_call
from tests.support.desktop import login, next_frame
from tongdai.app import Bridge

__all__ = ["desk"]  # the fixture, imported


class Clock:
    """The bridge's clock (its tracker's, which the wallboard reads too), pinned to 10:00 yesterday in
    Asia/Ho_Chi_Minh: the scenario's minutes never cross a Việt Nam midnight, whatever time CI runs."""

    def __init__(self) -> None:
        yesterday = datetime.now(VN_TZ).date() - timedelta(days=1)
        self.t = datetime.combine(yesterday, dt_time(10, 0), tzinfo=VN_TZ).timestamp()

    def __call__(self) -> float:
        return self.t


async def wallboard_until(
    ws: aiohttp.ClientWebSocketResponse, pred: Any, timeout: float = 1.0
) -> dict[str, Any]:
    """The first wallboard frame satisfying ``pred`` within ``timeout`` seconds (the 1 s promise)."""
    async with asyncio.timeout(timeout):
        while True:
            f = json.loads((await ws.receive()).data)
            if f["type"] == "wallboard" and pred(f):
                return f


def q(frame: dict[str, Any], name: str, key: str = "queues") -> dict[str, Any]:
    return next(x for x in frame[key] if x["name"] == name)


async def test_wallboard_live_and_exact(desk: Bridge) -> None:
    clock = Clock()
    desk.tracker._now = clock  # the tracker's clock drives every timestamp of these calls
    async with client() as http:
        await login(http, base(desk), "9000", "demo-9000")
        async with http.get(f"{base(desk)}/wallboard") as r:
            assert r.status == 200 and "svg" not in (await r.text())  # the chart is drawn client-side
        async with http.ws_connect(f"{base(desk)}/ws", origin=base(desk)) as ws:
            await next_frame(ws, "hello")
            first = await next_frame(ws, "wallboard")
            assert q(first, "mobile")["offered"] == 0

            # 1) a caller waits: "waiting" goes to 1 within a second.
            t = desk.tracker
            await t.handle(
                AmiEvent(
                    "Newchannel",
                    {
                        "Linkedid": "w1",
                        "Uniqueid": "w1.c",
                        "Context": "tongdai-hotline",
                        "Exten": "18001090",
                        "CallerIDNum": "0912345678",
                    },
                )
            )
            t.annotate("w1", acd_tier="gold", queue="internet")
            await t.handle(AmiEvent("QueueCallerJoin", {"Linkedid": "w1", "Queue": "internet"}))
            f = await wallboard_until(ws, lambda f: q(f, "internet")["waiting"] == 1)
            assert q(f, "gold", "tiers")["waiting"] == 1

            # 2) calls answered fast, answered slowly (beyond 20 s), abandoned, in two queues.
            await feed_call(desk, "c1", "1001", hangup=False)
            clock.t += 120
            await t.handle(AmiEvent("Hangup", {"Linkedid": "c1", "Uniqueid": "c1.caller"}))
            await feed_call(desk, "c2", "1001", answer=False, hangup=False, tier="standard")
            clock.t += 35
            await t.handle(
                AmiEvent(
                    "AgentConnect",
                    {
                        "Linkedid": "c2",
                        "Queue": "mobile",
                        "MemberName": "1001",
                        "Interface": "Local/1001@tongdai-agents/n",
                    },
                )
            )
            clock.t += 60
            await t.handle(AmiEvent("Hangup", {"Linkedid": "c2", "Uniqueid": "c2.caller"}))
            await feed_call(desk, "c3", "1002", answer=False, hangup=False, tier="standard")
            clock.t += 12
            await t.handle(AmiEvent("QueueCallerAbandon", {"Linkedid": "c3", "Queue": "mobile"}))
            await t.handle(AmiEvent("Hangup", {"Linkedid": "c3", "Uniqueid": "c3.caller"}))
            # 3) the waiting caller is answered by 1002 after 170 s and ends.
            clock.t += 5
            await t.handle(
                AmiEvent(
                    "AgentConnect",
                    {
                        "Linkedid": "w1",
                        "Queue": "internet",
                        "MemberName": "1002",
                        "Interface": "Local/1002@tongdai-agents/n",
                    },
                )
            )
            clock.t += 30
            await t.handle(AmiEvent("Hangup", {"Linkedid": "w1", "Uniqueid": "w1.c"}))
            # An agent state event from the acd's service moves the agents table.
            desk.bus.publish(
                BusEvent(
                    "agent.state",
                    "",
                    {
                        "agent_id": "1003",
                        "status": "paused",
                        "reason": "lunch",
                        "since": clock.t - 90,
                        "queues": ["tv"],
                    },
                )
            )

            def settled(f: dict[str, Any]) -> bool:
                a = {x["agent_id"]: x for x in f["agents"]}
                return (
                    q(f, "mobile")["answered"] == 2
                    and q(f, "mobile")["abandoned"] == 1
                    and q(f, "internet")["answered"] == 1
                    and q(f, "internet")["aht"] is not None
                    and a["1003"]["status"] == "paused"
                )

            snap = await wallboard_until(ws, settled, timeout=2.0)

    await desk.bus.drain()
    assert desk.sessions is not None
    async with desk.sessions() as s:
        rows = list(await s.scalars(select(CallRecord)))
    assert len(rows) == 4

    # Independent recomputation from the call records (SL = answered within 20 s / (answered + abandoned)).
    for name in ("mobile", "internet"):
        mine = [r for r in rows if r.queue == name and r.queued_at is not None]
        answered = [r for r in mine if r.answered_at is not None]
        abandoned = [r for r in mine if r.answered_at is None]
        in_sl = [r for r in answered if (r.wait_seconds or 0) <= 20]
        got = q(snap, name)
        assert got["answered"] == len(answered)
        assert got["abandoned"] == len(abandoned)
        assert got["answered_in_sl"] == len(in_sl)
        assert got["sl"] == pytest.approx(round(len(in_sl) / (len(answered) + len(abandoned)), 4))
        assert got["asa"] == pytest.approx(round(mean(r.wait_seconds or 0 for r in answered), 2))
        assert got["aht"] == pytest.approx(round(mean(r.talk_seconds or 0 for r in answered), 2))
        assert got["waiting"] == 0
    # Per tier, each against its own target (acd.tiers[].target_seconds).
    targets = {t.name: t.target_seconds for t in desk.settings.acd.tiers}
    for tier in {r.acd_tier or "standard" for r in rows}:
        mine = [r for r in rows if (r.acd_tier or "standard") == tier]
        answered = [r for r in mine if r.answered_at is not None]
        in_sl = [r for r in answered if (r.wait_seconds or 0) <= targets[tier]]
        got = q(snap, tier, "tiers")
        assert got["sl_target"] == targets[tier]
        assert (got["answered"], got["abandoned"]) == (len(answered), len(mine) - len(answered))
        assert got["answered_in_sl"] == len(in_sl)
        if answered:
            assert got["asa"] == pytest.approx(round(mean(r.wait_seconds or 0 for r in answered), 2))
    # Per half-hour of queue entry (Asia/Ho_Chi_Minh), as the chart draws them.
    slots: dict[str, int] = {}
    for r in rows:
        assert r.queued_at is not None
        t = r.queued_at.replace(tzinfo=r.queued_at.tzinfo or UTC).astimezone(VN_TZ)
        slot = f"{t.hour:02d}:{0 if t.minute < 30 else 30:02d}"
        slots[slot] = slots.get(slot, 0) + 1
    assert {h["slot"]: h["offered"] for h in snap["halfhours"]} == slots
    # A bridge restarted on the same database seeds the same figures from the calls table.
    st = desk.settings
    agi = st.asterisk.agi.model_copy(update={"port": 0})
    web = st.web.model_copy(update={"port": 0})
    ast = st.asterisk.model_copy(update={"agi": agi})
    again = Bridge(st.model_copy(update={"web": web, "asterisk": ast}))
    again.tracker._now = clock  # its wallboard seeds "today" by the same clock
    await again.start(connect_ami=False)
    try:
        async with (
            aiohttp.ClientSession() as api,
            api.get(
                f"http://127.0.0.1:{again.web_port}/api/queues/stats",
                headers={"Authorization": f"Bearer {TOKEN}"},
            ) as r,
        ):
            seeded = await r.json()
    finally:
        await again.stop()
    for key in ("queues", "tiers", "halfhours"):
        assert seeded[key] == snap[key], key
    assert q(snap, "mobile")["sl"] == pytest.approx(0.3333)  # c1 in SL, c2 (35 s) late, c3 abandoned
    assert q(snap, "mobile")["aht"] == pytest.approx(90.0)  # (120 + 60) / 2
    # Per tier: vip (c1) 1 answered in its target; standard: c2 answered late + c3 abandoned.
    assert q(snap, "standard", "tiers")["answered"] == 1 and q(snap, "standard", "tiers")["abandoned"] == 1
    agents = {a["agent_id"]: a for a in snap["agents"]}
    assert agents["1003"]["reason"] == "lunch" and agents["1003"]["in_state_seconds"] >= 90
    assert sum(h["offered"] for h in snap["halfhours"]) == 4
    assert snap["definitions"]["sl"].startswith("answered within target")
