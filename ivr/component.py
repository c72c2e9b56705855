"""Wiring of the IVR: its config sections (``ivr`` tree, ``callbacks``) and their checks against the
queues (and the queues' surveys against the prompt catalogue), the FastAGI routes (``ivr``, ``exit``,
``survey``), the callback worklist's HTTP routes, the outage notices (their API, the
live board the route reads, refreshed on ``outage.changed``), the automatic callback dialler (on its
AMI link and bus events), and ``tongdai prompts build``."""

from __future__ import annotations

import argparse
from collections.abc import AsyncIterator, Iterable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Protocol

from aiohttp import web

from acd.announce import QueueAnnouncer
from acd.component import AcdComponent
from core.ami import AmiClient
from core.bus import BusEvent
from core.cli import CliContext, Commands
from core.component import ComponentSpec, Infra
from core.config import QueueConfig, Section
from crm_bridge.component import CrmComponent
from ivr.agi_route import IvrRoute
from ivr.callback_config import CallbackConfig
from ivr.callback_dialler import CallbackDialler, ReadyAgent
from ivr.callbacks import CallbackStore
from ivr.config import IvrConfig
from ivr.exit_route import QueueExitRoute
from ivr.metrics import IvrMetrics
from ivr.numbers import number
from ivr.outage_board import CHANGED, OutageBoard
from ivr.outage_store import OutageStore
from ivr.prompts import word_sounds
from ivr.survey_route import SurveyRoute, sampling_key
from ivr.survey_store import SurveyStore

if TYPE_CHECKING:
    from tongdai.settings import Settings

__all__ = ["SPEC", "IvrComponent", "IvrSections", "running"]


class IvrSections(Section):
    ivr: IvrConfig
    callbacks: CallbackConfig = CallbackConfig()


class _IvrQueues(Protocol):
    @property
    def ivr(self) -> IvrConfig: ...
    @property
    def queues(self) -> list[QueueConfig]: ...


def check_queues(s: _IvrQueues) -> Iterable[str]:
    """Every queue the IVR transfers to or calls back into must be configured."""
    queues = {q.name for q in s.queues}
    for ref in s.ivr.transfer_queues():
        if ref not in queues:
            yield f"ivr: transfers to unknown queue {ref!r}"
    for node_id, ref in s.ivr.callback_queues().items():
        if ref not in queues:
            yield f"ivr.nodes.{node_id}.queue: calls back into unknown queue {ref!r}"


def check_surveys(s: _IvrQueues) -> Iterable[str]:
    """Every prompt a queue's survey plays is in the IVR's catalogue, in every language it speaks."""
    for i, q in enumerate(s.queues):
        if not q.survey.enabled:
            continue
        for prompt_id in q.survey.prompt_ids():
            text = s.ivr.prompts.get(prompt_id)
            if text is None:
                yield f"queues.{i}.survey: prompt {prompt_id!r} is not in the prompts catalogue"
                continue
            for lang in s.ivr.languages:
                if not text.get(lang):
                    yield f"queues.{i}.survey: prompt {prompt_id!r} has no {lang!r} text"


@dataclass
class IvrComponent:
    route: IvrRoute
    callbacks: CallbackStore
    metrics: IvrMetrics
    dialler: CallbackDialler | None  # callbacks.dialler.enabled, on a node with AMI
    announcer: QueueAnnouncer | None = None  # announcements.enabled, on a node with AMI
    outages: OutageBoard | None = None
    surveys: SurveyStore | None = None


@asynccontextmanager
async def running(
    settings: Settings, infra: Infra, crm: CrmComponent, acd: AcdComponent
) -> AsyncIterator[IvrComponent]:
    from ivr.callbacks_http import add_routes
    from ivr.outages_http import add_routes as add_outage_routes

    cb = settings.callbacks
    callbacks = CallbackStore(
        infra.sessions, max_attempts=cb.max_attempts, retry_delay=timedelta(minutes=cb.retry_minutes)
    )
    metrics = IvrMetrics()
    outages = _outage_board(settings, infra)
    route = IvrRoute(
        settings,
        infra.tracker,
        crm.directory,
        acd.policy,
        callbacks=callbacks,
        metrics=metrics,
        pop_profiles=crm.pop,
        plan=acd.plan,
        sticky=acd.sticky,
        outages=outages,
    )
    route.register(infra.agi)
    QueueExitRoute(settings, infra.tracker, acd.policy, callbacks).register(infra.agi)
    surveys = SurveyStore(infra.sessions)
    key = sampling_key(settings.web.session_secret.get_secret_value())
    SurveyRoute(settings, infra.tracker, surveys, key).register(infra.agi)

    def mount(app: web.Application) -> None:
        add_routes(app, callbacks, infra.audit)
        add_outage_routes(app, outages.store, outages, infra.audit, infra.bus)

    infra.mount(mount)
    announcer = _announcer(settings, infra, acd)
    dialler = None
    if infra.ami is not None and cb.dialler.enabled:
        dialler = _dialler(settings, infra, infra.ami, callbacks, acd)
        await dialler.start()
    outages.start()
    try:
        yield IvrComponent(route, callbacks, metrics, dialler, announcer, outages, surveys)
    finally:
        await outages.stop()
        if announcer is not None:
            await announcer.stop()
        if dialler is not None:
            await dialler.stop()


