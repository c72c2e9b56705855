"""The wallboard with two nodes: a node's start-up "logged out" of an agent logged in on the other node
does not replace that node's state; a real logout does."""

from __future__ import annotations

from agent_desktop.wallboard import Wallboard


async def _push(_: dict[str, object]) -> None:
    return None


def test_a_starting_nodes_logged_out_keeps_the_other_nodes_state() -> None:
    wb = Wallboard(_push, queues={"mobile": "Di động"}, agents={"1001": "An"}, queue_sl=20, tier_sl={})
    wb.set_agent({"agent_id": "1001", "status": "ready", "since": 100.0, "queues": ["mobile"]})
    assert not wb.set_agent({"agent_id": "1001", "status": "logged_out", "since": 200.0, "first": True})
    assert wb.agents["1001"]["status"] == "ready"
    assert wb.set_agent({"agent_id": "1001", "status": "logged_out", "since": 300.0, "queues": []})
    assert wb.agents["1001"]["status"] == "logged_out"
    # Nothing known yet: a node's first word is taken.
    assert wb.set_agent({"agent_id": "1002", "status": "logged_out", "since": 1.0, "first": True})
    assert wb.agents["1002"]["status"] == "logged_out"
