"""Wiring of the agent desktop: the ``desktop`` section, the pop hub on the bus, and the web
application (pages, websocket, JSON API, wallboard) that the other components mount their routes on.

The desktop's collaborators are handed over typed, in one :class:`DesktopServices` built here once:
no view of the whole node, nothing looked up by name.
"""

from __future__ import annotations

import argparse
import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import timedelta
from typing import TYPE_CHECKING, Any

from aiohttp import web
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from acd.agents import AgentStateService
from acd.component import AcdComponent
from agent_desktop.access import CustomerAccess
from agent_desktop.actions import customer_access
from agent_desktop.config import DesktopConfig
from agent_desktop.hub import PopHub
from agent_desktop.sessions import WebSessions, make_store
from core.ami import AmiClient
from core.audit import Audit, AuditTrail
from core.bus import LocalBus
from core.calls import CallTracker
from core.cli import CliContext, Commands, Sessions
from core.component import ComponentSpec, Infra
from core.config import Section
from crm_bridge.component import CrmComponent
from crm_bridge.directory import CustomerDirectory

if TYPE_CHECKING:
    from redis.asyncio import Redis

    from tongdai.settings import Settings

__all__ = ["SPEC", "DesktopComponent", "DesktopSections", "DesktopServices", "running"]


class DesktopSections(Section):
    desktop: DesktopConfig = DesktopConfig()


@dataclass
class DesktopServices:
    """What the desktop's actions need of the node (agent_desktop.actions.BridgeView; its members are
    settable and ``sessions`` optional, so this is a plain dataclass typed as it asks). ``settings``
    is the current config: replacing it (a reload, a test) changes agents, roles and rules at once."""

    settings: Settings
    sessions: async_sessionmaker[AsyncSession] | None
    directory: CustomerDirectory
    ami: AmiClient | None  # None on a node without Asterisk: telephony actions answer "unavailable"
    tracker: CallTracker
    bus: LocalBus
    agents: AgentStateService
    redis: Redis | None = None


@dataclass
class DesktopComponent:
    hub: PopHub
    services: DesktopServices
    audit: Audit
    access: CustomerAccess
    web_sessions: WebSessions

    def web_app(self) -> web.Application:
        from agent_desktop.web import make_web_app

        return make_web_app(
            self.services.settings,
            self.hub,
            self.services,
            audit=self.audit,
            access=self.access,
            web_sessions=self.web_sessions,
        )


@asynccontextmanager
async def running(
    settings: Settings, infra: Infra, crm: CrmComponent, acd: AcdComponent
) -> AsyncIterator[DesktopComponent]:
    services = DesktopServices(
        settings, infra.sessions, crm.directory, infra.ami, infra.tracker, infra.bus, acd.agents, infra.redis
    )
    access = customer_access(services, infra.audit)
    observe = infra.metrics.observe_pop if infra.metrics is not None else None
    hub = PopHub(
        crm.profile_for_call,
        infra.audit,
        access,
        observe_pop=observe,
        repeat_note=_repeat_note(settings, infra),
    )
    access.alert = hub.send_supervisors  # bulk-access alerts reach the supervisors' desktops
    hub.attach(infra.bus)
    web_sessions = WebSessions(
        make_store(infra.redis, infra.sessions, settings.redis.channel), lambda: services.settings
    )
    # The hub's sockets and pending pops are closed by the web app's own shutdown (agent_desktop.web).
    yield DesktopComponent(hub, services, infra.audit, access, web_sessions)


def _repeat_note(
    settings: Settings, infra: Infra
) -> Callable[[dict[str, Any]], Awaitable[dict[str, Any] | None]]:
    """The pop's repeat-contact note over the node's database (reports/contact_note.py)."""
    from reports.contact_note import repeat_note

    window = timedelta(days=settings.reports.repeat_window_days)

    async def note(call: dict[str, Any]) -> dict[str, Any] | None:
        return await repeat_note(infra.sessions, call, window=window)

    return note


def cmd_logout(args: argparse.Namespace, ctx: CliContext[Settings]) -> int:
    """Log an agent out everywhere (a lost laptop, a leaver): every session revoked, audited. Open
    desktop pages close within agent_desktop.ws.RECHECK_SECONDS."""
    s = ctx.settings()

    async def run(db: Sessions) -> int:
        redis = None
        if s.redis.url:
            import redis.asyncio as aioredis

            redis = aioredis.from_url(s.redis.url)
        try:
            keys = await make_store(redis, db, s.redis.channel).delete_agent(args.agent)
        finally:
            if redis is not None:
                await redis.aclose()
        await AuditTrail(db)("cli", "auth.revoke_all", "agent", args.agent, f"{len(keys)} sessions")
        return len(keys)

    revoked = asyncio.run(ctx.with_db(s, run, migrate=True))  # it writes: the schema must be current
    print(f"revoked {revoked} sessions of agent {args.agent}")
    return 0


def commands(cli: Commands) -> None:
    desk = cli.group("desktop", "the agent desktop")
    p = desk.add("logout", cmd_logout, "log an agent out everywhere (every session revoked, audited)")
    p.add_argument("agent", help="the agent id")


SPEC = ComponentSpec("desktop", sections=DesktopSections, commands=commands)
