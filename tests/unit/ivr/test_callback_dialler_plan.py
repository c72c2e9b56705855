"""The automatic callback dialler's pure parts: which request is dialled next, when, how many at once;
the Originate it sends (CR/LF and dial-string safety) and how AMI's answer maps to an outcome."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest
from pydantic import ValidationError

from core.ami import AmiEvent
from core.errors import ConfigError, UnsafeValue
from ivr.callback_ami import InvalidCallbackNumber, originate_fields, outcome_of
from ivr.callback_config import CallbackDiallerConfig
from ivr.callback_dialler import DialJob, PlannedDial, ReadyAgent, plan_dials
from ivr.callbacks import CallbackView
from tests.support.settings import make_settings

T0 = datetime(2026, 12, 1, 3, 0, tzinfo=UTC)


def req(rid: int, queue: str | None, prio: int = 10) -> CallbackView:
    return CallbackView(rid, f"09120000{rid:02d}", None, f"c{rid}", T0, "pending", priority=prio, queue=queue)


def agent(aid: str, *queues: str) -> ReadyAgent:
    return ReadyAgent(aid, frozenset(queues))


def plan(
    pending: list[CallbackView], ready: list[ReadyAgent], in_flight: dict[str, int] | None = None, **kw: int
) -> list[PlannedDial]:
    return plan_dials(
        pending,
        ready,
        in_flight or {},
        max_per_queue=kw.get("max_per_queue", 5),
        queue_of=lambda r: r.queue or "care",
    )


def test_worklist_order_is_kept_and_one_free_agent_takes_one_request() -> None:
    # pending() hands the requests in worklist order (VIP first): the first one of the queue wins.
    vip, std = req(2, "tv", 300), req(1, "tv", 10)
    got = plan([vip, std], [agent("1004", "tv")])
    assert [(p.request.id, p.queue, p.agent_id) for p in got] == [(2, "tv", "1004")]


def test_no_free_agent_in_the_queue_means_no_dial() -> None:
    assert plan([req(1, "tv")], [agent("1001", "mobile")]) == []
    assert plan([req(1, "tv")], []) == []


def test_a_blocked_queue_does_not_hold_back_another_queue() -> None:
    got = plan([req(1, "tv", 300), req(2, "mobile", 10)], [agent("1001", "mobile")])
    assert [p.request.id for p in got] == [2]


def test_dials_in_flight_hold_their_agents() -> None:
    ready = [agent("1", "tv"), agent("2", "tv")]
    assert [p.request.id for p in plan([req(1, "tv"), req(2, "tv")], ready, {"tv": 1})] == [1]
    assert plan([req(1, "tv")], ready, {"tv": 2}) == []


def test_concurrency_is_capped_per_queue() -> None:
    ready = [agent(str(i), "tv") for i in range(5)]
    got = plan([req(i, "tv") for i in range(1, 6)], ready, {"tv": 1}, max_per_queue=3)
    assert [p.request.id for p in got] == [1, 2]


def test_an_agent_in_several_queues_is_counted_once_and_kept_for_the_queue_only_they_serve() -> None:
    ready = [agent("multi", "tv", "mobile"), agent("tvonly", "tv")]
    got = plan([req(1, "tv"), req(2, "mobile"), req(3, "tv")], ready)
    # tv's request takes the tv-only agent, so the multi-skilled one is still there for mobile.
    assert [(p.request.id, p.agent_id) for p in got] == [(1, "tvonly"), (2, "multi")]


def test_requests_without_a_known_queue_go_to_the_default_queue() -> None:
    got = plan([req(1, None)], [agent("1003", "care")])
    assert [(p.request.id, p.queue) for p in got] == [(1, "care")]


# --- config -------------------------------------------------------------------------------------


def test_dialler_is_off_by_default_and_office_hours_skip_sundays_and_holidays() -> None:
    from ivr.hours import is_open

    cfg = make_settings().callbacks.dialler
    assert cfg.enabled is False
    assert is_open(cfg.hours, datetime(2026, 12, 1, 3, 0, tzinfo=UTC))  # Tue 10:00 in Hà Nội
    assert not is_open(cfg.hours, datetime(2026, 12, 6, 3, 0, tzinfo=UTC))  # Sunday
    assert not is_open(cfg.hours, datetime(2026, 12, 1, 14, 0, tzinfo=UTC))  # 21:00
    assert not is_open(cfg.hours, datetime(2026, 9, 2, 3, 0, tzinfo=UTC))  # Quốc khánh


def test_the_dialler_has_no_dial_string_of_its_own() -> None:
    # It leaves through the outbound routes (trunks.outbound) like click-to-call; the old key is refused.
    with pytest.raises(ValidationError, match="dial_string"):
        CallbackDiallerConfig.model_validate({"dial_string": "PJSIP/{number}@trunk"})


def test_callback_node_queue_must_exist() -> None:
    ivr: dict[str, Any] = {
        "default_language": "vi",
        "languages": ["vi", "en"],
        "entry": "cb",
        "fallback": "agent",
        "nodes": {
            "cb": {"type": "callback", "next": "agent", "queue": "nowhere"},
            "agent": {"type": "transfer", "queue": "care"},
        },
    }
    with pytest.raises(
        (ConfigError, ValidationError), match=r"ivr\.nodes\.cb\.queue: calls back into unknown queue"
    ):
        make_settings(ivr=ivr)
    ivr["nodes"]["cb"]["queue"] = "BAD QUEUE"
    with pytest.raises(ValidationError, match="queue"):
        make_settings(ivr=ivr)
    ivr["nodes"]["cb"]["queue"] = "tv"
    assert make_settings(ivr=ivr).ivr.callback_queues() == {"cb": "tv"}


# --- AMI edge -----------------------------------------------------------------------------------

JOB = DialJob(7, "0912345678", "tv", 300, "vip", "KH0000000001")
CFG = CallbackDiallerConfig(enabled=True, ring_timeout=20)


def test_originate_carries_queue_priority_and_customer() -> None:
    f = originate_fields(JOB, CFG, channel_id="cb-7-ab", caller_id="18001090", max_wait=600)
    assert f["Channel"] == "Local/0912345678@tongdai-dialout/n"
    assert (f["Context"], f["Exten"], f["Async"], f["Timeout"]) == ("tongdai-callback", "s", "true", "20000")
    assert f["ChannelId"] == f["ActionID"] == "cb-7-ab"
    assert {"TONGDAI_QUEUE=tv", "TONGDAI_PRIO=300", "TONGDAI_CUSTOMER=KH0000000001"} <= set(f["Variable"])


@pytest.mark.parametrize("number", ["0912\r\nAction: Command", "0912345678,1", "abc", ""])
def test_a_number_that_is_not_digits_is_never_sent(number: str) -> None:
    job = DialJob(7, number, "tv", 300, "vip", None)
    with pytest.raises(InvalidCallbackNumber):
        originate_fields(job, CFG, channel_id="x", caller_id="18001090", max_wait=600)


def test_unsafe_values_are_refused() -> None:
    with pytest.raises(InvalidCallbackNumber):
        originate_fields(
            DialJob(7, "0912345678", "tv", 1, "vip", "KH1,Foo=1"),
            CFG,
            channel_id="x",
            caller_id="1",
            max_wait=1,
        )
    with pytest.raises(UnsafeValue):
        originate_fields(JOB, CFG, channel_id="x\r\nAction: Command", caller_id="1", max_wait=1)


@pytest.mark.parametrize(
    ("response", "reason", "outcome"),
    [
        ("Success", "4", "reached"),
        ("Failure", "5", "busy"),
        ("Failure", "3", "no_answer"),
        ("Failure", "0", "no_answer"),
    ],
)
def test_originate_response_maps_to_an_outcome(response: str, reason: str, outcome: str) -> None:
    assert outcome_of(AmiEvent("OriginateResponse", {"Response": response, "Reason": reason})) == outcome
