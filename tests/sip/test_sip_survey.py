"""The post-call survey over real SIP: a carrier's caller walks the IVR by RFC 4733 keys, talks to the
agent's registered SIP phone, and when the agent hangs up is moved (not dropped) to the survey of the
queue. One keys 5 and 1: both scores are stored against that call, agent, queue and customer. One
hangs up while the question plays: every question is "no_answer", never a score."""

from __future__ import annotations

import copy
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from core.ami import AmiClient
from core.models import CallRecord
from crm_bridge.demo_data import load_demo
from ivr.models import SurveyAnswerRecord
from ivr.survey_store import SurveyStore
from tests.asterisk.conftest import AsteriskSandbox, eventually
from tests.sip.conftest import SIP_IVR
from tests.support.settings import TEST_QUEUES, base_config
from tests.support.sip import (
    CARRIER_IP,
    DID,
    SCENARIOS,
    SIP_AGENT,
    SIP_SURVEY,
    SIP_SURVEY_QUEUE,
    dtmf_pcap_after,
    registered_phone,
    sip_agents,
    sip_trunks,
    start_sipp,
)
from tongdai.app import Bridge

pytestmark = [pytest.mark.sip, pytest.mark.asterisk]

# Keys 2 then 3 to the survey queue, then 5 and 1 in the survey: the shipped DTMF pcaps are one RTP
# stream, so keys must rise (2, 3, 5) and the last "1" is a copy moved after the "5" (dtmf_pcap_after).
SURVEY_IVR: dict[str, Any] = copy.deepcopy(SIP_IVR)
SURVEY_IVR["nodes"]["main"]["options"] = {"2": "sipmenu"}
SURVEY_IVR["nodes"]["sipmenu"]["options"] = {"3": "to_sip"}
SURVEY_IVR["nodes"]["to_sip"]["queue"] = SIP_SURVEY_QUEUE


@pytest.fixture
async def survey_bridge(asterisk_sandbox: AsteriskSandbox, tmp_path: Path) -> AsyncIterator[Bridge]:
    queues = [
        *TEST_QUEUES,
        {
            "name": SIP_SURVEY_QUEUE,
            "label": "SIP survey",
            "wrapup": 0,
            "ring_timeout": 20,
            "members": [{"agent": SIP_AGENT}],
            "survey": SIP_SURVEY,
        },
    ]
    agents = [*base_config()["agents"], *sip_agents(auto_login=True)]
    settings = asterisk_sandbox.settings_for(
        tmp_path, queues=queues, agents=agents, ivr=SURVEY_IVR, trunks=sip_trunks()
    )
    b = Bridge(settings)
    await b.start()
    assert b.ami is not None and b.engine is not None
    await b.ami.wait_connected(30)
    await b.ami.wait_booted(30)
    await b.agents.ready(30)
    await load_demo(b.engine, 0)
    yield b
    await b.stop()


async def surveyed_call(bridge: Bridge, sandbox: AsteriskSandbox, work: Path, scenario: str) -> str:
    """One carrier call from demo customer KH0000000001 (+84912345678) answered by 7101's SIP phone;
    the agent's leg is hung up as soon as it answered. Returns the call id once SIPp finished."""
    target = f"127.0.0.1:{sandbox.sip_port}"
    assert bridge.ami is not None
    async with registered_phone(target, SIP_AGENT, work):
        await eventually(lambda: "Avail" in sandbox.cli(f"pjsip show aor {SIP_AGENT}"), timeout=15)
        if "@DTMF_1_LATE@" in (SCENARIOS / scenario).read_text():
            late = dtmf_pcap_after("1", "5", work / "dtmf_1_after_5.pcap")
            written = work / scenario
            written.write_text((SCENARIOS / scenario).read_text().replace("@DTMF_1_LATE@", str(late)))
            scenario = str(written)
        carrier = await start_sipp(
            scenario,
            target,
            work,
            ip=CARRIER_IP,
            keys={"caller": "+84912345678", "cname": "Nguyen Van An"},
            extra=["-s", DID, "-m", "1"],
        )
        try:

            def answered() -> Any:
                return next(
                    (
                        c
                        for c in bridge.tracker.calls.values()
                        if c.queue == SIP_SURVEY_QUEUE and c.answered_at and c.agent_channel
                    ),
                    None,
                )

            call = await eventually(answered, timeout=30)
            # The agent hangs up (as the desk phone's hang-up key would): the caller stays in the dialplan.
            await hang_up(bridge.ami, call.agent_channel)
            rc = await carrier.wait(90)
            assert rc == 0, carrier.why()
        finally:
            await carrier.stop()
    return str(call.call_id)


async def hang_up(ami: AmiClient, channel: str) -> None:
    await ami.action("Hangup", {"Channel": channel})


async def stored(bridge: Bridge, call_id: str) -> list[SurveyAnswerRecord]:
    assert bridge.sessions is not None
    store = SurveyStore(bridge.sessions)

    async def rows() -> list[SurveyAnswerRecord]:
        return await store.for_call(call_id)

    return list(await eventually(rows, timeout=20))


async def test_caller_moved_to_the_survey_keys_5_and_1(
    survey_bridge: Bridge, asterisk_sandbox: AsteriskSandbox, tmp_path: Path
) -> None:
    call_id = await surveyed_call(
        survey_bridge, asterisk_sandbox, tmp_path / "sipp", "carrier_survey_answer.xml"
    )
    rows = await stored(survey_bridge, call_id)
    assert [(r.question, r.status, r.value) for r in rows] == [
        ("csat", "answered", 5),
        ("solved", "answered", 1),
    ]
    for r in rows:
        assert r.agent_id == SIP_AGENT and r.queue == SIP_SURVEY_QUEUE
        assert r.customer_id == "KH0000000001" and r.language == "vi"
    assert survey_bridge.sessions is not None

    async def record() -> CallRecord | None:
        async with survey_bridge.sessions() as s:  # type: ignore[misc]
            return await s.get(CallRecord, call_id)

    rec = await eventually(record, timeout=20)
    assert rec.agent_id == SIP_AGENT and rec.answered_at is not None  # the same call, served by that agent


async def test_caller_who_hangs_up_in_the_survey_is_no_answer(
    survey_bridge: Bridge, asterisk_sandbox: AsteriskSandbox, tmp_path: Path
) -> None:
    call_id = await surveyed_call(
        survey_bridge, asterisk_sandbox, tmp_path / "sipp", "carrier_survey_hangup.xml"
    )
    rows = await stored(survey_bridge, call_id)
    assert [(r.question, r.status, r.value) for r in rows] == [
        ("csat", "no_answer", None),
        ("solved", "no_answer", None),
    ]
    assert {r.agent_id for r in rows} == {SIP_AGENT}
