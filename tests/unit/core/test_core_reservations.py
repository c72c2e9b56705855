"""The node's agent reservations (core/reservations.py): what one dialler keeps, the others do not
count; a dialler's own holds it counts itself; a held agent gone elsewhere still costs the hold's
queue one agent; released holds free their agent."""

from __future__ import annotations

from dataclasses import dataclass

from core.reservations import AgentReservations


@dataclass(frozen=True)
class Agent:
    agent_id: str
    queues: frozenset[str]


def agents(*spec: tuple[str, str]) -> list[Agent]:
    return [Agent(a, frozenset(q.split(","))) for a, q in spec]


def ids(xs: list[Agent]) -> list[str]:
    return [a.agent_id for a in xs]


def test_an_agent_kept_by_one_dialler_is_not_free_for_another() -> None:
    r = AgentReservations()
    ready = agents(("1002", "tv,mobile"), ("1001", "tv"))
    assert ids(r.free(ready, "campaign-dialler")) == ["1001", "1002"]  # fewest queues first
    token = r.hold("callback-dialler", "1001", "tv")
    assert ids(r.free(ready, "campaign-dialler")) == ["1002"]
    assert ids(r.free(ready, "callback-dialler")) == ["1001", "1002"]  # its own: it counts them itself
    assert r.kept("1001") and not r.kept("1001", except_owner="callback-dialler")
    r.release(token)
    r.release(token)  # twice is harmless
    assert ids(r.free(ready, "campaign-dialler")) == ["1001", "1002"]


def test_a_held_agent_gone_elsewhere_still_costs_its_queue_one_agent() -> None:
    r = AgentReservations()
    r.hold("callback-dialler", "1009", "tv")  # 1009 took another call: no longer ready
    ready = agents(("1003", "mobile"), ("1002", "tv,mobile"), ("1001", "tv"))
    assert ids(r.free(ready, "campaign-dialler")) == ["1003", "1002"]
    # A preview hold names the agent only: gone elsewhere, it costs nothing.
    r2 = AgentReservations()
    r2.hold("preview", "1009")
    assert ids(r2.free(ready, "campaign-dialler")) == ["1001", "1003", "1002"]
