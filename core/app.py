"""The bridge process (``tongdai serve``): wires every package together and owns their lifetimes.

Start order: database (migrated) → event bus (+ Redis bridge) → call tracking, stores and the pop
hub subscribe → FastAGI server → web desktop → AMI connection last, so no event arrives before its
consumers exist. Stop runs in reverse.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import logging
from datetime import UTC, datetime, timedelta
from typing import Any

from aiohttp import web
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from acd.agent_store import MemoryAgentStore, RedisAgentStore
from acd.agents import AgentStateService
from acd.aging import QueueAger
from acd.ami_events import subscribe as subscribe_acd
from acd.policy import AcdPolicy
from agent_desktop.hub import PopHub
from agent_desktop.web import make_web_app
from billing.cdr import CdrIngest
from billing.rating import Rater
from core.agi import AgiServer
from core.ami import AmiClient
from core.bus import BusEvent, LocalBus, RedisBridge
from core.call_store import CallStore
from core.calls import CallTracker, resync_from_ami
from core.config import Settings
from core.db import create_engine, session_factory, unit_of_work
from core.errors import AmiNotConnected
from core.migrate import upgrade_to_head
from core.models import AuditEntry
from crm_bridge.cache import ProfileCacheLike
from crm_bridge.component import CrmComponent
from crm_bridge.component import build as build_crm
from crm_bridge.directory import CustomerDirectory
from crm_bridge.pop_profile import PopProfiles
from ivr.agi_route import IvrRoute
from ivr.callback_ami import AmiDialer
from ivr.callback_dialler import CallbackDialler, ReadyAgent
from ivr.callbacks import CallbackStore
from ivr.callbacks_http import add_routes as add_callback_routes
from ivr.metrics import IvrMetrics
from recordings.http import add_routes as add_recording_routes
from recordings.service import RecordingService

log = logging.getLogger(__name__)


class Bridge:
    """Everything one tongdai node runs. Attributes are public for tests and the CLI."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.engine: AsyncEngine | None = None
        self.sessions: async_sessionmaker[AsyncSession] | None = None
        self.bus = LocalBus(origin=settings.node.name)
        self.redis_bridge: RedisBridge | None = None
        self.tracker = CallTracker(self.bus)
        self.ami: AmiClient | None = None
        self.agi: AgiServer | None = None
        self.directory: CustomerDirectory | None = None
        self.cache: ProfileCacheLike | None = None
        self.crm: CrmComponent | None = None
        self.cdrs: CdrIngest | None = None
        self.recordings: RecordingService | None = None
        self.hub: PopHub | None = None
        self.pop_profiles: PopProfiles | None = None
        self.ivr_metrics = IvrMetrics()
        self.ivr: IvrRoute | None = None
        self.callbacks: CallbackStore | None = None
        self.dialler: CallbackDialler | None = None  # callbacks.dialler.enabled
        self.policy: AcdPolicy = settings.acd.build()
        # Agent login/pause/state (acd/agents.py) and wait aging pushed to app_queue (acd/aging.py).
        self.agents = AgentStateService(settings, self.bus)
        self.aging = QueueAger(
            self.policy,
            refresh_seconds=settings.acd.refresh_seconds,
            action_timeout=settings.acd.agents.action_timeout,
        )
        self._runner: web.AppRunner | None = None
        self.web_port: int = settings.web.port
        self._redis: Any = None

    async def start(self, *, connect_ami: bool = True) -> None:
        s = self.settings
        self.engine = create_engine(s.database.url)
        await upgrade_to_head(self.engine)
        self.sessions = session_factory(self.engine)
        if s.redis.url:
            import redis.asyncio as aioredis

            self._redis = aioredis.from_url(s.redis.url)
            self.redis_bridge = RedisBridge(self.bus, s.redis.url, s.redis.channel)
            await self.redis_bridge.start()
        # The CRM bridge: directory (+ Redis cache) and, when configured, the operator's CRM for the pop.
        self.crm = build_crm(s.crm, self.sessions, self._redis)
        self.directory, self.cache = self.crm.directory, self.crm.cache

        CallStore(self.sessions).attach(self.bus)
        self.cdrs = CdrIngest(
            self.sessions, s.node.data_dir / "spool", s.asterisk.system_name, Rater(s.billing)
        )
        self.cdrs.attach(self.bus)
        # Calls that ended while we were down: their CDRs are in Asterisk's own CSV.
        await self.cdrs.drain_spool()
        await self.cdrs.reconcile_csv(s.cdr.csv_path)
        self.recordings = RecordingService(self.sessions, s.recordings)
        self.recordings.attach(self.bus)
        self.pop_profiles = PopProfiles(
            self.crm.directory, self.crm.profiles, external_crm=self.crm.external is not None
        )
        self.pop_profiles.attach(self.bus)
        self.hub = PopHub(self.pop_profiles.for_call, self._audit)
        self.hub.attach(self.bus)
        await self.agents.start(
            self.sessions, RedisAgentStore(self._redis) if self._redis is not None else MemoryAgentStore()
        )

        a = s.asterisk.agi
        self.agi = AgiServer(
            a.bind,
            a.port,
            allowed_peers=a.allowed_peers,
            header_timeout=a.header_timeout,
            max_header_bytes=a.max_header_bytes,
            command_timeout=a.command_timeout,
        )
        cb = s.callbacks
        self.callbacks = CallbackStore(
            self.sessions, max_attempts=cb.max_attempts, retry_delay=timedelta(minutes=cb.retry_minutes)
        )
        self.ivr = IvrRoute(
            s,
            self.tracker,
            self.directory,
            self.policy,
            callbacks=self.callbacks,
            metrics=self.ivr_metrics,
            pop_profiles=self.pop_profiles,
        )
        self.ivr.register(self.agi)
        await self.agi.start()

        app = make_web_app(s, self.hub, self)
        assert self.recordings is not None
        add_recording_routes(app, self.recordings, self.tracker, self._ami_action, self._audit)
        add_callback_routes(app, self.callbacks, self._audit)
        # A short shutdown: open websockets are closed by the app itself; nothing else is long-lived.
        self._runner = web.AppRunner(app, access_log=None, shutdown_timeout=5)
        await self._runner.setup()
        site = web.TCPSite(self._runner, s.web.host, s.web.port)
        await site.start()
        for addr in self._runner.addresses:  # the real port when configured as 0 (tests)
            self.web_port = int(addr[1])
        log.info("agent desktop on http://%s:%s/", s.web.host, self.web_port)

        if connect_ami:
            m = s.asterisk.ami
            self.ami = AmiClient(
                m.host,
                m.port,
                m.username,
                m.secret.get_secret_value(),
                ping_interval=m.ping_interval,
                ping_timeout=m.ping_timeout,
                action_timeout=m.action_timeout,
                reconnect_min=m.reconnect_min,
                reconnect_max=m.reconnect_max,
            )
            self.ami.on_event(self.tracker.handle)
            ami = self.ami

            async def _resync() -> None:
                await resync_from_ami(self.tracker, ami.action)

            self.ami.on_connected(_resync)
            subscribe_acd(self.ami, self.agents, self.aging, self.tracker)
            if s.callbacks.dialler.enabled:
                await self._start_dialler(self.ami)
            await self.ami.start()

    async def stop(self) -> None:
        if self.dialler is not None:
            await self.dialler.stop()
        if self.ami is not None:
            await self.ami.stop()
        await self.aging.close()
        await self.agents.stop()
        if self.agi is not None:
            await self.agi.stop()
        if self._runner is not None:
            await self._runner.cleanup()
        with contextlib.suppress(Exception):
            await asyncio.wait_for(self.bus.drain(), 5)
        await self.bus.close()
        if self.crm is not None:
            await self.crm.close()
        if self.redis_bridge is not None:
            await self.redis_bridge.stop()
        if self._redis is not None:
            await self._redis.aclose()
        if self.engine is not None:
            await self.engine.dispose()

    async def _start_dialler(self, ami: AmiClient) -> None:
        """The automatic callback dialler (ivr/callback_dialler.py), after the tracker's AMI handler."""
        s, cfg = self.settings, self.settings.callbacks.dialler
        assert self.callbacks is not None
        dialer = AmiDialer(
            ami.action,
            self.tracker,
            cfg,
            caller_id=cfg.caller_id or s.hotline.numbers[0],
            max_wait={q.name: q.max_wait for q in s.queues},
        )
        ami.on_event(dialer.handle)

        async def ready_agents() -> list[ReadyAgent]:
            return [
                ReadyAgent(a.agent_id, frozenset(a.queues))
                for a in await self.agents.states()
                if a.status == "ready"
            ]

        self.dialler = CallbackDialler(
            self.callbacks,
            cfg,
            dialer,
            ready_agents,
            queues=[q.name for q in s.queues],
            default_queue=s.default_queue,
            audit=self._audit,
            actor=f"dialler@{s.node.name}"[:32],
        )

        async def wake(_: BusEvent) -> None:
            assert self.dialler is not None
            self.dialler.wake()

        self.bus.subscribe("agent.state", wake, name="callback-dialler")
        self.bus.subscribe("callback.requested", wake, name="callback-dialler-requests")
        await self.dialler.start()

    async def _ami_action(self, name: str, fields: dict[str, str]) -> Any:
        if self.ami is None:
            raise AmiNotConnected("no AMI connection")
        return await self.ami.action(name, fields)

    async def _audit(
        self, actor: str, action: str, subject_type: str, subject_id: str, detail: str = ""
    ) -> None:
        assert self.sessions is not None
        async with unit_of_work(self.sessions) as s:
            s.add(
                AuditEntry(
                    at=datetime.now(UTC),
                    actor=actor,
                    action=action,
                    subject_type=subject_type,
                    subject_id=subject_id,
                    detail=detail,
                )
            )


def freeze_startup_heap() -> None:
    """Move everything built at start-up out of the cyclic GC's reach: it lives as long as the process,
    and each full collection walking it stalled every call in progress (~0.2 s with 200 in the IVR)."""
    gc.collect()
    gc.freeze()


async def serve(settings: Settings) -> None:
    """Run until cancelled (SIGINT/SIGTERM)."""
    bridge = Bridge(settings)
    await bridge.start()
    freeze_startup_heap()
    try:
        await asyncio.Event().wait()
    finally:
        await bridge.stop()
