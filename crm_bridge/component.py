"""Wiring of crm_bridge: its config section, its CLI commands, and at start-up the directory, its
cache and the external CRM (the screen pop's profile source).

The composition root enters :func:`running` once at start-up; the CLI commands use :func:`build`.
Nothing here runs at import time.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from redis.asyncio import Redis
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from core.cli import CliContext, Commands, Sessions
from core.component import ComponentSpec, Infra
from core.config import Section
from crm_bridge.cache import ProfileCache, ProfileCacheLike
from crm_bridge.config import CrmConfig
from crm_bridge.directory import CustomerDirectory
from crm_bridge.external import ExternalCrm, ProfileService
from crm_bridge.memory_cache import MemoryProfileCache
from crm_bridge.pop_profile import PopProfiles

if TYPE_CHECKING:
    from tongdai.settings import Settings

__all__ = ["SPEC", "CrmComponent", "CrmSections", "build", "running"]


class CrmSections(Section):
    crm: CrmConfig = CrmConfig()


@dataclass
class CrmComponent:
    directory: CustomerDirectory  # lookups, search, writes
    profiles: ProfileService  # what the screen pop calls (local + external CRM under a deadline)
    cache: ProfileCacheLike | None
    external: ExternalCrm | None
    pop: PopProfiles  # the pop's rule (crm_bridge/pop_profile.py); the IVR hands it what it loaded

    async def close(self) -> None:
        if self.external is not None:
            await self.external.close()

    async def profile_for_call(self, call: dict[str, Any]) -> dict[str, Any] | None:
        """The screen pop's profile for a call (the tracker's call dict), fetched once per call."""
        return await self.pop.for_call(call)


def build(
    config: CrmConfig, sessions: async_sessionmaker[AsyncSession], redis: Redis | None = None
) -> CrmComponent:
    """Assemble the CRM bridge; without ``redis`` the cache is in-process (one node)."""
    cache: ProfileCacheLike | None = None
    if not config.cache.enabled:
        pass
    elif redis is None:
        cache = MemoryProfileCache(
            ttl_seconds=config.cache.memory_ttl_seconds,
            negative_ttl_seconds=min(config.cache.negative_ttl_seconds, config.cache.memory_ttl_seconds),
            max_profiles=config.cache.memory_max_profiles,
        )
    else:
        cache = ProfileCache(
            redis,
            prefix=config.cache.key_prefix,
            ttl_seconds=config.cache.ttl_seconds,
            negative_ttl_seconds=config.cache.negative_ttl_seconds,
        )
    directory = CustomerDirectory(
        sessions,
        config.tiers,
        cache,
        recent_interactions=config.recent_interactions,
        id_format=config.customer_id.format(),
    )
    external = None
    if config.external.enabled and config.external.base_url is not None:
        external = ExternalCrm(str(config.external.base_url), timeout_seconds=config.external.timeout_seconds)
    profiles = ProfileService(directory, external)
    pop = PopProfiles(directory, profiles, external_crm=external is not None)
    return CrmComponent(directory, profiles, cache, external, pop)


@asynccontextmanager
async def running(settings: Settings, infra: Infra) -> AsyncIterator[CrmComponent]:
    crm = build(settings.crm, infra.sessions, infra.redis)
    crm.pop.attach(infra.bus)  # forgets a call's profile when it ends
    _mount_data_rights(settings, infra, crm)
    try:
        yield crm
    finally:
        await crm.close()


def _mount_data_rights(settings: Settings, infra: Infra, crm: CrmComponent) -> None:
    """The data subject's rights: export, erasure, consent (crm_bridge/data_rights.py). The erasure
    deletes the customer's recordings through the recordings' own rules (paths kept inside their
    directory, holds and disputes kept), not a copy of them."""
    from aiohttp import web

    from crm_bridge.data_rights import DataRights
    from crm_bridge.data_rights_http import add_routes
    from recordings.service import RecordingService

    rights = DataRights(
        infra.sessions,
        crm.directory,
        RecordingService(infra.sessions, settings.recordings),
        infra.audit,
        settings.retention.legal_hold,
    )

    def mount(app: web.Application) -> None:
        add_routes(app, rights)

    infra.mount(mount)


# --- CLI ------------------------------------------------------------------------------------------


def _redis(settings: Settings) -> Redis | None:
    if not settings.redis.url:
        return None
    import redis.asyncio as aioredis

    return aioredis.from_url(settings.redis.url, **settings.redis.client_options())


def cmd_import(args: argparse.Namespace, ctx: CliContext[Settings]) -> int:
    import asyncio

    from tqdm import tqdm

    from crm_bridge.importer import import_csv, read_sources

    paths = [p for p in (args.customers, args.subscriptions, args.revenue, args.points) if p]
    if not paths:
        print(
            "tongdai: give at least one of --customers, --subscriptions, --revenue, --points", file=sys.stderr
        )
        return 2
    s = ctx.settings()
    # Every file read first: one that cannot be read is refused before the database is even opened.
    read = read_sources(
        customers=args.customers,
        subscriptions=args.subscriptions,
        revenue=args.revenue,
        points=args.points,
        limits=s.crm.csv_import.limits(),
    )
    bars: dict[str, Any] = {}

    def progress(phase: str, done: int, total: int) -> None:
        bar = bars.get(phase)
        if bar is None:
            bar = bars[phase] = tqdm(total=total, desc=phase, unit="row", file=sys.stderr)
        bar.update(done - bar.n)

    async def run(sessions: Sessions) -> Any:
        redis = _redis(s)  # so the cached profiles of every customer touched are invalidated
        try:
            crm = build(s.crm, sessions, redis)
            return await import_csv(
                sessions,
                customers=args.customers,
                subscriptions=args.subscriptions,
                revenue=args.revenue,
                points=args.points,
                progress=progress,
                cache=crm.cache,
                id_format=s.crm.customer_id.format(),
                read=read,
            )
        finally:
            if redis is not None:
                await redis.aclose()

    try:
        report = asyncio.run(ctx.with_db(s, run, migrate=True))
    finally:
        for bar in bars.values():
            bar.close()
    print(
        f"imported {report.customers} customers, {report.subscriptions} subscriptions, "
        f"{report.revenue} revenue lines, {report.points} points entries, {report.contacts} contact numbers"
    )
    return 0


def cmd_demo_data(args: argparse.Namespace, ctx: CliContext[Settings]) -> int:
    import asyncio

    from sqlalchemy.ext.asyncio import AsyncEngine

    from crm_bridge.demo_data import load_demo

    async def run(engine: AsyncEngine) -> int:
        return await load_demo(engine, args.customers, seed=args.seed)

    started = time.monotonic()
    n = asyncio.run(ctx.with_engine(ctx.settings(), run, migrate=True))
    print(f"loaded {n:,} demo customers in {time.monotonic() - started:.1f} s")
    return 0


def cmd_lookup(args: argparse.Namespace, ctx: CliContext[Settings]) -> int:
    import asyncio

    s = ctx.settings()

    async def run(sessions: Sessions) -> Any:
        crm = build(s.crm, sessions)
        key = args.key.strip()
        if s.crm.customer_id.format().is_valid(key.upper()):
            return await crm.directory.by_customer_id(key.upper())
        return await crm.directory.by_number(key) or await crm.directory.by_account(key)

    profile = asyncio.run(ctx.with_db(s, run))
    if profile is None:
        print(f"no customer for {args.key!r}", file=sys.stderr)
        return 1
    print(json.dumps(profile.to_json(), ensure_ascii=False, indent=2, default=str))
    return 0


def commands(cli: Commands) -> None:
    crm = cli.group("crm", "customer data: CSV import, demo data, lookup")
    imp = crm.add("import", cmd_import, "import CSV files, all or nothing (bad rows reported by number)")
    for name in ("--customers", "--subscriptions", "--revenue", "--points"):
        imp.add_argument(name)
    dd = crm.add("demo-data", cmd_demo_data, "generate realistic demo customers into the database")
    dd.add_argument("customers", type=int)
    dd.add_argument("--seed", type=int, default=1)
    crm.add("lookup", cmd_lookup, "a customer's profile by number, customer ID or account").add_argument(
        "key"
    )


SPEC = ComponentSpec("crm", sections=CrmSections, commands=commands)
