"""Erlang C: the M/M/N queue's probability of waiting, service level and average speed of answer.

Used to size staff and to validate the simulator on a single FIFO queue. The probability of waiting is
computed through the Erlang B recursion ``B(k) = A·B(k-1) / (k + A·B(k-1))``, which stays within
[0, 1] at every step: no factorials or powers of A, so it is exact to float precision for hundreds of
agents (the textbook formula overflows near 170 agents).

Units: ``traffic`` in Erlangs (arrival rate × mean handling time), times in seconds.
"""

from __future__ import annotations

import math


def _check(traffic: float, agents: int) -> None:
    if not (traffic >= 0 and math.isfinite(traffic)):
        raise ValueError("traffic must be a non-negative number of Erlangs")
    if agents < 1:
        raise ValueError("at least one agent is needed")


def erlang_b(traffic: float, agents: int) -> float:
    """Blocking probability of an M/M/N/N loss system (Erlang B)."""
    _check(traffic, agents)
    b = 1.0
    for k in range(1, agents + 1):
        b = traffic * b / (k + traffic * b)
    return b


def prob_wait(traffic: float, agents: int) -> float:
    """Erlang C: probability that an arriving call waits. 1.0 when the queue is unstable (A ≥ N)."""
    _check(traffic, agents)
    if traffic >= agents:
        return 1.0
    b = erlang_b(traffic, agents)
    return agents * b / (agents - traffic * (1.0 - b))


def service_level(traffic: float, agents: int, aht: float, t: float) -> float:
    """Share of calls answered within ``t`` seconds: ``1 − C·exp(−(N−A)·t/AHT)``."""
    if aht <= 0:
        raise ValueError("aht must be positive")
    if traffic >= agents:
        return 0.0
    c = prob_wait(traffic, agents)
    return 1.0 - c * math.exp(-(agents - traffic) * max(0.0, t) / aht)


def average_speed_of_answer(traffic: float, agents: int, aht: float) -> float:
    """Mean wait over all calls (those answered at once count as 0): ``C·AHT/(N−A)``; inf if unstable."""
    if aht <= 0:
        raise ValueError("aht must be positive")
    if traffic >= agents:
        return math.inf
    return prob_wait(traffic, agents) * aht / (agents - traffic)


def occupancy(traffic: float, agents: int) -> float:
    """Agents' busy share in the long run (capped at 1 when overloaded)."""
    _check(traffic, agents)
    return min(1.0, traffic / agents)


def agents_for_service_level(traffic: float, aht: float, t: float, target: float) -> int:
    """Fewest agents giving ``service_level(...) >= target`` (``target`` in (0, 1))."""
    if not 0 < target < 1:
        raise ValueError("target must be within (0, 1)")
    n = max(1, math.floor(traffic) + 1)
    while service_level(traffic, n, aht, t) < target:
        n += 1
    return n
