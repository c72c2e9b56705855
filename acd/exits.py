"""What happens to a caller who reaches a queue's maximum wait: the ``queue_exits:`` section and its rule.

Pure rules, no I/O. The brief is "nobody waits forever, no caller is ever hung up on for waiting too
long", so every queue has an exit, and the default one offers a callback that keeps the caller's place:

* ``overflow`` — into another queue (``to``), with the caller's *aged* priority (what the aging policy
  gives them for the time already waited, so they do not start again at the back) and the wait clock
  still running from the first queue;
* ``callback`` — "press 1 to be called back (keeping your place), 2 to keep waiting"; the worklist row
  carries the aged priority; only a caller who declines hears the goodbye;
* ``voicemail`` — Asterisk's VoiceMail() to ``mailbox``;
* ``goodbye`` — a polite message, then the call ends (allowed, never the default).

Rules are per queue, optionally per ACD tier within a queue (``tiers: {vip: …}``), and ``default``
applies to queues not listed. ``after_seconds`` overrides the queue's ``max_wait``. An overflow chain
longer than ``max_hops`` (or one that would come back to a queue already visited) ends in the callback
offer, so a misjudged chain cannot bounce a caller for ever; :func:`check_exits` refuses cycles anyway.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Literal, Protocol

from pydantic import BaseModel, ConfigDict, Field, model_validator

from acd.policy import AcdPolicy

ExitAction = Literal["overflow", "callback", "voicemail", "goodbye"]

# A call that left its queue by an exit (not an overflow) is marked with disposition exit_<action>:
# the wallboard and the service-level report count it apart from abandons.
EXIT_DISPOSITION_PREFIX = "exit_"


def exit_disposition(action: ExitAction) -> str:
    return EXIT_DISPOSITION_PREFIX + action


def is_exit_disposition(disposition: object) -> bool:
    return str(disposition or "").startswith(EXIT_DISPOSITION_PREFIX)


class ExitRule(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    action: ExitAction = "callback"
    # Seconds in this queue before the exit is taken; unset: the queue's max_wait.
    after_seconds: int | None = Field(None, ge=5, le=7200)
    to: str | None = None  # overflow: the next queue
    mailbox: str | None = Field(None, pattern=r"^[0-9]{2,10}$")  # voicemail: a box of voicemail.conf

    @model_validator(mode="after")
    def _complete(self) -> ExitRule:
        if self.action == "overflow" and not self.to:
            raise ValueError("action overflow needs 'to': the queue to move the caller to")
        if self.action != "overflow" and self.to:
            raise ValueError(f"'to' is only for action overflow (this rule is {self.action})")
        if self.action == "voicemail" and not self.mailbox:
            raise ValueError("action voicemail needs 'mailbox'")
        if self.action != "voicemail" and self.mailbox:
            raise ValueError(f"'mailbox' is only for action voicemail (this rule is {self.action})")
        return self


class QueueExits(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    exit: ExitRule = ExitRule()
    # ACD tier → its own rule in this queue (e.g. VIPs overflow to the VIP desk sooner).
    tiers: dict[str, ExitRule] = Field(default_factory=dict)


class ExitsConfig(BaseModel):
    """config.yaml ``queue_exits:``."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    default: ExitRule = ExitRule()
    queues: dict[str, QueueExits] = Field(default_factory=dict)
    max_hops: int = Field(3, ge=1, le=10)  # overflows per call before the callback offer instead

    def rule(self, queue: str, tier: str) -> ExitRule:
        q = self.queues.get(queue)
        if q is None:
            return self.default
        return q.tiers.get(tier, q.exit)

    def wait_limit(self, queue: str, tier: str, max_wait: int) -> int:
        """Seconds the caller stays in ``queue`` before the exit (Queue()'s timeout)."""
        return self.rule(queue, tier).after_seconds or max_wait

    def mailboxes(self) -> list[str]:
        """Every voicemail box a rule names (voicemail.conf must define them)."""
        rules = [self.default, *(r for q in self.queues.values() for r in (q.exit, *q.tiers.values()))]
        return sorted({r.mailbox for r in rules if r.mailbox})


