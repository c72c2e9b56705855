"""Wiring of recordings: the ``recordings`` section, the service on the bus (a recording is filed when
its call's CDR arrives), its HTTP routes, and ``tongdai recordings check|purge|keygen``."""

from __future__ import annotations

import argparse
import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import TYPE_CHECKING, Any

from aiohttp import web

from core.cli import CliContext, Commands, Sessions
from core.component import ComponentSpec, Infra
from core.config import Section
from recordings.config import RecordingsConfig
from recordings.service import RecordingService

if TYPE_CHECKING:
    from tongdai.settings import Settings

__all__ = ["SPEC", "RecordingsSections", "running"]


class RecordingsSections(Section):
    recordings: RecordingsConfig = RecordingsConfig()


@asynccontextmanager
async def running(settings: Settings, infra: Infra) -> AsyncIterator[RecordingService]:
    from recordings.http import add_routes

    svc = RecordingService(infra.sessions, settings.recordings)
    svc.attach(infra.bus)
    svc.start()

    def mount(app: web.Application) -> None:
        add_routes(app, svc, infra.tracker, infra.ami_action, infra.audit)

    infra.mount(mount)
    if infra.metrics is not None:
        infra.metrics.watch_writer(svc.writer)
        infra.metrics.gauge(
            "tongdai_recordings_calls_awaiting_cdr",
            "Answered calls ended whose recording's CDR has not come yet",
            lambda: svc.awaiting_cdr,
        )
    if infra.retention is not None:  # recordings.retention_days unless retention.recordings.keep_days
        infra.retention.register(
            "recordings",
            settings.retention.recordings,
            svc.purge_before,
            default_days=settings.recordings.retention_days,
        )
    try:
        yield svc
    finally:
        await svc.stop()


def cmd_recordings(args: argparse.Namespace, ctx: CliContext[Settings]) -> int:
    from recordings.crypto import new_key

    if args.action == "keygen":  # for recordings.encryption_key (best via the environment)
        print(new_key())
        return 0
    s = ctx.settings()

    async def run(sessions: Sessions) -> Any:
        svc = RecordingService(sessions, s.recordings)
        if args.action == "purge":
            return await svc.purge(hold=s.retention.legal_hold)
        return await svc.check()

    # Only a purge writes; a check reads the schema as it is.
    result = asyncio.run(ctx.with_db(s, run, migrate=args.action == "purge"))
    if args.action == "purge":
        print(
            f"purged {result} recordings older than {s.recordings.retention_days} days"
            " (disputes and legal holds kept)"
        )
        return 0
    missing, orphans = result
    for cid in missing:
        print(f"missing file for call {cid}")
    for f in orphans:
        print(f"file without metadata: {f}")
    print(f"{len(missing)} missing, {len(orphans)} without metadata")
    return 1 if missing or orphans else 0


def commands(cli: Commands) -> None:
    rec = cli.add("recordings", cmd_recordings, "recording integrity, retention, encryption key")
    rec.add_argument("action", choices=["check", "purge", "keygen"])


SPEC = ComponentSpec("recordings", sections=RecordingsSections, commands=commands)
