"""AgentBook: agent status folded from app_queue's member events (header names as Asterisk 22 sends them)."""

from __future__ import annotations

import pytest

from acd.agent_state import AgentBook, AgentState

IFACE = "Local/{}@tongdai-agents/n"


def member(agent: str, queue: str = "mobile", **extra: str) -> dict[str, str]:
    return {"Queue": queue, "MemberName": agent, "Interface": IFACE.format(agent), **extra}


def call_event(agent: str, linkedid: str, queue: str = "mobile") -> dict[str, str]:
    return {**member(agent, queue), "Linkedid": linkedid, "Channel": f"Local/18001090@x-{linkedid};2"}


def status(book: AgentBook, agent: str) -> tuple[str, str]:
    st = book.get(agent)
    assert st is not None
    return st.status, st.reason


@pytest.fixture
def book() -> AgentBook:
    """Agent 1001 logged in to mobile (wrap-up 10 s) and internet (none), ready since t=100."""
    b = AgentBook(lambda q: {"mobile": 10.0}.get(q, 0.0))
    b.ensure("1001", 0.0)
    b.apply("QueueMemberAdded", member("1001", "mobile", Paused="0"), 100.0)
    b.apply("QueueMemberAdded", member("1001", "internet", Paused="0"), 101.0)
    return b


def test_unknown_agent_is_logged_out_until_asterisk_says_otherwise() -> None:
    b = AgentBook()
    [t] = b.ensure("1001", 5.0)
    assert t.previous is None and t.status_changed
    assert t.current == AgentState("1001", "logged_out", "", 5.0, ())
    assert b.ensure("1001", 6.0) == []  # nothing new: nothing to publish


def test_login_to_a_second_queue_keeps_the_status_and_its_start(book: AgentBook) -> None:
    st = book.get("1001")
    assert st == AgentState("1001", "ready", "", 100.0, ("internet", "mobile"))
    b = AgentBook()
    b.ensure("1001", 0.0)
    [first] = b.apply("QueueMemberAdded", member("1001", "mobile"), 100.0)
    assert first.previous is not None and first.previous.status == "logged_out"
    assert first.current.status == "ready" and first.status_changed
    [second] = b.apply("QueueMemberAdded", member("1001", "internet"), 101.0)
    # Only the queue list changed: published, but the ready period (and its log row) continues.
    assert not second.status_changed and second.current.since == 100.0


def test_repeated_events_produce_no_transitions(book: AgentBook) -> None:
    assert book.apply("QueueMemberStatus", member("1001", "mobile", Paused="0", Status="1"), 150.0) == []
    assert book.apply("QueueMemberPause", member("1001", "mobile", Paused="0"), 151.0) == []


def test_pause_with_reason_then_unpause(book: AgentBook) -> None:
    # QueuePause without a queue pauses the member everywhere: one event per queue, one transition.
    [t] = book.apply("QueueMemberPause", member("1001", "mobile", Paused="1", PausedReason="lunch"), 200.0)
    assert (
        book.apply("QueueMemberPause", member("1001", "internet", Paused="1", PausedReason="lunch"), 200.1)
        == []
    )
    assert t.status_changed and t.previous is not None
    assert (t.previous.status, t.previous.since) == ("ready", 100.0)
    assert (t.current.status, t.current.reason, t.current.since) == ("paused", "lunch", 200.0)
    # A new reason while paused is a new period (pause time is reported per reason).
    [t2] = book.apply("QueueMemberPause", member("1001", "mobile", Paused="1", PausedReason="meeting"), 230.0)
    assert t2.status_changed and t2.previous is not None and t2.previous.reason == "lunch"
    [t3] = book.apply("QueueMemberPause", member("1001", "mobile", Paused="0", PausedReason=""), 260.0)
    assert (t3.current.status, t3.current.reason, t3.current.since) == ("ready", "", 260.0)


def test_a_call_rings_connects_and_ends_in_wrap_up(book: AgentBook) -> None:
    [ring] = book.apply("AgentCalled", call_event("1001", "c1"), 300.0)
    assert ring.current.status == "ringing"
    [talk] = book.apply("AgentConnect", call_event("1001", "c1"), 302.0)
    assert talk.current.status == "on_call"
    [done] = book.apply("AgentComplete", call_event("1001", "c1", "mobile"), 400.0)
    assert done.current.status == "wrap_up" and done.wrap_up_seconds == 10.0
    assert book.end_wrap_up("1001", 410.0)[0].current == AgentState(
        "1001", "ready", "", 410.0, ("internet", "mobile")
    )
    assert book.end_wrap_up("1001", 411.0) == []  # a late timer changes nothing


