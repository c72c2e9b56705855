"""Tier routing policy: which waiting caller an agent takes next, and the app_queue priority to give each.

Pure rules: no I/O, no asyncio, no clock. The same objects drive the discrete-event simulator
(:mod:`acd.simulator`) and the live side (the AMI applier pushing ``QueueChangePriorityCaller``, or a
bridge-side dispatcher calling :meth:`pick_next`), so what the simulator measures is what runs.

Two policies share one interface (:class:`AcdPolicy`):

* :class:`StrictPriority` — a caller keeps its tier's base priority; lower tiers wait for as long as a
  higher tier has anyone waiting. Kept for comparison: at busy hours it starves the lowest tier.
* :class:`RoutingPolicy` — wait aging relative to the tier's target::

      priority = min(max_priority, base_priority + floor(aging_weight * waited / target_seconds))

  A caller gains ``aging_weight`` points for each full target-length it has waited, so a standard
  caller (60 s target) who has waited past its target outranks a gold caller who just arrived, while a
  VIP (15 s target) ages four times faster than standard and still goes first among equal waits.
  Priorities saturate at ``max_priority``; among saturated callers the longest-waiting goes first, which
  is what bounds every tier's worst wait. See docs/acd-policy.md for the reasoning and the figures.

Both policies give, for one tier, a priority that never falls as the wait grows, and break ties by the
longest wait. Consequently the longest-waiting caller of a tier always dominates the others of that
tier: a dispatcher need only offer :meth:`pick_next` the head of each tier's FIFO (the simulator does).
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Literal, Protocol, TypeVar

from pydantic import BaseModel, ConfigDict, Field, model_validator

from acd.agent_config import AgentsConfig

# app_queue's QUEUE_PRIO accepts any non-negative integer (higher = served first); we keep to 0..1000 so
# the numbers read well on a wallboard and in `queue show`.
PRIORITY_CEILING = 1000


@dataclass(frozen=True, slots=True)
class TierTarget:
    """A tier's entry priority and its service-level target: ``target_ratio`` of calls answered within
    ``target_seconds`` (e.g. standard: 0.80 in 60 s, the QCVN 36:2022 floor)."""

    name: str
    base_priority: int
    target_seconds: float
    target_ratio: float


@dataclass(frozen=True, slots=True)
class WaitingCaller:
    """A caller waiting for an agent. ``arrived_at`` is on the same clock as the ``now`` given to
    :meth:`AcdPolicy.pick_next` (monotonic seconds live, simulated seconds in the simulator)."""

    call_id: str
    tier: str
    arrived_at: float
    skill: str = ""


W = TypeVar("W", bound=WaitingCaller)

DEFAULT_TIERS: tuple[TierTarget, ...] = (
    TierTarget("vip", 300, 15.0, 0.90),
    TierTarget("gold", 25, 30.0, 0.85),
    TierTarget("standard", 10, 60.0, 0.80),
)

# Points gained per full target waited; see docs/acd-policy.md for how the defaults were chosen.
DEFAULT_AGING_WEIGHT = 16.0


class AcdPolicy(Protocol):
    """What the simulator and the live ACD need from a routing policy."""

    @property
    def name(self) -> str: ...

    @property
    def tiers(self) -> tuple[TierTarget, ...]: ...

    def target(self, tier: str) -> TierTarget: ...

    def initial_priority(self, tier: str) -> int: ...

    def effective_priority(self, tier: str, waited_seconds: float) -> int: ...

    def pick_next(self, waiting: Sequence[W], now: float) -> W | None: ...


class _TierPolicy:
    """Tier lookup, entry priority and selection; subclasses define :meth:`effective_priority`."""

    name = "base"

    def __init__(self, tiers: Iterable[TierTarget], *, max_priority: int = PRIORITY_CEILING) -> None:
        self._tiers = tuple(tiers)
        if not self._tiers:
            raise ValueError("at least one tier is needed")
        if not 1 <= max_priority <= PRIORITY_CEILING:
            raise ValueError(f"max_priority must be within 1..{PRIORITY_CEILING}")
        self.max_priority = max_priority
        names = [t.name for t in self._tiers]
        if len(set(names)) != len(names):
            raise ValueError(f"tier names must be unique: {names}")
        for t in self._tiers:
            if not 0 <= t.base_priority <= max_priority:
                raise ValueError(f"tier {t.name!r}: base_priority must be within 0..{max_priority}")
            if not (t.target_seconds > 0 and math.isfinite(t.target_seconds)):
                raise ValueError(f"tier {t.name!r}: target_seconds must be a positive number")
            if not 0 < t.target_ratio <= 1:
                raise ValueError(f"tier {t.name!r}: target_ratio must be within (0, 1]")
        self._by_name = {t.name: t for t in self._tiers}
        # Unknown tiers (a CRM value nobody mapped, a lookup that timed out) are served as the lowest
        # tier: never an exception in the middle of a call, never a free upgrade.
        self._lowest = min(self._tiers, key=lambda t: (t.base_priority, -t.target_seconds))

    @property
    def tiers(self) -> tuple[TierTarget, ...]:
        return self._tiers

    @property
    def lowest(self) -> TierTarget:
        return self._lowest

    def target(self, tier: str) -> TierTarget:
        """The tier's target; an unknown tier gets the lowest tier's."""
        return self._by_name.get(tier, self._lowest)

    def initial_priority(self, tier: str) -> int:
        """The ``QUEUE_PRIO`` a caller of this tier enters the queue with."""
        return self.target(tier).base_priority

    def effective_priority(self, tier: str, waited_seconds: float) -> int:
        raise NotImplementedError

    def pick_next(self, waiting: Sequence[W], now: float) -> W | None:
        """The caller an agent who just became free should take: highest effective priority, then the
        longest wait, then the first in ``waiting`` (so the result is deterministic)."""
        best: W | None = None
        best_key = (-1, -math.inf)
        for caller in waiting:
            waited = now - caller.arrived_at
            key = (self.effective_priority(caller.tier, waited), waited)
            if key > best_key:
                best, best_key = caller, key
        return best


class StrictPriority(_TierPolicy):
    """Every caller keeps the tier's base priority; FIFO within a priority (app_queue's default)."""

    name = "strict"

    def effective_priority(self, tier: str, waited_seconds: float) -> int:
        return self.target(tier).base_priority


class RoutingPolicy(_TierPolicy):
    """Wait aging relative to each tier's target (see the module docstring)."""

    name = "aging"

    def __init__(
        self,
        tiers: Iterable[TierTarget] = DEFAULT_TIERS,
        *,
        aging_weight: float = DEFAULT_AGING_WEIGHT,
        max_priority: int = PRIORITY_CEILING,
    ) -> None:
        super().__init__(tiers, max_priority=max_priority)
        if not (aging_weight >= 0 and math.isfinite(aging_weight)):
            raise ValueError("aging_weight must be a non-negative number")
        self.aging_weight = aging_weight

    def effective_priority(self, tier: str, waited_seconds: float) -> int:
        """Integer priority for app_queue after ``waited_seconds`` in queue (higher = served first)."""
        t = self.target(tier)
        # A clock step backwards must not push a caller below its entry priority.
        waited = max(0.0, waited_seconds)
        bonus = self.aging_weight * waited / t.target_seconds
        # The bonus is clamped before int() so an absurd wait (or inf) cannot overflow.
        return min(self.max_priority, t.base_priority + math.floor(min(bonus, float(self.max_priority))))

    def seconds_until_change(self, tier: str, waited_seconds: float) -> float | None:
        """How long after ``waited_seconds`` the caller's integer priority next rises, or None when it
        never will (saturated, or no aging). Lets the live applier schedule ``QueueChangePriorityCaller``
        instead of polling every caller."""
        t = self.target(tier)
        current = self.effective_priority(tier, waited_seconds)
        if current >= self.max_priority or self.aging_weight == 0:
            return None
        next_wait = (current + 1 - t.base_priority) * t.target_seconds / self.aging_weight
        return max(0.0, next_wait - max(0.0, waited_seconds))