@dataclass(frozen=True, slots=True)
class ExitDecision:
    """What the dialplan does next. ``queue``/``priority``/``max_wait``: the queue to (re-)enter or to
    call back into, with the aged priority; ``mailbox`` for voicemail."""

    action: ExitAction
    queue: str
    priority: int
    max_wait: int
    mailbox: str = ""
    hops: int = 0


def decide_exit(
    exits: ExitsConfig,
    policy: AcdPolicy,
    *,
    queue: str,
    tier: str,
    waited_seconds: float,
    visited: Sequence[str],
    max_wait: Mapping[str, int],
) -> ExitDecision:
    """The exit of a caller of ``tier`` who has waited ``waited_seconds`` in all (since the first queue)
    and just timed out of ``queue``; ``visited`` are the queues of earlier hops (the first one first)."""
    rule = exits.rule(queue, tier)
    prio = policy.effective_priority(tier, waited_seconds)
    hops = len(visited)
    if rule.action == "overflow" and rule.to is not None:
        if hops < exits.max_hops and rule.to not in visited and rule.to != queue and rule.to in max_wait:
            limit = exits.wait_limit(rule.to, tier, max_wait[rule.to])
            return ExitDecision("overflow", rule.to, prio, limit, hops=hops + 1)
        rule = ExitRule()  # the chain is spent: the safe default
    limit = exits.wait_limit(queue, tier, max_wait.get(queue, 600))
    return ExitDecision(rule.action, queue, prio, limit, mailbox=rule.mailbox or "", hops=hops)


class _ExitSettings(Protocol):
    @property
    def queue_exits(self) -> ExitsConfig: ...


def check_exits(s: _ExitSettings, queues: Iterable[str], tiers: Iterable[str]) -> Iterable[str]:
    """Cross-section problems, each ``queue_exits.<key>: what is wrong``."""
    known, tier_names = set(queues), set(tiers)
    cfg = s.queue_exits
    if cfg.default.action == "overflow" and cfg.default.to not in known:
        yield f"queue_exits.default.to: {cfg.default.to!r} is not a configured queue"
    for name, q in cfg.queues.items():
        if name not in known:
            yield f"queue_exits.queues.{name}: not a configured queue"
        for tier in q.tiers:
            if tier not in tier_names:
                yield f"queue_exits.queues.{name}.tiers.{tier}: not a tier in acd.tiers"
        for key, r in (("exit", q.exit), *((f"tiers.{t}", r) for t, r in q.tiers.items())):
            if r.action == "overflow" and r.to not in known:
                yield f"queue_exits.queues.{name}.{key}.to: {r.to!r} is not a configured queue"
            elif r.action == "overflow" and r.to == name:
                yield f"queue_exits.queues.{name}.{key}.to: a queue cannot overflow into itself"
    yield from _cycles(cfg, known, tier_names)


def _cycles(cfg: ExitsConfig, known: set[str], tier_names: set[str]) -> Iterable[str]:
    # Per tier (a tier's rule wins over the queue's): a caller would bounce between queues.
    for tier in sorted(tier_names) or [""]:
        for start in sorted(known):
            seen = [start]
            nxt = _next(cfg, start, tier)
            while nxt is not None and nxt in known:
                if nxt in seen:
                    path = " -> ".join([*seen, nxt])
                    yield f"queue_exits: overflow cycle for tier {tier}: {path}"
                    break
                seen.append(nxt)
                nxt = _next(cfg, nxt, tier)
            else:
                continue
            return  # one cycle reported is enough: the rest are the same loop seen from elsewhere


def _next(cfg: ExitsConfig, queue: str, tier: str) -> str | None:
    r = cfg.rule(queue, tier)
    return r.to if r.action == "overflow" else None
