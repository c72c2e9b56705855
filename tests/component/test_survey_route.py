"""The ``survey`` FastAGI route on a real socket and a real SQLite database, driven by the scripted
Asterisk (ivr.agi_script): keys become scores stored against the call, agent, queue and customer read
from the channel; a wrong key twice, silence or a hang-up is "no_answer"; a call outside the sampled
share, or of a queue without a survey, is not asked at all."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from core.agi import AgiServer
from core.bus import BusEvent, LocalBus
from core.calls import CallTracker
from core.db import create_engine, session_factory
from ivr.agi_script import ScriptedCall
from ivr.survey_route import SurveyRoute, sampling_key
from ivr.survey_store import SurveyStore
from tests.support.settings import TEST_QUEUES, make_settings
from tongdai.schema import upgrade_to_head

SURVEY: dict[str, Any] = {
    "enabled": True,
    "questions": [
        {"id": "csat", "prompt": "survey_csat", "kind": "scale", "scale_max": 5},
        {"id": "solved", "prompt": "survey_solved", "kind": "yes_no"},
    ],
}
CHANNEL = {"TONGDAI_QUEUE": "mobile", "MEMBERNAME": "1001", "TONGDAI_CUSTOMER": "KH0000000001"}


@dataclass
class Rig:
    server: AgiServer
    store: SurveyStore
    events: list[BusEvent]

    async def call(self, uniqueid: str, keys: str = "", **channel: str) -> ScriptedCall:
        c = ScriptedCall(keys=keys, uniqueid=uniqueid, route="survey", variables={**CHANNEL, **channel})
        return await c.run("127.0.0.1", self.server.port, timeout=10)

    async def rows(self, call_id: str) -> list[tuple[str, str, int | None]]:
        return [(r.question, r.status, r.value) for r in await self.store.for_call(call_id)]


@pytest.fixture
async def rig(tmp_path: Path) -> AsyncIterator[Rig]:
    engine = create_engine(f"sqlite+aiosqlite:///{tmp_path / 'survey.db'}")
    await upgrade_to_head(engine)
    queues = [
        {**TEST_QUEUES[0], "survey": SURVEY},
        {**TEST_QUEUES[1], "survey": {**SURVEY, "sample_percent": 0}},
        *TEST_QUEUES[2:],
    ]
    settings = make_settings(queues=queues)
    bus = LocalBus(origin="test")
    events: list[BusEvent] = []

    async def keep(ev: BusEvent) -> None:
        events.append(ev)

    bus.subscribe("survey.", keep, name="test")
    store = SurveyStore(session_factory(engine))
    route = SurveyRoute(settings, CallTracker(bus), store, sampling_key("a-deployment-secret-0123456789"))
    server = AgiServer("127.0.0.1", 0, command_timeout=5)
    route.register(server)
    await server.start()
    yield Rig(server, store, events)
    await server.stop()
    await bus.close()
    await engine.dispose()


async def test_keys_5_and_1_are_stored_against_the_call_agent_and_customer(rig: Rig) -> None:
    c = await rig.call("tdtest-1.1", keys="51")
    assert c.variables["TONGDAI_ACTION"] == "hangup"
    # A key interrupts the prompts and answers the question (the scripted caller keys at once: during
    # the intro, so the CSAT question itself is not played).
    assert c.played == ["tongdai/vi/survey_intro", "tongdai/vi/survey_solved", "tongdai/vi/survey_thanks"]
    assert await rig.rows("tdtest-1.1") == [("csat", "answered", 5), ("solved", "answered", 1)]
    (r, _) = await rig.store.for_call("tdtest-1.1")
    assert (r.agent_id, r.queue, r.customer_id, r.csat, r.scale_max) == (
        "1001",
        "mobile",
        "KH0000000001",
        True,
        5,
    )
    (ev,) = [e for e in rig.events if e.call_id == "tdtest-1.1"]
    assert ev.data["csat"] == {"value": 5, "scale_max": 5} and ev.data["responded"] is True


async def test_english_caller_hears_english(rig: Rig) -> None:
    c = await rig.call("tdtest-2.1", keys="42", TONGDAI_LANG="en")
    assert c.played[0] == "tongdai/en/survey_intro"
    assert await rig.rows("tdtest-2.1") == [("csat", "answered", 4), ("solved", "answered", 2)]


async def test_a_wrong_key_twice_silence_or_a_hang_up_is_no_answer(rig: Rig) -> None:
    await rig.call("tdtest-3.1", keys="99")  # 9 is not on a 1-5 scale: asked again once, then given up
    assert await rig.rows("tdtest-3.1") == [("csat", "no_answer", None), ("solved", "no_answer", None)]
    await rig.call("tdtest-3.2", keys="3")  # answers the first, hangs up at the second
    assert await rig.rows("tdtest-3.2") == [("csat", "answered", 3), ("solved", "no_answer", None)]
    await rig.call("tdtest-3.3")  # hangs up while asked
    assert await rig.rows("tdtest-3.3") == [("csat", "no_answer", None), ("solved", "no_answer", None)]


async def test_calls_outside_the_sample_or_without_a_survey_are_not_asked(rig: Rig) -> None:
    outside = await rig.call("tdtest-4.1", keys="5", TONGDAI_QUEUE="internet")  # sample_percent 0
    no_survey = await rig.call("tdtest-4.2", keys="5", TONGDAI_QUEUE="tv")
    for c in (outside, no_survey):
        assert c.played == [] and c.variables["TONGDAI_ACTION"] == "hangup"
    assert await rig.rows("tdtest-4.1") == [] and await rig.rows("tdtest-4.2") == []