# --- config.yaml: the ``acd:`` section --------------------------------------------------------------

_TIER_NAME = re.compile(r"^[a-z][a-z0-9_-]{0,31}$")


class TierTargetConfig(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str = Field(pattern=_TIER_NAME.pattern)
    # QUEUE_PRIO on entry; higher is served first.
    base_priority: int = Field(ge=0, le=PRIORITY_CEILING)
    # Service-level target: target_ratio of calls answered within target_seconds.
    target_seconds: float = Field(gt=0, le=3600)
    target_ratio: float = Field(gt=0, le=1)

    def to_target(self) -> TierTarget:
        return TierTarget(self.name, self.base_priority, self.target_seconds, self.target_ratio)


def _default_tier_configs() -> list[TierTargetConfig]:
    return [
        TierTargetConfig(
            name=t.name,
            base_priority=t.base_priority,
            target_seconds=t.target_seconds,
            target_ratio=t.target_ratio,
        )
        for t in DEFAULT_TIERS
    ]


class AcdPolicyConfig(BaseModel):
    """Tiers' service-level targets and the wait-aging knobs (the ``acd:`` section of config.yaml)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    # "aging" is the product's policy; "strict" exists to compare against (and as an escape hatch).
    policy: Literal["aging", "strict"] = "aging"
    tiers: list[TierTargetConfig] = Field(default_factory=_default_tier_configs, min_length=1)
    # Priority points a caller gains per full target-length waited. Just above the gold–standard gap
    # (16 > 25 − 10) so a standard caller overtakes a fresh gold caller at 56 s, before its target ends.
    aging_weight: float = Field(DEFAULT_AGING_WEIGHT, ge=0, le=PRIORITY_CEILING)
    max_priority: int = Field(PRIORITY_CEILING, ge=1, le=PRIORITY_CEILING)
    # How often the live side re-applies aged priorities with QueueChangePriorityCaller; the policy
    # itself is clock-free and does not read it.
    refresh_seconds: float = Field(5.0, gt=0, le=300)
    # Agent login, pause reasons and auto-pause (acd/agents.py).
    agents: AgentsConfig = Field(default_factory=AgentsConfig)

    @model_validator(mode="after")
    def _consistent(self) -> AcdPolicyConfig:
        names = [t.name for t in self.tiers]
        if len(set(names)) != len(names):
            raise ValueError(f"acd.tiers: tier names must be unique, got {names}")
        for t in self.tiers:
            if t.base_priority > self.max_priority:
                raise ValueError(f"acd.tiers.{t.name}: base_priority exceeds max_priority")
        return self

    def targets(self) -> tuple[TierTarget, ...]:
        return tuple(t.to_target() for t in self.tiers)

    def to_policy(self) -> RoutingPolicy:
        """The aging policy described by this section (whatever ``policy`` says; see :meth:`build`)."""
        return RoutingPolicy(self.targets(), aging_weight=self.aging_weight, max_priority=self.max_priority)

    def to_strict(self) -> StrictPriority:
        """Strict priority over the same tiers, for comparison."""
        return StrictPriority(self.targets(), max_priority=self.max_priority)

    def build(self) -> RoutingPolicy | StrictPriority:
        """The policy selected by ``policy``."""
        return self.to_strict() if self.policy == "strict" else self.to_policy()