def test_no_wrap_up_in_a_queue_without_one(book: AgentBook) -> None:
    book.apply("AgentCalled", call_event("1001", "c1", "internet"), 300.0)
    book.apply("AgentConnect", call_event("1001", "c1", "internet"), 301.0)
    [done] = book.apply("AgentComplete", call_event("1001", "c1", "internet"), 320.0)
    assert done.current.status == "ready" and done.wrap_up_seconds == 0.0


def test_pause_asked_during_a_call_applies_after_wrap_up(book: AgentBook) -> None:
    book.apply("AgentCalled", call_event("1001", "c1"), 300.0)
    book.apply("AgentConnect", call_event("1001", "c1"), 301.0)
    # The call goes on: the status stays on_call, the pause waits.
    assert book.apply("QueueMemberPause", member("1001", Paused="1", PausedReason="break"), 310.0) == []
    assert status(book, "1001") == ("on_call", "")
    book.apply("AgentComplete", call_event("1001", "c1"), 320.0)
    assert status(book, "1001") == ("wrap_up", "")
    [t] = book.end_wrap_up("1001", 330.0)
    assert (t.current.status, t.current.reason) == ("paused", "break")


def test_missed_rings_count_in_a_row_and_reset(book: AgentBook) -> None:
    for i in range(3):
        book.apply("AgentCalled", call_event("1001", f"c{i}"), 300.0 + i)
        [t] = book.apply("AgentRingNoAnswer", call_event("1001", f"c{i}"), 300.5 + i)
        assert t.current.status == "ready" and t.missed_rings == i + 1
    assert book.missed_rings("1001") == 3
    book.apply("AgentCalled", call_event("1001", "c9"), 310.0)
    book.apply("AgentConnect", call_event("1001", "c9"), 311.0)
    assert book.missed_rings("1001") == 0  # answering resets the count
    book.apply("AgentComplete", call_event("1001", "c9", "internet"), 320.0)
    book.apply("AgentCalled", call_event("1001", "c10"), 330.0)
    book.apply("AgentRingNoAnswer", call_event("1001", "c10"), 331.0)
    assert book.missed_rings("1001") == 1
    book.apply("QueueMemberPause", member("1001", Paused="1", PausedReason="auto_missed"), 332.0)
    assert book.missed_rings("1001") == 0  # so is a pause (after it, the agent starts afresh)


def test_caller_hanging_up_while_it_rings_frees_only_that_agent(book: AgentBook) -> None:
    book.apply("QueueMemberAdded", member("1002", "mobile"), 100.0)
    book.apply("AgentCalled", call_event("1001", "c1"), 300.0)
    book.apply("AgentCalled", call_event("1002", "c2"), 300.0)
    [t] = book.apply("QueueCallerAbandon", {"Queue": "mobile", "Linkedid": "c1"}, 303.0)
    assert t.current.agent_id == "1001" and t.current.status == "ready"
    assert status(book, "1002") == ("ringing", "")
    assert book.missed_rings("1001") == 0  # the agent did not miss it: the caller left


def test_ringall_losers_are_ready_again_when_another_agent_answers(book: AgentBook) -> None:
    book.apply("QueueMemberAdded", member("1002", "mobile"), 100.0)
    book.apply("QueueMemberAdded", member("1003", "mobile"), 100.0)
    for agent in ("1001", "1002", "1003"):
        book.apply("AgentCalled", call_event(agent, "c1"), 300.0)
    book.apply("AgentCalled", call_event("1003", "c2"), 300.5)  # 1003 now rings for another caller
    out = book.apply("AgentConnect", call_event("1002", "c1"), 302.0)
    assert {(t.current.agent_id, t.current.status) for t in out} == {("1001", "ready"), ("1002", "on_call")}
    assert status(book, "1003") == ("ringing", "")


