"""Shared pieces of the ACD tests on the real Asterisk (test_acd_priority.py, test_acd_agents.py).

The tests use the ``tv`` queue, which no other Asterisk test answers, and agents of their own that
never log in automatically, so what reaches the queue is only what the test puts there. Asterisk's
membership outlives a bridge, so :func:`clear_queue` empties the queue first and :func:`hang_up_all`
leaves no caller behind; the next test's bridge logs its auto-login agents back in.
"""

from __future__ import annotations

import asyncio
import copy
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

from core.ami import AmiClient, AmiEvent
from core.db import create_engine
from crm_bridge.demo_data import load_demo
from tests.asterisk.conftest import ACD_SIP_AGENT, ACD_WRAPUP_QUEUE, AsteriskSandbox
from tests.support.settings import SIMPLE_IVR, TEST_QUEUES, base_config
from tongdai.app import Bridge
from tongdai.schema import upgrade_to_head

QUEUE = "tv"
VIP = "0912345678"  # Nguyễn Văn An: CRM tier large → ACD tier vip
GOLD = "0987654321"  # Trần Thị Bình: sme → gold
STANDARD = "0333333333"  # Lê Văn Cường: standard → standard

# Short targets so aging shows in seconds. With aging_weight 16 a caller gains 16 points per target
# waited, so a standard caller reaches 26 (> gold's entry 25) exactly when it has waited its target.
# Gold's target is close to standard's, so a fresh gold caller stays behind such a standard caller for
# long enough (> 15 s) that the test is not a race against gold's own aging.
SHORT_TIERS: list[dict[str, Any]] = [
    {"name": "vip", "base_priority": 300, "target_seconds": 2, "target_ratio": 0.90},
    {"name": "gold", "base_priority": 25, "target_seconds": 5, "target_ratio": 0.85},
    {"name": "standard", "base_priority": 10, "target_seconds": 6, "target_ratio": 0.80},
]


def agent_entry(agent_id: str, name: str) -> dict[str, Any]:
    """A simulated agent the bridge does not log in by itself (the test does)."""
    demo_hash = base_config()["agents"][0]["password_hash"]
    return {"id": agent_id, "name": name, "phone": "local", "auto_login": False, "password_hash": demo_hash}


def acd_overrides(
    agents: list[dict[str, Any]], tv_members: list[dict[str, Any]], **over: Any
) -> dict[str, Any]:
    """Settings overrides: extra agents, who belongs to ``tv``, and an IVR whose key 3 leads there."""
    queues = copy.deepcopy(TEST_QUEUES)
    for q in queues:
        if q["name"] == QUEUE:
            q["members"] = tv_members
    ivr = copy.deepcopy(SIMPLE_IVR)
    ivr["nodes"]["main"]["options"]["3"] = "tv"
    ivr["nodes"]["tv"] = {"type": "transfer", "queue": QUEUE, "label": "Truyền hình"}
    base = {"agents": [*base_config()["agents"], *agents], "queues": queues, "ivr": ivr}
    base.update(over)
    return base


WRAPUP_QUEUE = ACD_WRAPUP_QUEUE["name"]  # wrapuptime 3 in the sandbox's queues.conf
SIP_AGENT = ACD_SIP_AGENT["id"]  # a PJSIP endpoint in the sandbox's pjsip.conf that never registers


def with_wrapup_queue(over: dict[str, Any], members: list[dict[str, Any]]) -> dict[str, Any]:
    """``over`` plus the sandbox's wrap-up queue (with ``members``), reached with IVR key 4."""
    out = copy.deepcopy(over)
    out["queues"] = [*out["queues"], {**ACD_WRAPUP_QUEUE, "members": members}]
    out["ivr"]["nodes"]["main"]["options"]["4"] = "aftercall"
    out["ivr"]["nodes"]["aftercall"] = {"type": "transfer", "queue": WRAPUP_QUEUE, "label": "Hậu mãi"}
    return out


@asynccontextmanager
async def running_bridge(sandbox: AsteriskSandbox, tmp_path: Path, **over: Any) -> AsyncIterator[Bridge]:
    settings = sandbox.settings_for(tmp_path, **over)
    # Customers first: a call of an earlier test ending while the demo load alters the schema would
    # otherwise hit SQLite's lock.
    engine = create_engine(settings.database.url)
    await upgrade_to_head(engine)
    await load_demo(engine, 0)
    await engine.dispose()
    b = Bridge(settings)
    await b.start()
    try:
        assert b.ami is not None
        await b.ami.wait_connected(30)
        await b.ami.wait_booted(30)
        await b.agents.ready(30)
        yield b
    finally:
        await b.stop()


class AmiLog:
    """Every AMI event the test's own connection sees, with a way to await the next matching one."""

    def __init__(self) -> None:
        self.events: list[AmiEvent] = []
        self._changed = asyncio.Condition()

    async def __call__(self, ev: AmiEvent) -> None:
        self.events.append(ev)
        async with self._changed:
            self._changed.notify_all()

    def matching(self, name: str, **headers: str) -> list[AmiEvent]:
        return [e for e in self.events if e.name == name and all(e.get(k) == v for k, v in headers.items())]

    async def wait_for(self, name: str, timeout: float = 20.0, **headers: str) -> AmiEvent:
        """The first event (already seen or still to come) named ``name`` with these header values."""

        async def first() -> AmiEvent:
            async with self._changed:
                while True:
                    found = self.matching(name, **headers)
                    if found:
                        return found[0]
                    await self._changed.wait()

        try:
            return await asyncio.wait_for(first(), timeout)
        except TimeoutError:
            raise AssertionError(f"no {name} {headers} within {timeout} s") from None


def listen(ami: AmiClient) -> AmiLog:
    log = AmiLog()
    ami.on_event(log)
    return log


async def queue_status(ami: AmiClient, queue: str = QUEUE) -> tuple[list[AmiEvent], list[AmiEvent]]:
    """(members, waiting callers) of ``queue`` as app_queue reports them right now."""
    resp = await ami.action("QueueStatus", {"Queue": queue}, multi=True, timeout=10)
    members = [e for e in resp.events if e.name == "QueueMember"]
    entries = [e for e in resp.events if e.name == "QueueEntry"]
    return members, entries


async def clear_queue(ami: AmiClient, queue: str = QUEUE) -> None:
    """Log every member out of ``queue`` (left there by earlier bridges of the session)."""
    members, _ = await queue_status(ami, queue)
    for m in members:
        await ami.action("QueueRemove", {"Queue": queue, "Interface": m.get("Location")}, check=False)


async def hang_up_all(ami: AmiClient) -> None:
    resp = await ami.action("CoreShowChannels", multi=True, timeout=10)
    for c in resp.events:
        if c.name == "CoreShowChannel":
            await ami.action("Hangup", {"Channel": c.get("Channel")}, check=False)
