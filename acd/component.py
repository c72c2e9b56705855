"""Wiring of the ACD: its config section (``acd``, ``tier_map``), the agent-state service and the wait
aging with their AMI handlers, and ``tongdai acd simulate``.

The agent-state service is built, given its store and the AMI link, and started in one place
(:func:`running`); no other module sequences its set-up.
"""

from __future__ import annotations

import argparse
from collections.abc import AsyncIterator, Iterable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol

from acd.agent_store import MemoryAgentStore, RedisAgentStore
from acd.agents import AgentStateService
from acd.aging import QueueAger
from acd.ami_events import subscribe
from acd.estimate import AnnouncementsConfig
from acd.exits import ExitsConfig, check_exits
from acd.phone_service import PhoneStateService
from acd.policy import AcdPolicy, AcdPolicyConfig
from acd.routing import RoutingConfig, RoutingPlan, check_routing
from acd.sticky import StickyLookup
from core.cli import CliContext, Commands
from core.component import ComponentSpec, Infra
from core.config import AgentConfig, QueueConfig, Section

if TYPE_CHECKING:
    from tongdai.settings import Settings

__all__ = ["SPEC", "AcdComponent", "AcdSections", "running"]


class AcdSections(Section):
    acd: AcdPolicyConfig = AcdPolicyConfig()
    # crm tier (crm_bridge) → ACD tier (acd): whom the queue serves first.
    tier_map: dict[str, str] = {  # noqa: RUF012 (a pydantic field: copied per instance)
        "large": "vip",
        "sme": "gold",
        "other": "standard",
        "standard": "standard",
    }
    # After a queue's maximum wait: overflow, callback offer, voicemail (acd/exits.py). Never a hang-up.
    queue_exits: ExitsConfig = ExitsConfig()
    # Position and expected-wait messages to queued callers (acd/estimate.py, acd/announce.py).
    announcements: AnnouncementsConfig = AnnouncementsConfig()
    # Who is offered a call first: skills' widening, VIP agent groups, the sticky agent (acd/routing.py).
    routing: RoutingConfig = RoutingConfig()


class _TierMapped(Protocol):
    @property
    def acd(self) -> AcdPolicyConfig: ...
    @property
    def tier_map(self) -> dict[str, str]: ...


def check_tier_map(s: _TierMapped) -> Iterable[str]:
    acd_tiers = {t.name for t in s.acd.tiers}
    for crm_tier, acd_tier in s.tier_map.items():
        if acd_tier not in acd_tiers:
            yield f"tier_map.{crm_tier}: {acd_tier!r} is not a tier in acd.tiers"


class _Exits(_TierMapped, Protocol):
    @property
    def queue_exits(self) -> ExitsConfig: ...
    @property
    def announcements(self) -> AnnouncementsConfig: ...
    @property
    def queues(self) -> list[QueueConfig]: ...


def check_queue_exits(s: _Exits) -> Iterable[str]:
    tiers = [t.name for t in s.acd.tiers]
    yield from check_exits(s, [q.name for q in s.queues], tiers)
    for t in s.announcements.spare_tiers:
        if t not in tiers:
            yield f"announcements.spare_tiers: {t!r} is not a tier in acd.tiers"


class _Routed(_TierMapped, Protocol):
    @property
    def routing(self) -> RoutingConfig: ...
    @property
    def queues(self) -> list[QueueConfig]: ...
    @property
    def agents(self) -> list[AgentConfig]: ...


def check_routing_refs(s: _Routed) -> Iterable[str]:
    yield from check_routing(
        s.routing, [q.name for q in s.queues], [a.id for a in s.agents], [t.name for t in s.acd.tiers]
    )


@dataclass
class AcdComponent:
    policy: AcdPolicy
    agents: AgentStateService  # login/pause/state (acd/agents.py)
    aging: QueueAger  # wait aging pushed to app_queue (acd/aging.py)
    phones: PhoneStateService  # desk phones' registration (acd/phone_service.py)
    plan: RoutingPlan  # skills, VIP groups, sticky stages (acd/routing.py)
    sticky: StickyLookup  # the customer's last agent (acd/sticky.py)


@asynccontextmanager
async def running(settings: Settings, infra: Infra) -> AsyncIterator[AcdComponent]:
    policy = settings.acd.build()
    redis_store = (
        RedisAgentStore(infra.redis, settings.redis.key_prefix, node=settings.node.name)
        if infra.redis is not None
        else None
    )
    store = redis_store or MemoryAgentStore()
    agents = AgentStateService(settings, infra.bus, store=store, sessions=infra.sessions)
    aging = QueueAger(
        policy,
        refresh_seconds=settings.acd.refresh_seconds,
        action_timeout=settings.acd.agents.action_timeout,
    )
    phones = PhoneStateService(
        infra.bus,
        [a.id for a in settings.agents if a.phone in ("pjsip", "webrtc")],
        action_timeout=settings.acd.agents.action_timeout,
    )
    if redis_store is not None:
        redis_store.start()
        if infra.metrics is not None:
            infra.metrics.watch_writer(redis_store.writer)
    try:
        await agents.start()
        if infra.metrics is not None and agents.state_log is not None:
            infra.metrics.watch_writer(agents.state_log.writer)
        if infra.ami is not None:  # after the call tracker's handler: aging reads the tracker's tiers
            subscribe(infra.ami, agents, aging, infra.tracker, phones)
        sticky = StickyLookup(infra.sessions)
        yield AcdComponent(policy, agents, aging, phones, agents.plan, sticky)
    finally:
        await phones.close()
        await aging.close()
        await agents.stop()
        if redis_store is not None:
            await redis_store.stop()


def cmd_simulate(args: argparse.Namespace, ctx: CliContext[Settings]) -> int:
    from acd.simulate_cli import main as simulate_main

    return simulate_main(args.rest)


def commands(cli: Commands) -> None:
    acd = cli.group("acd", "ACD tools")
    sim = acd.add("simulate", cmd_simulate, "simulate a day of traffic", add_help=False)
    sim.add_argument("rest", nargs=argparse.REMAINDER)


SPEC = ComponentSpec(
    "acd",
    sections=AcdSections,
    checks=(check_tier_map, check_queue_exits, check_routing_refs),
    commands=commands,
)