def test_logout_clears_queues_pause_and_activity(book: AgentBook) -> None:
    book.apply("QueueMemberPause", member("1001", Paused="1", PausedReason="lunch"), 200.0)
    [t1] = book.apply("QueueMemberRemoved", member("1001", "mobile"), 210.0)
    assert (t1.current.status, t1.current.queues, t1.status_changed) == ("paused", ("internet",), False)
    [t2] = book.apply("QueueMemberRemoved", member("1001", "internet"), 211.0)
    assert t2.current == AgentState("1001", "logged_out", "", 211.0, ())
    # Logging in again starts ready, not paused with a stale reason.
    book.apply("QueueMemberAdded", member("1001", "mobile"), 300.0)
    assert status(book, "1001") == ("ready", "")


def test_logged_out_during_a_call_is_not_left_in_wrap_up(book: AgentBook) -> None:
    book.apply("AgentCalled", call_event("1001", "c1"), 300.0)
    book.apply("AgentConnect", call_event("1001", "c1"), 301.0)
    book.apply("QueueMemberRemoved", member("1001", "mobile"), 310.0)
    book.apply("QueueMemberRemoved", member("1001", "internet"), 310.0)
    book.apply("AgentComplete", call_event("1001", "c1", "mobile"), 320.0)
    assert status(book, "1001") == ("logged_out", "")
    book.apply("QueueMemberAdded", member("1001", "mobile"), 400.0)
    assert status(book, "1001") == ("ready", "")


def test_events_without_an_agent_or_of_other_kinds_are_ignored(book: AgentBook) -> None:
    assert book.apply("AgentCalled", {"Queue": "mobile", "Linkedid": "c1"}, 300.0) == []
    assert book.apply("QueueParams", member("1001"), 300.0) == []
    assert status(book, "1001") == ("ready", "")


def test_resync_replaces_what_events_said(book: AgentBook) -> None:
    book.apply("QueueMemberAdded", member("1002", "internet"), 100.0)
    book.apply("AgentCalled", call_event("1002", "c1", "internet"), 300.0)
    book.apply("QueueMemberAdded", member("1003", "tv"), 100.0)
    # QueueStatus after a reconnect (QueueMember: Name/Location): 1001 was paused in the meantime and
    # left internet, 1002 answered, 1003 is gone; 1004 was logged in by someone else.
    members = [
        {"Queue": "mobile", "Name": "1001", "Location": IFACE.format("1001"), "Paused": "1",
         "PausedReason": "training", "InCall": "0"},
        {"Queue": "internet", "Name": "1002", "Location": IFACE.format("1002"), "Paused": "0", "InCall": "1"},
        {"Queue": "tv", "Name": "1004", "Location": IFACE.format("1004"), "Paused": "0", "InCall": "0"},
    ]  # fmt: skip
    out = {t.current.agent_id: t.current for t in book.resync(members, 500.0)}
    assert (out["1001"].status, out["1001"].reason, out["1001"].queues) == ("paused", "training", ("mobile",))
    assert out["1002"].status == "on_call"
    assert (out["1003"].status, out["1003"].queues) == ("logged_out", ())
    assert (out["1004"].status, out["1004"].since) == ("ready", 500.0)
    assert book.resync(members, 600.0) == []  # the same picture again: nothing changed


def test_resync_ends_a_call_asterisk_no_longer_has(book: AgentBook) -> None:
    book.apply("AgentCalled", call_event("1001", "c1"), 300.0)
    book.apply("AgentConnect", call_event("1001", "c1"), 301.0)
    members = [{"Queue": "mobile", "Name": "1001", "Location": IFACE.format("1001"), "InCall": "0"}]
    [t] = book.resync(members, 500.0)
    assert (t.current.status, t.current.queues) == ("ready", ("mobile",))


def test_state_round_trips_through_json_and_unknown_status_reads_as_logged_out() -> None:
    st = AgentState("1001", "paused", "lunch", 12.5, ("internet", "mobile"))
    assert AgentState.from_json(st.to_json()) == st
    assert AgentState.from_json({"agent_id": "1001", "status": "dancing"}).status == "logged_out"


# --- device state: QueueMember* ``Status`` is the member's ast_device_state ------------------------


