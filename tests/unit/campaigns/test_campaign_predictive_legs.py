"""What the dialler learns about a campaign leg after the answer (AMD, connected, abandoned, ended) from
AMI events, the per-campaign pacing state fed by it, and AMD's parameters as the dialplan gets them."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from campaigns.amd import AmdSettings, outcome_after_amd
from campaigns.pacing import PacingConfig
from campaigns.predictive import CampaignLegs, PredictivePacing
from core.ami import AmiEvent


def user(step: str, contact: int, **h: str) -> AmiEvent:
    return AmiEvent("UserEvent", {"UserEvent": "TongdaiCampaign", "Step": step, "Contact": str(contact), **h})


async def test_amd_machine_abandoned_connected_and_gone() -> None:
    legs = CampaignLegs()
    for contact in (1, 2, 3, 4):
        legs.expect(contact, 7)
    await legs.handle(user("amd", 1, AmdStatus="MACHINE", AmdCause="LONGGREETING-2000-1500"))
    assert await legs.result(1, 1) == "machine"
    assert legs.amd(1) == ("MACHINE", "LONGGREETING-2000-1500")

    await legs.handle(user("amd", 2, AmdStatus="HUMAN", AmdCause="HUMAN-800-800"))
    await legs.handle(user("abandoned", 2, AnsweredAt="100.250", MessageAt="101.500"))
    assert await legs.result(2, 1) == "abandoned"
    assert legs.amd(2) == ("HUMAN", "HUMAN-800-800") and legs.message_delay(2) == pytest.approx(1.25)

    connect = {"Linkedid": "cmp-3-0a1b2c3d", "MemberName": "1051", "Interface": "Local/1051@tongdai-agents/n"}
    await legs.handle(AmiEvent("AgentConnect", connect))
    assert await legs.result(3, 1) == "connected"
    assert legs.busy_agents() == {"1051"}  # busy for the dialler before the ACD says so
    await legs.handle(AmiEvent("AgentComplete", {"Linkedid": "cmp-3-0a1b2c3d"}))
    await legs.ended(3, 1)  # returns at once: the call ended
    assert legs.busy_agents() == set()

    await legs.handle(AmiEvent("Hangup", {"Uniqueid": "cmp-4-0a1b2c3d;2"}))  # the other half: ignored
    assert await legs.result(4, 0.05) == "gone"  # (timed out)
    await legs.handle(AmiEvent("Hangup", {"Uniqueid": "cmp-4-0a1b2c3d"}))
    assert await legs.result(4, 1) == "gone"

    # Other user events, unknown contacts and foreign calls change nothing.
    await legs.handle(AmiEvent("UserEvent", {"UserEvent": "Other", "Step": "abandoned", "Contact": "5"}))
    await legs.handle(user("abandoned", 99))
    await legs.handle(user("abandoned", "x"))  # type: ignore[arg-type]
    await legs.handle(AmiEvent("AgentConnect", {"Linkedid": "cb-5-0a1b2c3d"}))
    legs.forget(1)
    assert legs.amd(1) is None and await legs.result(1, 1) == "gone"


def test_pacing_counts_ringing_waiting_and_busy_agents() -> None:
    now = [1000.0]
    pacing = PredictivePacing(
        PacingConfig(mode="predictive", ratio_start=1.0, lookahead_seconds=10), wrapup={"tv": 2.0},
        clock=lambda: now[0],
    )  # fmt: skip
    # Stored counts: 200 dials, half answered by a person, none abandoned: it dials ahead at once.
    pacing.resume(7, dialled=200, answered=100, abandoned=0)
    assert pacing.dials(7, "tv", 2) == 4  # (1.0 × 2 − 0.5 × 0) / 0.5
    for contact in (11, 12, 13, 14):
        pacing.placed(7, contact)
    assert pacing.dials(7, "tv", 2) == 0  # 4 ringing × 0.5 = the 2 agents
    pacing.answered(7, 14, reached=False)
    now[0] += 3.0
    pacing.answered(7, 11, reached=True)
    assert list(pacing._campaigns[7].answer_delays) == [3.0]  # the lookahead, measured
    assert pacing.dials(7, "tv", 2) < 2  # 2 ringing + 1 waiting for an agent
    pacing.settled(7, 11, "connected")
    assert pacing.pacer(7).answered == 101 and pacing.pacer(7).abandoned == 0
    # The connected call's agent: mean talk (60 s at first) + wrap-up — not soon.
    assert pacing.dials(7, "tv", 0) == 0
    now[0] += 5.0
    pacing.ended(7, 11)  # 5 s of talk measured: the next estimates come down
    assert pacing._campaigns[7].mean_talk == pytest.approx(60 - 0.2 * 55)
    pacing.settled(7, 12, "abandoned")
    pacing.settled(7, 13, "machine")  # a machine is not an answered call
    assert (pacing.pacer(7).answered, pacing.pacer(7).abandoned) == (102, 1)
    outcomes = pacing.pacer(7).outcomes
    pacing.placed(7, 15)
    pacing.answered(7, 15, reached=False, placed=False)  # never left (no AMI link): not measured
    assert pacing.pacer(7).outcomes == outcomes and pacing._campaigns[7].ringing == 2
    assert not pacing.known(8) and pacing.dials(8, "tv", 3) == 3  # a new campaign: progressive first


def test_amd_settings() -> None:
    assert AmdSettings().dialplan_value() == "2500_1500_800_5000_100_50_2_256_5000"
    assert AmdSettings(greeting=2000, maximum_number_of_words=3).dialplan_value().split("_")[1::5] == [
        "2000",
        "3",
    ]
    with pytest.raises(ValidationError):
        AmdSettings.model_validate({"greeting": 5, "typo": 1})
    assert outcome_after_amd("MACHINE") == "machine"
    assert outcome_after_amd("NOTSURE") is None and outcome_after_amd("HUMAN") is None
