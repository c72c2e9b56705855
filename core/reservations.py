"""Agents kept for dials in progress, shared by every dialler of the node (the callback dialler in
ivr/, the campaign dialler and preview offers in campaigns/), so two of them never count one free
agent for two customers.

A dialler that places a call for a ready agent keeps that agent (:meth:`AgentReservations.hold`,
naming itself as ``owner``) until the dial's slot frees, then releases the token. Before it counts
the ready agents of a round it asks :meth:`free`, which leaves out what the *other* owners keep (its
own dials it already counts itself): the agent a hold names, while that agent is ready; and when the
agent a hold names is no longer ready (app_queue gave them another call), one other ready agent of the
hold's queue, the one with the fewest queues — the customer of that dial still needs an agent of
that queue. Holds are made at the moment an agent is counted (no ``await`` in between), so two rounds
running at once cannot both count one agent.

Holds live in this process: one node's diallers share them (the diallers run on one node of a
cluster; see docs/campaigns.md).
"""

from __future__ import annotations

import itertools
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Protocol, TypeVar

__all__ = ["AgentReservations", "Hold", "ReadyLike"]


class ReadyLike(Protocol):
    @property
    def agent_id(self) -> str: ...
    @property
    def queues(self) -> frozenset[str]: ...


A = TypeVar("A", bound=ReadyLike)


@dataclass(frozen=True)
class Hold:
    owner: str  # "callback-dialler", "campaign-dialler", "preview"…
    agent_id: str
    queue: str | None  # the queue the dial's customer will wait in (None: the agent only)


class AgentReservations:
    def __init__(self) -> None:
        self._holds: dict[int, Hold] = {}
        self._ids = itertools.count(1)

    def hold(self, owner: str, agent_id: str, queue: str | None = None) -> int:
        """Keep ``agent_id`` for a dial of ``owner``; the token to release it with."""
        token = next(self._ids)
        self._holds[token] = Hold(owner, agent_id, queue)
        return token

    def release(self, token: int | None) -> None:
        if token is not None:
            self._holds.pop(token, None)

    def holds(self) -> list[Hold]:
        return list(self._holds.values())

    def kept(self, agent_id: str, *, except_owner: str | None = None) -> bool:
        """Whether a hold (of another owner than ``except_owner``) names ``agent_id``."""
        return any(h.agent_id == agent_id and h.owner != except_owner for h in self._holds.values())

    def free(self, ready: Iterable[A], owner: str) -> list[A]:
        """``ready`` less the agents the other owners' holds keep, fewest queues first."""
        agents = sorted(ready, key=lambda a: (len(a.queues), a.agent_id))
        others = [h for h in self._holds.values() if h.owner != owner]
        named = {h.agent_id for h in others}
        present = {a.agent_id for a in agents}
        out: list[A] = [a for a in agents if a.agent_id not in named]
        for h in others:
            if h.agent_id in present or h.queue is None:
                continue
            # The held agent went elsewhere: the dial's customer still needs one of that queue.
            out = _without_one_of(out, h.queue)
        return out


def _without_one_of(agents: Sequence[A], queue: str) -> list[A]:
    for i, a in enumerate(agents):
        if queue in a.queues:
            return [*agents[:i], *agents[i + 1 :]]
    return list(agents)
