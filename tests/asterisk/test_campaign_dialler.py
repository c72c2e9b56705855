"""A progressive campaign on the real Asterisk.

The ``tv`` queue's only agent, 1004, is ready. A care campaign's list holds four numbers, dialled
highest priority first through the outbound routes' simulated customers (``tongdai-simcustomer``:
0998… are busy, 0999… never answer, others answer): Nguyễn Văn An answers and the agent's desktop pops
him with the campaign's script and dispositions; once he hangs up, the busy number is dialled and
scheduled again by the busy rule; the number on the operator's do-not-call list is refused, counted,
never dialled; the unanswered one is dialled and left for its retry. Then, at 17:30 Việt Nam time, a
contact of a campaign whose window ends at 17:00 is refused and counted, and not dialled.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from sqlalchemy import select

from campaigns.component import CampaignsComponent, customer_of
from campaigns.importer import import_csv
from campaigns.models import CampaignAttempt
from campaigns.store import NewCampaign
from core.ami import AmiClient
from core.vietnam import VN_TZ
from tests.asterisk.acd_support import (
    QUEUE,
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
AN = "0912345678"  # Nguyễn Văn An (KH0000000001): answers
BUSY = "0998000222"
DNC = "0333333333"  # Lê Văn Cường: on the operator's do-not-call list
NO_ANSWER = "0999000333"
LATE = "0987654321"
SCRIPT = "Chào anh/chị, VNPT xin gia hạn hợp đồng Internet của anh/chị."


def e164(n: str) -> str:
    return "+84" + n[1:]


def vn_clock(hour: int, minute: int) -> Callable[[], dt.datetime]:
    """Real time moving on, but read as if it were ``hour:minute`` in Việt Nam now."""
    real = dt.datetime.now(dt.UTC)
    target = dt.datetime.combine(real.astimezone(VN_TZ).date(), dt.time(hour, minute), tzinfo=VN_TZ)
    shift = target - real
    return lambda: dt.datetime.now(dt.UTC) + shift


@pytest.fixture
async def clean(ami: AmiClient) -> Any:
    await hang_up_all(ami)
    await clear_queue(ami)
    yield
    await hang_up_all(ami)
    await clear_queue(ami)


async def attempts(b: Bridge, campaign_id: int) -> list[tuple[str, str, str | None]]:
    assert b.sessions is not None
    async with b.sessions() as s:
        rows = await s.scalars(
            select(CampaignAttempt)
            .where(CampaignAttempt.campaign_id == campaign_id)
            .order_by(CampaignAttempt.id)
        )
        return [(r.number, r.outcome, r.reason) for r in rows]


async def takers(b: Bridge, campaign_id: int) -> dict[str, tuple[str, str | None]]:
    assert b.sessions is not None
    async with b.sessions() as s:
        rows = await s.scalars(select(CampaignAttempt).where(CampaignAttempt.campaign_id == campaign_id))
        return {r.number: (r.agent_id, r.disposition) for r in rows if r.outcome == "reached"}


async def campaign(c: CampaignsComponent, b: Bridge, name: str, csv: str, **rules: Any) -> int:
    assert b.directory is not None
    v = await c.store.create(
        NewCampaign(name=name, queue=QUEUE, purpose="care", script=SCRIPT, **rules), "9000"
    )
    await import_csv(c.store, customer_of(b.directory), v.id, csv, max_rows=100)
    await c.store.control(v.id, "start")
    return v.id


@pytest.mark.usefixtures("clean")
async def test_a_progressive_campaign_calls_its_list_by_priority_within_the_rules(
    asterisk_sandbox: AsteriskSandbox, ami: AmiClient, tmp_path: Path
) -> None:
    log = listen(ami)
    over = acd_overrides(
        [agent_entry(AGENT, "Đặng Văn Tú")],
        [{"agent": AGENT}],
        campaigns={"dialler": True, "ring_timeout": 5},
    )
    async with running_bridge(asterisk_sandbox, tmp_path, **over) as b:
        c, d = b.campaigns, b.campaigns.dialler if b.campaigns else None
        assert c is not None and d is not None
        d.clock = vn_clock(10, 0)
        await c.store.replace_dnc("operator", [e164(DNC)])
        csv = f"number,priority\n{NO_ANSWER},1\n{DNC},5\n{BUSY},7\n{AN},9\n"
        cid = await campaign(
            c, b, "Gia hạn Internet", csv, dispositions=["renewed", "declined"],
            retry_minutes={"busy": 5, "no_answer": 30}, window_end=dt.time(17, 0),
        )  # fmt: skip
        base = f"http://127.0.0.1:{b.web_port}"
        async with aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True)) as http:
            await login(http, base, AGENT, "demo-1001")
            async with http.ws_connect(f"{base}/ws", origin=base) as ws:
                await next_frame(ws, "hello")
                await b.agents.login(AGENT, [QUEUE])  # one agent ready: the dialler wakes

                pop = await next_frame(ws, "pop", timeout=30)
                assert pop["customer"]["customer_id"] == "KH0000000001"
                assert pop["campaign"]["script"] == SCRIPT
                assert pop["campaign"]["dispositions"] == ["renewed", "declined"]
                assert pop["call_id"].startswith("cmp-")
                joined = await log.wait_for("QueueCallerJoin", Queue=QUEUE)
                assert joined.get("CallerIDNum") == AN and joined.get("Linkedid") == pop["call_id"]
                await next_frame(ws, "answered", timeout=30)
                # An hangs up: the agent is free, the next number is dialled.
                channels = await ami.action("CoreShowChannels", multi=True, timeout=10)
                mine = [e.get("Channel") for e in channels.events if e.get("Uniqueid") == pop["call_id"]]
                assert mine
                await ami.action("Hangup", {"Channel": mine[0]})

                async def reached_the_end() -> bool:
                    return len(await attempts(b, cid)) == 4

                assert await eventually(reached_the_end, timeout=45)
                # The agent who took An's call records its disposition (the attempt names them,
                # from app_queue's AgentConnect).
                async with http.get(f"{base}/") as r:
                    csrf = re.search(r'data-csrf="([^"]+)"', await r.text())
                assert csrf
                an = next(k for k in await c.store.contacts(cid) if k.number == e164(AN))
                async with http.post(
                    f"{base}/api/campaigns/{cid}/contacts/{an.id}/disposition",
                    json={"disposition": "renewed", "note": "gia hạn 12 tháng"},
                    headers={"X-CSRF-Token": csrf.group(1)},
                ) as r:
                    saved = await r.json()
                    assert r.status == 200, saved
                assert (saved["disposition"], saved["state"]) == ("renewed", "done")
        assert await attempts(b, cid) == [
            (e164(AN), "reached", None),
            (e164(BUSY), "busy", None),
            (e164(DNC), "refused", "dnc_operator"),
            (e164(NO_ANSWER), "no_answer", None),
        ]
        assert await takers(b, cid) == {e164(AN): (AGENT, "renewed")}
        dialled = [
            e.get("Uniqueid") for e in log.matching("Newchannel") if e.get("Uniqueid").startswith("cmp-")
        ]
        assert len({u.split("-")[1] for u in dialled}) == 3  # the do-not-call number was never dialled
        by_number = {k.number: k for k in await c.store.contacts(cid)}
        now = d.clock()
        assert (by_number[e164(AN)].state, by_number[e164(AN)].attempts) == ("done", 1)
        busy = by_number[e164(BUSY)]
        assert (busy.state, busy.last_outcome, busy.attempts) == ("pending", "busy", 1)
        assert busy.next_attempt_at is not None
        assert dt.timedelta(minutes=4) < busy.next_attempt_at - now <= dt.timedelta(minutes=5)
        assert by_number[e164(DNC)].state == "refused"
        na = by_number[e164(NO_ANSWER)]
        assert (na.state, na.last_outcome) == ("pending", "no_answer")
        stats = await c.store.stats(cid)
        assert {k: stats[k] for k in ("dialled", "answered", "connected", "abandoned", "refusals")} == {
            "dialled": 3,
            "answered": 1,
            "connected": 1,
            "abandoned": 0,
            "refusals": {"dnc_operator": 1},
        }

        # 17:30 in Việt Nam: the day's window (08:00-17:00) is over.
        await c.store.control(cid, "pause")
        late = await campaign(c, b, "Nhắc cước", f"number,priority\n{LATE},10\n", window_end=dt.time(17, 0))
        d.clock = vn_clock(17, 30)
        d.wake()

        async def refused_late() -> list[tuple[str, str, str | None]]:
            return await attempts(b, late)

        assert await eventually(refused_late, timeout=15) == [(e164(LATE), "refused", "outside_window")]
        [contact] = await c.store.contacts(late)
        tomorrow_8 = dt.datetime.combine(
            d.clock().astimezone(VN_TZ).date() + dt.timedelta(days=1), dt.time(8), tzinfo=VN_TZ
        )
        assert (contact.state, contact.next_attempt_at) == ("pending", tomorrow_8)
        assert (await c.store.stats(late))["refusals"] == {"outside_window": 1}
        assert await d.tick() == []  # still nothing to dial
        assert not [
            e for e in log.matching("Newchannel") if e.get("Uniqueid").startswith(f"cmp-{contact.id}-")
        ]
