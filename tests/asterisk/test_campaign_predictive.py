"""Predictive campaigns and answering-machine detection on the real Asterisk.

Customers are the outbound routes' simulated customers (``tongdai-simcustomer``, Local channels: no
SIPp needed for what is measured here): 0995<d>… ring d seconds and answer, 0999… never answer, 0998…
are busy, 0996… are answering machines (a 5.7 s greeting), 0997… people who say "hello" and wait.
The simulated agents answer at once and talk 3 s (the sandbox's globals TONGDAI_SIM_RING and
TONGDAI_SIM_TALK, set by the test and restored).

1. The message path alone: a predictive leg answered while no agent of the queue is logged in hears
   ``campaign_no_agent`` within 2 s of the answer, whole.
2. A predictive campaign of 200 contacts and 4 agents: every contact dialled once, the abandoned rate
   at or under the 3 % cap, more legs ringing at once than there are agents (it dials ahead), and
   every abandoned call heard the message (UserEvents, and the NOTICE in Asterisk's log).
3. AMD on a campaign: the machine's attempt is ``machine`` with AMDSTATUS MACHINE, retried by the
   machine rule; the person's is ``reached`` with AMDSTATUS HUMAN and reaches the agent.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import random
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from campaigns.amd import AmdSettings
from campaigns.component import CampaignsComponent, customer_of
from campaigns.importer import import_csv
from campaigns.models import CampaignAttempt
from campaigns.store import NewCampaign
from core.ami import AmiClient, AmiEvent
from tests.asterisk.acd_support import (
    QUEUE,
    AmiLog,
    acd_overrides,
    agent_entry,
    clear_queue,
    hang_up_all,
    listen,
    running_bridge,
)
from tests.asterisk.conftest import AsteriskSandbox, eventually
from tests.asterisk.test_campaign_dialler import vn_clock
from tongdai.app import Bridge

pytestmark = pytest.mark.asterisk

AGENTS = ["1051", "1052", "1053", "1054"]
CAP = 0.03
CONTACTS = 200


@pytest.fixture
async def quick_agents(ami: AmiClient) -> AsyncIterator[None]:
    """Simulated agents that answer at once and talk 3 s; nothing left in the queue before or after."""
    await hang_up_all(ami)
    await clear_queue(ami)
    for var, value in (("TONGDAI_SIM_RING", "0"), ("TONGDAI_SIM_TALK", "3")):
        await ami.action("Setvar", {"Variable": var, "Value": value}, timeout=10)
    yield
    for var in ("TONGDAI_SIM_RING", "TONGDAI_SIM_TALK"):
        await ami.action("Setvar", {"Variable": var, "Value": ""}, timeout=10)
    await hang_up_all(ami)
    await clear_queue(ami)


def settings_over(agents: list[str]) -> dict[str, Any]:
    return acd_overrides(
        [agent_entry(a, f"Nhân viên {a}") for a in agents],
        [{"agent": a} for a in agents],
        campaigns={"dialler": True, "ring_timeout": 5, "poll_seconds": 1, "abandon_cap": CAP},
    )


async def new_campaign(b: Bridge, name: str, numbers: list[str], **kw: Any) -> int:
    c = b.campaigns
    assert c is not None and b.directory is not None
    v = await c.store.create(NewCampaign(name=name, queue=QUEUE, purpose="care", **kw), "9000")
    csv = "number\n" + "".join(f"{n}\n" for n in numbers)
    await import_csv(c.store, customer_of(b.directory), v.id, csv, max_rows=CONTACTS + 10)
    await c.store.control(v.id, "start")
    return v.id


async def attempts(b: Bridge, campaign_id: int) -> list[CampaignAttempt]:
    assert b.sessions is not None
    async with b.sessions() as s:
        rows = await s.scalars(
            select(CampaignAttempt)
            .where(CampaignAttempt.campaign_id == campaign_id)
            .order_by(CampaignAttempt.id)
        )
        return list(rows)


def steps(log: AmiLog, step: str) -> dict[str, AmiEvent]:
    """The campaign UserEvents of one step, by contact id."""
    return {
        e.get("Contact"): e
        for e in log.matching("UserEvent")
        if e.get("UserEvent") == "TongdaiCampaign" and e.get("Step") == step
    }


def max_concurrent(log: AmiLog) -> int:
    """The most campaign customer legs alive at once (from Newchannel/Hangup of ``cmp-`` channels)."""
    alive: set[str] = set()
    most = 0
    for e in log.events:
        uid = e.get("Uniqueid")
        if not uid.startswith("cmp-") or ";" in uid:
            continue
        if e.name == "Newchannel":
            alive.add(uid)
            most = max(most, len(alive))
        elif e.name == "Hangup":
            alive.discard(uid)
    return most


@pytest.mark.usefixtures("quick_agents")
async def test_an_answered_predictive_call_with_no_agent_hears_the_message_within_2_s(
    asterisk_sandbox: AsteriskSandbox, ami: AmiClient
) -> None:
    log = listen(ami)
    # As the dialler places it (campaigns/dialler.py), with nobody in the queue to take the call.
    await ami.action(
        "Originate",
        {
            "Channel": "Local/0995100999@tongdai-dialout/n", "Context": "tongdai-campaign", "Exten": "s",
            "Priority": "1", "Async": "true", "ChannelId": "cmp-999999-0a0b0c0d",
            "Variable": [
                f"TONGDAI_QUEUE={QUEUE}", "TONGDAI_PRIO=900", "TONGDAI_CALLBACK=999999",
                "TONGDAI_CMP_MODE=predictive", "TONGDAI_CONNECT=1",
            ],
        },
        timeout=10,
    )  # fmt: skip
    abandoned = await log.wait_for("UserEvent", timeout=20, Step="abandoned", Contact="999999")
    delay = float(abandoned.get("MessageAt")) - float(abandoned.get("AnsweredAt"))
    assert 0 <= delay <= 2.0, delay
    heard = await log.wait_for("UserEvent", timeout=30, Step="message", Contact="999999")
    assert heard.get("PlaybackStatus") == "SUCCESS"  # the whole message played
    text = asterisk_sandbox.log_path.read_text(errors="replace")
    assert "tongdai campaign abandoned cmp-999999-0a0b0c0d" in text


@pytest.mark.timeout(600)
@pytest.mark.usefixtures("quick_agents")
async def test_a_predictive_campaign_holds_the_abandon_cap_over_200_calls(
    asterisk_sandbox: AsteriskSandbox, ami: AmiClient, tmp_path: Path
) -> None:
    log = listen(ami)
    rng = random.Random(16)
    numbers = [f"0995{rng.randint(1, 3)}{i:05d}" for i in range(120)]  # answer after 1-3 s
    numbers += [f"0999{i:06d}" for i in range(60)]  # never answer (5 s ring timeout)
    numbers += [f"0998{i:06d}" for i in range(20)]  # busy
    rng.shuffle(numbers)
    async with running_bridge(asterisk_sandbox, tmp_path, **settings_over(AGENTS)) as b:
        c: CampaignsComponent | None = b.campaigns
        assert c is not None and c.dialler is not None
        c.dialler.clock = vn_clock(10, 0)
        cid = await new_campaign(
            b, "Nhắc gia hạn (dự đoán)", numbers, mode="predictive", retry_minutes={}, max_attempts=1
        )
        for a in AGENTS:
            await b.agents.login(a, [QUEUE])

        async def all_dialled() -> bool:
            return len(await attempts(b, cid)) == CONTACTS

        assert await eventually(all_dialled, timeout=480, interval=2)
        stats = await c.store.stats(cid)
        rows = await attempts(b, cid)
    await asyncio.sleep(0)  # the bridge is stopped; the AMI log holds what Asterisk said

    assert stats["dialled"] == CONTACTS and stats["refusals"] == {}
    assert stats["outcomes"]["busy"] == 20 and stats["outcomes"]["no_answer"] == 60
    assert stats["answered"] == 120
    assert stats["abandon_rate"] <= CAP, stats
    assert stats["connected"] + stats["abandoned"] == stats["answered"]
    # Predictive: more customers rung at once than there are agents.
    assert max_concurrent(log) > len(AGENTS)
    # Every abandoned call heard the message, within 2 s of the answer, and Asterisk logged it.
    abandoned = {str(r.contact_id): r.call_id for r in rows if r.outcome == "reached" and not r.connected}
    said = steps(log, "abandoned")
    assert set(abandoned) == set(said)
    heard = steps(log, "message")
    text = asterisk_sandbox.log_path.read_text(errors="replace")
    for contact, call_id in abandoned.items():
        e = said[contact]
        assert float(e.get("MessageAt")) - float(e.get("AnsweredAt")) <= 2.0
        assert heard[contact].get("PlaybackStatus") == "SUCCESS"
        assert f"tongdai campaign abandoned {call_id}" in text
    print(
        f"\npredictive on the sandbox: {stats['dialled']} dials, {stats['answered']} answered, "
        f"{stats['abandoned']} abandoned ({stats['abandon_rate']:.2%}), "
        f"{max_concurrent(log)} legs at once for {len(AGENTS)} agents"
    )


@pytest.mark.usefixtures("quick_agents")
async def test_amd_tells_a_machine_from_a_person(
    asterisk_sandbox: AsteriskSandbox, ami: AmiClient, tmp_path: Path
) -> None:
    machine, person = "0996000001", "0997000001"
    async with running_bridge(asterisk_sandbox, tmp_path, **settings_over(AGENTS[:1])) as b:
        c = b.campaigns
        assert c is not None and c.dialler is not None
        c.dialler.clock = vn_clock(10, 0)
        cid = await new_campaign(
            b, "Khảo sát (AMD)", [machine, person], mode="predictive", amd=AmdSettings(),
            retry_minutes={"machine": 30},
        )  # fmt: skip
        await b.agents.login(AGENTS[0], [QUEUE])

        async def both() -> list[CampaignAttempt] | None:
            rows = await attempts(b, cid)
            return rows if len(rows) == 2 else None

        rows = await eventually(both, timeout=60, interval=0.5)
        by_number = {r.number: r for r in rows}
        m, p = by_number["+84" + machine[1:]], by_number["+84" + person[1:]]
        assert (m.outcome, m.amd_status, m.connected) == ("machine", "MACHINE", False)
        assert m.amd_cause and m.amd_cause.split("-")[0] in ("LONGGREETING", "MAXWORDS", "INITIALSILENCE")
        assert (p.outcome, p.amd_status, p.connected) == ("reached", "HUMAN", True)
        contacts = {k.number: k for k in await c.store.contacts(cid)}
        mc = contacts["+84" + machine[1:]]
        assert (mc.state, mc.last_outcome) == ("pending", "machine")  # retried by the machine rule
        assert mc.next_attempt_at is not None
        assert dt.timedelta(minutes=29) < mc.next_attempt_at - c.dialler.clock() <= dt.timedelta(minutes=30)
        assert contacts["+84" + person[1:]].state == "done"
        stats = await c.store.stats(cid)
        assert stats["machines"] == 1 and stats["amd"] == {"MACHINE": 1, "HUMAN": 1}
