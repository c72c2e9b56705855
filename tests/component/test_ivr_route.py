"""The ``ivr`` FastAGI route on a real socket with a real SQLite directory (the demo customers),
driven by a scripted Asterisk (ivr.agi_script) through the shipped Vietnamese tree."""

from __future__ import annotations

import asyncio
import copy
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from core.agi import AgiServer
from core.bus import BusEvent, LocalBus
from core.calls import CallTracker
from core.db import create_engine, session_factory
from crm_bridge.demo_data import load_demo
from crm_bridge.directory import CustomerDirectory
from ivr.agi_route import IvrRoute
from ivr.agi_script import ScriptedCall
from ivr.callbacks import CallbackStore
from ivr.lookup import Directory, ivr_directory
from ivr.metrics import IvrMetrics
from ivr.models import CallbackRequest
from tests.support.settings import base_config, make_settings
from tongdai.schema import upgrade_to_head
from tongdai.settings import Settings


def tree(**node_over: dict[str, Any]) -> dict[str, Any]:
    t: dict[str, Any] = copy.deepcopy(base_config()["ivr"])
    t["nodes"]["screen"]["numbers"] = ["0999000111"]
    for node, over in node_over.items():
        t["nodes"][node] = {**t["nodes"][node], **over}
    return t


@dataclass
class Rig:
    server: AgiServer
    route: IvrRoute
    sessions: async_sessionmaker[AsyncSession]
    tracker: CallTracker
    events: list[BusEvent]

    async def call(self, **kw: Any) -> ScriptedCall:
        return await ScriptedCall(**kw).run("127.0.0.1", self.server.port, timeout=10)


@pytest.fixture
async def rig_factory(tmp_path: Path) -> AsyncIterator[Any]:
    engine = create_engine(f"sqlite+aiosqlite:///{tmp_path / 'ivr.db'}")
    await upgrade_to_head(engine)
    await load_demo(engine, 0)
    sessions = session_factory(engine)
    bus = LocalBus(origin="test")
    servers: list[AgiServer] = []

    async def make(ivr: dict[str, Any] | None = None, budget: float = 1.5, directory: Any = None) -> Rig:
        settings: Settings = make_settings(ivr=ivr or tree(), asterisk={"agi": {"decision_budget": budget}})
        tracker = CallTracker(bus)
        events: list[BusEvent] = []

        async def keep(ev: BusEvent) -> None:
            events.append(ev)

        bus.subscribe("", keep, name="test")
        real = CustomerDirectory(sessions, settings.crm.tiers)
        route = IvrRoute(
            settings,
            tracker,
            directory(ivr_directory(real)) if directory else real,
            settings.acd.build(),
            callbacks=CallbackStore(sessions),
            metrics=IvrMetrics(),
        )
        server = AgiServer("127.0.0.1", 0, command_timeout=5)
        route.register(server)
        await server.start()
        servers.append(server)
        return Rig(server, route, sessions, tracker, events)

    yield make
    for s in servers:
        await s.stop()
    await bus.close()
    await engine.dispose()


async def test_known_caller_in_international_form_is_identified(rig_factory: Any) -> None:
    rig: Rig = await rig_factory()
    c = await rig.call(caller="+84912345678", keys="111")  # vi, mobile, fault
    assert c.variables["TONGDAI_ACTION"] == "queue" and c.variables["TONGDAI_QUEUE"] == "mobile"
    assert c.variables["TONGDAI_CUSTOMER"] == "KH0000000001" and c.variables["TONGDAI_TIER"] == "vip"
    call = rig.tracker.calls[c.uniqueid]
    assert call.caller_number == "0912345678"  # normalised before lookup and on the record
    assert call.ivr_path[-3:] == ["main:1", "mobile:1", "mobile_fault"]


@pytest.mark.parametrize("keyed", ["0000000001#", "00001#", "0912345678#"])
async def test_unknown_caller_keys_a_customer_id(rig_factory: Any, keyed: str) -> None:
    """A keypad has no letters: KH0000000001 is keyed as its digits, or a phone number of theirs."""
    rig: Rig = await rig_factory()
    c = await rig.call(caller="0281234567", keys="1" + keyed + "11")
    assert c.variables["TONGDAI_CUSTOMER"] == "KH0000000001"
    assert c.variables["TONGDAI_QUEUE"] == "mobile"
    assert "tongdai/vi/ask_customer_id" in c.played


async def test_wrong_customer_id_is_refused_then_menu(rig_factory: Any) -> None:
    rig: Rig = await rig_factory()
    c = await rig.call(caller="0281234567", keys="1" + "99999#" * 3 + "0")
    assert "TONGDAI_CUSTOMER" not in c.variables
    assert c.played.count("tongdai/vi/customer_id_invalid") == 3
    assert c.variables["TONGDAI_QUEUE"] == "care"


