"""Chats routed like calls: tier priority with aging, agent capacity, no chat on a call when the queue
says so, the customer's position, the callback offer after a wait; delivery states only advance."""

from __future__ import annotations

import pytest

from acd.policy import AcdPolicyConfig
from webchat.channel import Identity, advances
from webchat.dispatch import ChatAgent, ChatDispatcher, ChatQueueRules, WaitingChat

POLICY = AcdPolicyConfig().build()


def dispatcher() -> ChatDispatcher:
    return ChatDispatcher(
        POLICY,
        {
            "internet": ChatQueueRules("internet", offer_callback_after=120),
            "billing": ChatQueueRules("billing", no_chat_while_on_call=False),
        },
    )


def test_a_gold_chat_is_offered_before_a_standard_one_that_waited_less_long() -> None:
    d = dispatcher()
    d.join(WaitingChat("std", "standard", arrived_at=0.0, queue="internet"))
    d.join(WaitingChat("gold", "gold", arrived_at=10.0, queue="internet"))
    agent = ChatAgent("1001", frozenset({"internet"}), capacity=2)
    got = d.next_for(agent, now=12.0)
    assert got is not None and got.call_id == "gold"
    assert d.position("gold", 12.0) == 1 and d.position("std", 12.0) == 2
    # Aging: a standard chat past its target outranks a gold chat that just arrived.
    d2 = dispatcher()
    d2.join(WaitingChat("old-std", "standard", arrived_at=0.0, queue="internet"))
    d2.join(WaitingChat("new-gold", "gold", arrived_at=299.0, queue="internet"))
    assert (c := d2.next_for(agent, now=300.0)) is not None and c.call_id == "old-std"


def test_capacity_calls_and_queues_limit_who_takes_a_chat() -> None:
    d = dispatcher()
    full = ChatAgent("1001", frozenset({"internet"}), capacity=2, chats=2)
    on_call = ChatAgent("1002", frozenset({"internet", "billing"}), capacity=3, on_call=True)
    busy = ChatAgent("1003", frozenset({"internet"}), capacity=3, chats=1, free_since=5)
    idle = ChatAgent("1004", frozenset({"internet"}), capacity=3, chats=1, free_since=2)
    paused = ChatAgent("1005", frozenset({"internet"}), capacity=3, ready=False)
    agents = [full, on_call, busy, idle, paused]
    assert d.agent_for("internet", agents) is idle  # fewest chats, then free longest
    assert d.agent_for("billing", agents) is on_call  # billing allows chats during a call
    d.join(WaitingChat("c1", "standard", arrived_at=0.0, queue="internet"))
    assert d.next_for(full, 1.0) is None and d.next_for(on_call, 1.0) is None
    with pytest.raises(KeyError):
        d.join(WaitingChat("x", "standard", arrived_at=0.0, queue="tv"))


def test_long_waits_are_offered_the_callback_form_and_leave_removes() -> None:
    d = dispatcher()
    d.join(WaitingChat("c1", "standard", arrived_at=0.0, queue="internet"))
    d.join(WaitingChat("c2", "standard", arrived_at=50.0, queue="internet"))
    assert [c.call_id for c in d.due_for_callback(now=130.0)] == ["c1"]
    assert d.leave("c1") is not None and d.leave("c1") is None
    assert d.position("c2", 130.0) == 1 and d.position("c1", 130.0) is None


def test_delivery_states_only_advance_and_identity_rules() -> None:
    assert advances(None, "sent") and advances("sent", "read") and not advances("read", "delivered")
    assert Identity(None, "+84912345678", verified=False).phone == "+84912345678"
    with pytest.raises(ValueError, match="verified"):
        Identity(None, None, verified=True)
