"""The narrow interfaces through which each feature package wires itself (its ``component.py``).

A feature package declares, in one :class:`ComponentSpec`, what it adds before anything runs: its
config section(s) (a :class:`core.config.Section` mixin the composition root folds into the complete
``Settings``), the cross-section checks it needs, and its CLI commands. At start-up the composition
root (``tongdai.app``) hands each component's ``running(...)`` context manager the node's
infrastructure (:class:`Infra`) and the components it depends on, by constructor; the component
registers its AMI event handlers, bus subscriptions, FastAGI routes and HTTP routes there, starts its
services, and stops them when the context exits. Core knows none of the packages.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from aiohttp import web
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from core.agi import AgiServer
from core.ami import AmiClient
from core.audit import Audit
from core.bus import LocalBus
from core.calls import CallTracker
from core.config import Check, Section
from core.errors import AmiNotConnected
from core.metrics import NodeMetrics
from core.reservations import AgentReservations
from core.retention import RetentionScheduler

if TYPE_CHECKING:
    from redis.asyncio import Redis

    from core.cli import Commands

# Adds a component's routes to the node's one web application before it starts serving.
HttpMount = Callable[[web.Application], None]


@dataclass(frozen=True)
class ComponentSpec:
    """What a feature package contributes before the node runs (config and CLI)."""

    name: str
    sections: type[Section] | None = None
    checks: tuple[Check, ...] = ()
    commands: Callable[[Commands], None] | None = None


@dataclass
class Infra:
    """The node's infrastructure, built by the composition root before any component starts.

    ``ami`` is None when the node runs without Asterisk (tests, a desktop-only node): components
    then register no AMI handlers and send no actions. The AMI client is started last, after every
    component registered its handlers, so no event arrives before its consumers exist.
    """

    engine: AsyncEngine
    sessions: async_sessionmaker[AsyncSession]
    bus: LocalBus
    tracker: CallTracker
    audit: Audit
    agi: AgiServer
    ami: AmiClient | None
    redis: Redis | None = None
    http: list[HttpMount] = field(default_factory=list)
    # Where components report what /metrics shows (writers, spool depth) and register readiness probes.
    metrics: NodeMetrics | None = None
    # Where components register the scheduled purge of their data (retention, legal hold).
    retention: RetentionScheduler | None = None
    # Agents kept for dials in progress, shared by every dialler of the node (core/reservations.py).
    reservations: AgentReservations = field(default_factory=AgentReservations)

    def mount(self, add_routes: HttpMount) -> None:
        """Register routes on the web application (built after every component started)."""
        self.http.append(add_routes)

    async def ami_action(self, name: str, fields: dict[str, str]) -> Any:
        """One AMI action; raises AmiNotConnected on a node without AMI (as when the link is down)."""
        if self.ami is None:
            raise AmiNotConnected("no AMI connection")
        return await self.ami.action(name, fields)
