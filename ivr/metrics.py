"""IVR metrics for the wallboard: containment and drop-off per node.

* **containment** = calls that ended in self-service / all calls that went through the IVR;
* **drop-off per node** = callers who hung up in the IVR, counted by the last node they visited.

Two sources give the same numbers: :class:`IvrMetrics` counts live (prometheus-client counters, fed by
the FastAGI route as each session finishes, which also publishes ``ivr.finished`` on the bus), and
:func:`stats_from_records` recomputes them from the ``calls`` table for any period (reports, and a
wallboard that starts after calls were taken).
"""

from __future__ import annotations

from collections import Counter as Tally
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from prometheus_client import CollectorRegistry, Counter
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from core.models import CallRecord

CONTAINED = "self_served"
DROPPED = "hung_up"


@dataclass(frozen=True)
class IvrStats:
    calls: int = 0
    self_served: int = 0
    outcomes: Mapping[str, int] = field(default_factory=dict)
    dropoff: Mapping[str, int] = field(default_factory=dict)  # last node → hangups there

    @property
    def containment(self) -> float:
        return self.self_served / self.calls if self.calls else 0.0

    def to_json(self) -> dict[str, Any]:
        return {
            "calls": self.calls,
            "self_served": self.self_served,
            "containment": round(self.containment, 4),
            "outcomes": dict(self.outcomes),
            "dropoff": dict(self.dropoff),
        }


def last_node(path: Sequence[str]) -> str:
    """The node of the last path entry (``"main:1"`` → ``"main"``); ``""`` for an empty path."""
    return path[-1].split(":", 1)[0] if path else ""


def tally(rows: Iterable[tuple[str, Sequence[str]]]) -> IvrStats:
    """Stats from (outcome, path) pairs; calls that never reached the IVR (no outcome) are left out."""
    outcomes: Tally[str] = Tally()
    dropoff: Tally[str] = Tally()
    for outcome, path in rows:
        if not outcome:
            continue
        outcomes[outcome] += 1
        if outcome == DROPPED:
            dropoff[last_node(path) or "?"] += 1
    return IvrStats(sum(outcomes.values()), outcomes[CONTAINED], dict(outcomes), dict(dropoff))


async def stats_from_records(
    sessions: async_sessionmaker[AsyncSession], since: datetime | None = None, until: datetime | None = None
) -> IvrStats:
    """Containment and drop-off from the stored call records (``started_at`` in [since, until))."""
    q = select(CallRecord.ivr_outcome, CallRecord.ivr_path).where(CallRecord.ivr_outcome != "")
    if since is not None:
        q = q.where(CallRecord.started_at >= since)
    if until is not None:
        q = q.where(CallRecord.started_at < until)
    async with sessions() as s:
        rows = (await s.execute(q)).all()
    return tally((outcome, path or []) for outcome, path in rows)


class IvrMetrics:
    """Live counters. Pass a registry to expose them (the default is a private one, so several
    bridges in one process, as in tests, do not collide on metric names)."""

    def __init__(self, registry: CollectorRegistry | None = None) -> None:
        self.registry = registry or CollectorRegistry(auto_describe=True)
        self.finished_total = Counter(
            "tongdai_ivr_finished", "IVR sessions by outcome", ["outcome"], registry=self.registry
        )
        self.dropoff_total = Counter(
            "tongdai_ivr_dropoff",
            "Callers who hung up in the IVR, by last node",
            ["node"],
            registry=self.registry,
        )

    def observe(self, outcome: str, path: Sequence[str]) -> None:
        if not outcome:
            return
        self.finished_total.labels(outcome).inc()
        if outcome == DROPPED:
            self.dropoff_total.labels(last_node(path) or "?").inc()

    def snapshot(self) -> IvrStats:
        """The numbers for the wallboard, read back from the counters."""
        outcomes: dict[str, int] = {}
        dropoff: dict[str, int] = {}
        for metric in self.registry.collect():
            for sample in metric.samples:
                if not sample.name.endswith("_total"):
                    continue
                if metric.name == "tongdai_ivr_finished":
                    outcomes[sample.labels["outcome"]] = int(sample.value)
                elif metric.name == "tongdai_ivr_dropoff":
                    dropoff[sample.labels["node"]] = int(sample.value)
        return IvrStats(sum(outcomes.values()), outcomes.get(CONTAINED, 0), outcomes, dropoff)