def _outage_board(settings: Settings, infra: Infra) -> OutageBoard:
    """The live outage notices, their audio beside the prompts, counted on the node's /metrics."""
    cfg = settings.ivr.outage_notices
    store = OutageStore(infra.sessions, extra_areas=settings.ivr.outages)
    sounds = cfg.sounds_dir or settings.node.data_dir / "sounds"
    registry = infra.metrics.registry if infra.metrics is not None else None
    board = OutageBoard(store, cfg, sounds, settings.ivr.languages, registry)

    async def changed(_: BusEvent) -> None:
        board.changed()

    infra.bus.subscribe(CHANGED, changed, name="outage-board")
    return board


def _announcer(settings: Settings, infra: Infra, acd: AcdComponent) -> QueueAnnouncer | None:
    """Position and expected-wait announcements (acd/announce.py), spoken with the IVR's words."""
    if infra.ami is None or not settings.announcements.enabled:
        return None
    serving = ("ready", "ringing", "on_call", "wrap_up")

    async def agents_serving(queue: str) -> int:
        return sum(1 for a in await acd.agents.states() if queue in a.queues and a.status in serving)

    def words(n: int, lang: str) -> list[str]:
        return list(word_sounds(number(n, "en" if lang == "en" else "vi")))

    announcer = QueueAnnouncer(
        settings.announcements,
        infra.tracker,
        agents_serving,
        words,
        default_language=settings.ivr.default_language,
    )
    announcer.bind(infra.ami.action)

    async def talk(ev: BusEvent) -> None:
        t = ev.data.get("talk_seconds")
        if isinstance(t, int | float):
            announcer.observe_talk(float(t))

    infra.bus.subscribe("call.agent_complete", talk, name="queue-announcer-aht")
    announcer.start()
    return announcer


def _dialler(
    settings: Settings, infra: Infra, ami: AmiClient, callbacks: CallbackStore, acd: AcdComponent
) -> CallbackDialler:
    """The automatic callback dialler (ivr/callback_dialler.py), after the tracker's AMI handler."""
    from ivr.callback_ami import AmiDialer

    s, cfg = settings, settings.callbacks.dialler
    dialer = AmiDialer(
        ami.action,
        infra.tracker,
        cfg,
        caller_id=cfg.caller_id or s.hotline.numbers[0],
        max_wait={q.name: q.max_wait for q in s.queues},
    )
    ami.on_event(dialer.handle)

    async def ready_agents() -> list[ReadyAgent]:
        return [
            ReadyAgent(a.agent_id, frozenset(a.queues))
            for a in await acd.agents.states()
            if a.status == "ready"
        ]

    dialler = CallbackDialler(
        callbacks,
        cfg,
        dialer,
        ready_agents,
        queues=[q.name for q in s.queues],
        default_queue=s.default_queue,
        audit=infra.audit,
        actor=f"dialler@{s.node.name}"[:32],
        reservations=infra.reservations,  # shared with the campaign dialler and preview offers
    )

    async def wake(_: BusEvent) -> None:
        dialler.wake()

    infra.bus.subscribe("agent.state", wake, name="callback-dialler")
    infra.bus.subscribe("callback.requested", wake, name="callback-dialler-requests")
    return dialler


def cmd_prompts(args: argparse.Namespace, ctx: CliContext[Settings]) -> int:
    from ivr.prompts import generate_prompts

    s = ctx.settings()
    out = Path(args.dir) if args.dir else s.node.data_dir / "sounds"
    written = generate_prompts(s.ivr, out, force=args.force, override_dir=args.override)
    print(f"{len(written)} prompt files written under {out / 'tongdai'}")
    return 0


def commands(cli: Commands) -> None:
    pr = cli.group("prompts", "IVR prompt audio (espeak-ng + sox, 8 kHz)")
    pb = pr.add("build", cmd_prompts, "generate the prompts (default: <data_dir>/sounds)")
    pb.add_argument("dir", nargs="?")
    pb.add_argument("--override", type=Path, help="recorded prompts: <lang>/<prompt_id>.wav")
    pb.add_argument("--force", action="store_true")


SPEC = ComponentSpec("ivr", sections=IvrSections, checks=(check_queues, check_surveys), commands=commands)