class Slow:
    """A directory whose every answer takes 5 s (a database under a lock, a CRM timing out)."""

    def __init__(self, real: Directory) -> None:
        self.real = real

    async def by_number(self, number: str) -> Any:
        await asyncio.sleep(5)
        return await self.real.by_number(number)

    async def by_customer_id(self, cid: str) -> Any:
        await asyncio.sleep(5)
        return await self.real.by_customer_id(cid)

    async def by_account(self, account: str) -> Any:
        await asyncio.sleep(5)
        return await self.real.by_account(account)


async def test_slow_directory_costs_at_most_the_budget(rig_factory: Any) -> None:
    # A budget long enough that a loaded machine's own delays stay well under it.
    rig: Rig = await rig_factory(budget=1.0, directory=Slow)
    t0 = time.perf_counter()
    c = await rig.call(caller="0912345678", keys="111")
    elapsed = time.perf_counter() - t0
    # One budget for the number lookup, never a second one when the identify node asks again (nor the
    # directory's 5 s).
    assert max(c.latencies) < 1.0 + 0.6
    assert elapsed < 2 * 1.0
    assert "TONGDAI_CUSTOMER" not in c.variables and c.variables["TONGDAI_TIER"] == "standard"
    assert c.variables["TONGDAI_QUEUE"] == "mobile"


async def test_callback_request_is_stored(rig_factory: Any) -> None:
    rig: Rig = await rig_factory(tree(hours={"hours": {"weekly": {}, "holidays": []}}))
    c = await rig.call(caller="0912345678", keys="1")
    assert c.variables["TONGDAI_ACTION"] == "hangup"
    async with rig.sessions() as s:
        rows = list(await s.scalars(select(CallbackRequest)))
    assert [(r.number, r.customer_id, r.call_id, r.status) for r in rows] == [
        ("0912345678", "KH0000000001", c.uniqueid, "pending")
    ]
    assert rows[0].requested_at is not None
    pending = await CallbackStore(rig.sessions).pending()
    assert [p.number for p in pending] == ["0912345678"]
    # The caller's tier travels with the request, so the worklist keeps their place.
    assert (pending[0].acd_tier, pending[0].priority) == ("vip", rig.route.policy.initial_priority("vip"))
    assert pending[0].priority > rig.route.policy.initial_priority("standard")
    assert [e.data["number"] for e in rig.events if e.type == "callback.requested"] == ["0912345678"]
    assert rig.route.metrics.snapshot().outcomes == {"callback": 1}
    # No queue was chosen before the callback node (closed hours): the default queue is kept.
    assert pending[0].queue == "care"


async def test_callback_node_names_the_queue_to_call_back_into(rig_factory: Any) -> None:
    rig: Rig = await rig_factory(
        tree(hours={"hours": {"weekly": {}, "holidays": []}}, offer_callback={"queue": "billing"})
    )
    await rig.call(caller="0912345678", keys="1")
    assert [p.queue for p in await CallbackStore(rig.sessions).pending()] == ["billing"]


async def test_hangup_mid_menu_is_counted_as_drop_off(rig_factory: Any) -> None:
    rig: Rig = await rig_factory()
    c = await rig.call(caller="0912345678", keys="12")  # vi, internet menu, then gone
    assert c.hung_up and "TONGDAI_ACTION" not in c.variables
    call = rig.tracker.calls[c.uniqueid]
    assert call.ivr_outcome == "hung_up" and call.ivr_path[-1] == "internet"
    await asyncio.sleep(0)  # let the bus deliver
    for _ in range(50):
        if any(e.type == "ivr.finished" for e in rig.events):
            break
        await asyncio.sleep(0.01)
    finished = [e for e in rig.events if e.type == "ivr.finished"]
    assert [(e.call_id, e.data["outcome"], e.data["last_node"]) for e in finished] == [
        (c.uniqueid, "hung_up", "internet")
    ]
    snap = rig.route.metrics.snapshot()
    assert snap.dropoff == {"internet": 1} and snap.calls == 1 and snap.containment == 0.0


async def test_self_service_readback_is_contained(rig_factory: Any) -> None:
    rig: Rig = await rig_factory()
    c = await rig.call(caller="0912345678", keys="192")  # vi, self-service, points; then hangs up
    assert "tongdai/vi/ss_points_intro" in c.played
    assert "TONGDAI_QUEUE" not in c.variables
    assert rig.tracker.calls[c.uniqueid].ivr_outcome == "self_served"
    assert rig.route.metrics.snapshot().containment == 1.0