def test_unregistered_phone_makes_a_logged_in_agent_unavailable_not_ready() -> None:
    b = AgentBook()
    b.ensure("1001", 0.0)
    # What QueueAdd of PJSIP/1001 with no registered contact reports: Status 5 (unavailable).
    [t] = b.apply("QueueMemberAdded", member("1001", Paused="0", Status="5"), 100.0)
    assert (t.current.status, t.current.queues) == ("unavailable", ("mobile",))
    # The phone registers: app_queue reports the new device state, the agent is ready from then on.
    [up] = b.apply("QueueMemberStatus", member("1001", Paused="0", Status="1"), 130.0)
    assert up.status_changed and up.previous is not None
    assert (up.previous.status, up.previous.since, up.current.status, up.current.since) == (
        "unavailable",
        100.0,
        "ready",
        130.0,
    )
    # It drops off again (4 = invalid, e.g. the endpoint was removed): unavailable.
    [down] = b.apply("QueueMemberStatus", member("1001", Status="4"), 160.0)
    assert down.current.status == "unavailable"


@pytest.mark.parametrize("device", ["0", "1", "2", "3", "6", "7", "8"])
def test_every_other_device_state_is_a_reachable_phone(book: AgentBook, device: str) -> None:
    # Unknown, in use, busy, ringing, on hold: app_queue may still ring the member (or will, soon).
    assert book.apply("QueueMemberStatus", member("1001", Status=device), 150.0) == []
    assert status(book, "1001") == ("ready", "")


def test_a_pause_outranks_an_unreachable_phone_and_ends_into_it(book: AgentBook) -> None:
    book.apply("QueueMemberPause", member("1001", Paused="1", PausedReason="lunch"), 200.0)
    down = member("1001", Paused="1", PausedReason="lunch", Status="5")
    assert book.apply("QueueMemberStatus", down, 210.0) == []
    assert status(book, "1001") == ("paused", "lunch")  # the lunch period is not cut in two
    [t] = book.apply("QueueMemberPause", member("1001", Paused="0"), 260.0)
    assert (t.current.status, t.current.since) == ("unavailable", 260.0)


def test_a_call_in_progress_outranks_a_device_report(book: AgentBook) -> None:
    book.apply("AgentCalled", call_event("1001", "c1"), 300.0)
    book.apply("AgentConnect", call_event("1001", "c1"), 301.0)
    assert book.apply("QueueMemberStatus", member("1001", Status="5"), 305.0) == []
    [done] = book.apply("AgentComplete", call_event("1001", "c1", "internet"), 320.0)
    assert done.current.status == "unavailable"  # after the call, the phone is what is left


def test_logout_forgets_the_device_state(book: AgentBook) -> None:
    book.apply("QueueMemberStatus", member("1001", "mobile", Status="5"), 150.0)
    book.apply("QueueMemberRemoved", member("1001", "mobile"), 160.0)
    book.apply("QueueMemberRemoved", member("1001", "internet"), 160.0)
    # Re-added by something that does not report a device state: the stale "unavailable" is gone.
    book.apply("QueueMemberAdded", member("1001", "mobile"), 200.0)
    assert status(book, "1001") == ("ready", "")


def test_resync_takes_the_device_state_from_queue_status(book: AgentBook) -> None:
    members = [
        {"Queue": "mobile", "Name": "1001", "Location": IFACE.format("1001"), "Paused": "0", "InCall": "0",
         "Status": "5"},
    ]  # fmt: skip
    [t] = book.resync(members, 500.0)
    assert (t.current.status, t.current.queues) == ("unavailable", ("mobile",))
    members[0]["Status"] = "1"
    [t2] = book.resync(members, 510.0)
    assert t2.current.status == "ready"


def test_unavailable_round_trips_through_json() -> None:
    st = AgentState("1001", "unavailable", "", 12.5, ("mobile",))
    assert AgentState.from_json(st.to_json()) == st


def test_a_period_never_starts_before_the_one_it_follows(book: AgentBook) -> None:
    # Asterisk's stamp of a later event can be a hair behind the bridge's clock of the earlier one.
    book.apply("QueueMemberPause", member("1001", Paused="1", PausedReason="lunch"), 200.0)
    [t] = book.apply("QueueMemberPause", member("1001", Paused="0"), 199.99)
    assert t.current.since == 200.0 and t.previous is not None and t.previous.since == 200.0
