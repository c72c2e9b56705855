"""One tongdai node (``tongdai serve``): core's infrastructure and the feature components, assembled in
their declared order (tongdai/components.py), started and stopped through one AsyncExitStack.

Start order: database (migrated) → Redis and the event bus bridge → call tracking and the call store
→ crm → billing → recordings → acd → desktop (pop hub) → IVR (FastAGI route, callback dialler) →
campaigns (their dialler) → reports (scheduled files) → quality → FastAGI server → web application
(every component's routes) → AMI connection last, so no event arrives before its consumers exist.
Stop runs in reverse; a start that fails part-way unwinds exactly what was started. With
``ha.role: auto`` the FastAGI server, the AMI connection and the diallers (callbacks, campaigns) run
only while the node holds its Asterisk's lease (core/lease.py); the rest runs passive.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import logging
from contextlib import AsyncExitStack
from typing import TYPE_CHECKING, Any

from aiohttp import web
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from acd.agents import AgentStateService
from acd.aging import QueueAger
from acd.component import AcdComponent
from acd.component import running as run_acd
from acd.policy import AcdPolicy
from agent_desktop.component import DesktopComponent
from agent_desktop.component import running as run_desktop
from agent_desktop.hub import PopHub
from agent_desktop.i18n import CATALOGUE
from billing.cdr import CdrIngest
from billing.component import running as run_billing
from campaigns.component import CampaignsComponent
from campaigns.component import running as run_campaigns
from core.agi import AgiServer
from core.ami import AmiClient
from core.bus import LocalBus, RedisBridge
from core.calls import CallTracker, resync_from_ami
from core.component import Infra
from core.db import create_engine, session_factory
from core.lease import LeaseKeeper, RedisLease
from core.ops import Operations, start_operations
from crm_bridge.cache import ProfileCacheLike
from crm_bridge.component import CrmComponent
from crm_bridge.component import running as run_crm
from crm_bridge.directory import CustomerDirectory
from ivr.agi_route import IvrRoute
from ivr.callback_dialler import CallbackDialler
from ivr.callbacks import CallbackStore
from ivr.component import IvrComponent
from ivr.component import running as run_ivr
from ivr.metrics import IvrMetrics
from quality.component import running as run_quality
from quality.store import EvaluationStore
from recordings.component import running as run_recordings
from recordings.service import RecordingService
from reports.component import running as run_reports
from tongdai.schema import upgrade_to_head
from tongdai.settings import Settings
from tongdai.startup_checks import refuse_unsafe
from webchat.component import WebchatComponent
from webchat.component import running as run_webchat

if TYPE_CHECKING:
    from redis.asyncio import Redis

log = logging.getLogger(__name__)


def widget_strings(lang: str) -> dict[str, Any]:
    """The chat widget's words in ``lang``: the locale files' ``widget`` block and its error texts."""
    t = CATALOGUE[lang] if lang in CATALOGUE else CATALOGUE["vi"]
    errors = {
        k: v for k, v in t["errors"].items() if k.startswith(("chat.", "callback_form.", "crm.invalid"))
    }
    return {**t.get("widget", {}), "errors": errors, "error_fallback": t["error_fallback"]}


class Node:
    """Everything one tongdai node runs, typed, for the CLI and the tests. It is no service locator:
    components receive their collaborators from :meth:`start`, never from the node."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.bus = LocalBus(origin=settings.node.name)
        self.tracker = CallTracker(self.bus)
        self.engine: AsyncEngine | None = None
        self.sessions: async_sessionmaker[AsyncSession] | None = None
        self.redis_bridge: RedisBridge | None = None
        self.ami: AmiClient | None = None
        self.agi: AgiServer | None = None
        self.crm: CrmComponent | None = None
        self.acd: AcdComponent | None = None
        self.desk: DesktopComponent | None = None
        self.ivr_component: IvrComponent | None = None
        self.campaigns: CampaignsComponent | None = None
        self.webchat: WebchatComponent | None = None  # webchat.enabled
        self.cdrs: CdrIngest | None = None
        self.recordings: RecordingService | None = None
        self.quality: EvaluationStore | None = None
        self.ops: Operations | None = None  # writers, /metrics, /readyz, retention (core/ops.py)
        self.lease: LeaseKeeper | None = None  # ha.role auto: who acts for this node's Asterisk
        self.web_port: int = settings.web.port
        self._runner: web.AppRunner | None = None
        self._stack: AsyncExitStack | None = None

    # --- typed access to the started components (tests, the CLI, the demo) -------------------

    @property
    def directory(self) -> CustomerDirectory | None:
        return self.crm.directory if self.crm is not None else None

    @property
    def cache(self) -> ProfileCacheLike | None:
        return self.crm.cache if self.crm is not None else None

    @property
    def policy(self) -> AcdPolicy:
        assert self.acd is not None, "the node is not started"
        return self.acd.policy

    @property
    def agents(self) -> AgentStateService:
        assert self.acd is not None, "the node is not started"
        return self.acd.agents

    @property
    def aging(self) -> QueueAger:
        assert self.acd is not None, "the node is not started"
        return self.acd.aging

    @property
    def hub(self) -> PopHub | None:
        return self.desk.hub if self.desk is not None else None

    @property
    def ivr(self) -> IvrRoute | None:
        return self.ivr_component.route if self.ivr_component is not None else None

    @property
    def ivr_metrics(self) -> IvrMetrics:
        assert self.ivr_component is not None, "the node is not started"
        return self.ivr_component.metrics

    @property
    def callbacks(self) -> CallbackStore | None:
        return self.ivr_component.callbacks if self.ivr_component is not None else None

    @property
    def dialler(self) -> CallbackDialler | None:
        return self.ivr_component.dialler if self.ivr_component is not None else None

    # --- lifetime ----------------------------------------------------------------------------

    async def start(self, *, connect_ami: bool = True) -> None:
        # Before anything listens: shipped or weak secrets only in loopback demo mode (UnsafeSecrets).
        refuse_unsafe(self.settings)
        stack = AsyncExitStack()
        try:
            await self._start(stack, connect_ami)
        except BaseException:
            await stack.aclose()
            raise
        self._stack = stack

    async def stop(self) -> None:
        stack, self._stack = self._stack, None
        if stack is not None:
            await stack.aclose()

    async def _start(self, stack: AsyncExitStack, connect_ami: bool) -> None:
        s = self.settings
        infra = await self._infrastructure(stack, connect_ami)
        self.crm = await stack.enter_async_context(run_crm(s, infra))
        self.cdrs = await stack.enter_async_context(run_billing(s, infra))
        self.recordings = await stack.enter_async_context(run_recordings(s, infra))
        self.acd = await stack.enter_async_context(run_acd(s, infra))
        self.desk = await stack.enter_async_context(run_desktop(s, infra, self.crm, self.acd))
        self.ivr_component = await stack.enter_async_context(run_ivr(s, infra, self.crm, self.acd))
        self.campaigns = await stack.enter_async_context(run_campaigns(s, infra, self.crm, self.acd))
        self.webchat = await stack.enter_async_context(
            run_webchat(
                s, infra, self.crm, self.acd, self.ivr_component, desk=self.desk.hub, strings=widget_strings
            )
        )
        await stack.enter_async_context(run_reports(s, infra))  # the scheduled report files
        self.quality = await stack.enter_async_context(run_quality(s, infra))
        if infra.retention is not None:  # every component has registered its purge by now
            infra.retention.start()
            stack.push_async_callback(infra.retention.stop)

        if s.ha.role == "auto":
            await self._serve_web(stack, self.desk, infra)
            await self._contend(stack, infra)  # FastAGI and AMI only while this node holds the lease
            return
        await infra.agi.start()
        stack.push_async_callback(infra.agi.stop)
        await self._serve_web(stack, self.desk, infra)
        if infra.ami is not None:
            ami = infra.ami
            await ami.start()
            stack.push_async_callback(ami.stop)
            if self.ivr_component.dialler is not None:  # stops before the AMI link it dials through
                stack.push_async_callback(self.ivr_component.dialler.stop)
            if self.campaigns.dialler is not None:  # likewise
                stack.push_async_callback(self.campaigns.dialler.stop)

    async def _contend(self, stack: AsyncExitStack, infra: Infra) -> None:
        """An active bridge and a standby for one Asterisk (core/lease.py): passive until this node
        holds the lease, then it listens for FastAGI, logs in to AMI (the login's resync adopts the
        calls in progress) and dials callbacks and campaigns; it stops all of them the moment it may no
        longer act."""
        s, ops = self.settings, self.ops
        assert infra.redis is not None and ops is not None  # ha.role auto needs redis.url (config check)
        node_id = s.ha.node_id or s.node.name
        lease = RedisLease(
            infra.redis, f"{s.redis.key_prefix}ha:{s.asterisk.system_name}", node_id, s.ha.lease_ttl
        )
        ami, agi = infra.ami, infra.agi
        # The callback and campaign diallers dial through this node's AMI: only while it acts.
        diallers = [
            d
            for d in (
                self.ivr_component.dialler if self.ivr_component is not None else None,
                self.campaigns.dialler if self.campaigns is not None else None,
            )
            if d is not None
        ]

        async def active(token: int) -> None:
            await agi.start()
            if ami is not None:
                await ami.start()
            for dialler in diallers:
                try:  # its start releases its old claims (a database call): never a reason not to serve
                    async with asyncio.timeout(s.ha.lease_ttl / 4):
                        await dialler.start()
                except Exception:
                    log.exception("HA: a dialler did not start; calls are served without it")

        async def passive(token: int) -> None:
            for dialler in diallers:
                await dialler.stop()
            if ami is not None:
                await ami.stop()
            await agi.stop()

        self.lease = keeper = LeaseKeeper(
            lease, on_active=active, on_passive=passive, poll_interval=s.ha.poll_interval
        )
        agi.may_serve = keeper.holding
        ops.metrics.role = lambda: keeper.role
        ops.metrics.gauge(
            "tongdai_ha_active", "1 while this node holds its Asterisk's lease", lambda: int(keeper.holding())
        )
        ops.metrics.gauge(
            "tongdai_ha_fencing_token",
            "the lease's fencing token while active, else 0",
            lambda: keeper.token or 0,
        )
        if ami is not None:
            ami.may_act = keeper.holding
            ami_probe = ops.metrics.probes["ami"]

            async def ami_when_active() -> str:  # a standby is not meant to be logged in
                return await ami_probe() if keeper.holding() else ""

            ops.metrics.probe("ami", ami_when_active)
        for dialler in diallers:
            await dialler.stop()  # started with its component; it dials only while active
        keeper.start()
        stack.push_async_callback(keeper.stop)  # first at stop: step down, give the lease back

    async def _infrastructure(self, stack: AsyncExitStack, connect_ami: bool) -> Infra:
        """Core's part: database, Redis, bus, call tracking, FastAGI server, AMI client (not started)."""
        s = self.settings
        self.engine = engine = create_engine(s.database.url)
        stack.push_async_callback(engine.dispose)
        await upgrade_to_head(engine)
        self.sessions = sessions = session_factory(engine)
        redis: Redis | None = None
        if s.redis.url:
            import redis.asyncio as aioredis

            redis = aioredis.from_url(s.redis.url, **s.redis.client_options())
            stack.push_async_callback(redis.aclose)
            self.redis_bridge = RedisBridge(
                self.bus, s.redis.url, s.redis.channel, **s.redis.client_options()
            )
            await self.redis_bridge.start()
            stack.push_async_callback(self.redis_bridge.stop)
        # Before the bus's close: at stop the bus drains first, then the writers flush.
        self.ops = ops = await start_operations(
            stack, s, engine=engine, sessions=sessions, bus=self.bus, tracker=self.tracker, redis=redis
        )
        stack.push_async_callback(self._close_bus)
        a = s.asterisk.agi
        self.agi = AgiServer(
            a.bind,
            a.port,
            allowed_peers=a.allowed_peers,
            header_timeout=a.header_timeout,
            max_header_bytes=a.max_header_bytes,
            command_timeout=a.command_timeout,
            max_sessions_per_peer=a.max_sessions_per_peer,
            max_sessions=a.max_sessions,
        )
        ops.watch_agi(self.agi)
        if connect_ami:
            self.ami = self._ami_client()
            ops.watch_ami(self.ami)
        infra = Infra(
            engine, sessions, self.bus, self.tracker, ops.audit, self.agi, self.ami, redis,
            metrics=ops.metrics, retention=ops.retention,
        )  # fmt: skip
        infra.mount(ops.metrics.mount)
        return infra

    def _ami_client(self) -> AmiClient:
        m = self.settings.asterisk.ami
        ami = AmiClient(
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
        # The tracker's handler first: every component's handler sees the call it already tracks.
        ami.on_event(self.tracker.handle)

        async def resync() -> None:
            await resync_from_ami(self.tracker, ami.action)

        ami.on_connected(resync)
        return ami

    async def _serve_web(self, stack: AsyncExitStack, desk: DesktopComponent, infra: Infra) -> None:
        s = self.settings
        app = desk.web_app()
        for mount in infra.http:
            mount(app)
        # A short shutdown: open websockets are closed by the app itself; nothing else is long-lived.
        self._runner = runner = web.AppRunner(app, access_log=None, shutdown_timeout=5)
        await runner.setup()
        stack.push_async_callback(runner.cleanup)
        site = web.TCPSite(runner, s.web.host, s.web.port)
        await site.start()
        for addr in runner.addresses:  # the real port when configured as 0 (tests)
            self.web_port = int(addr[1])
        log.info("agent desktop on http://%s:%s/", s.web.host, self.web_port)

    async def _close_bus(self) -> None:
        with contextlib.suppress(Exception):
            async with asyncio.timeout(5):
                await self.bus.drain()
        await self.bus.close()


# The tests' and the benchmarks' name for a node.
Bridge = Node


def freeze_startup_heap() -> None:
    """Move everything built at start-up out of the cyclic GC's reach: it lives as long as the process,
    and each full collection walking it stalled every call in progress (~0.2 s with 200 in the IVR)."""
    gc.collect()
    gc.freeze()


async def serve(settings: Settings) -> None:
    """Run until cancelled (SIGINT/SIGTERM)."""
    node = Node(settings)
    await node.start()
    freeze_startup_heap()
    try:
        await asyncio.Event().wait()
    finally:
        await node.stop()
