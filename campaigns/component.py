"""Wiring of outbound campaigns: the ``campaigns`` section, its check (every campaign queue is
resolved at creation against the configured queues), the API (campaigns/http.py), the progressive
dialler on nodes with ``campaigns.dialler: true`` and an AMI link, and ``tongdai campaigns …``."""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import sys
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from aiohttp import web

from acd.component import AcdComponent
from campaigns.config import CampaignsConfig
from campaigns.importer import CustomerOf, import_csv
from campaigns.lists import ListRejected
from campaigns.store import CampaignStore, ContactView
from core.ami import AmiClient
from core.audit import AuditTrail
from core.bus import BusEvent
from core.cli import CliContext, Commands, Sessions
from core.component import ComponentSpec, Infra
from core.config import Section
from core.errors import TongdaiError
from core.phone import InvalidNumber, to_e164
from crm_bridge.component import CrmComponent
from crm_bridge.directory import CustomerDirectory
from ivr.callback_dialler import ReadyAgent

if TYPE_CHECKING:
    from campaigns.dialler import ProgressiveDialler
    from campaigns.preview import PreviewDesk
    from tongdai.settings import Settings

__all__ = ["SPEC", "CampaignsComponent", "CampaignsSections", "running"]


class CampaignsSections(Section):
    campaigns: CampaignsConfig = CampaignsConfig()


@dataclass
class CampaignsComponent:
    store: CampaignStore
    dialler: ProgressiveDialler | None  # campaigns.dialler, on a node with AMI
    preview: PreviewDesk | None = None  # preview offers to agents (campaigns/preview.py)


def _consent_of(crm: CrmComponent) -> Callable[[ContactView], Awaitable[bool]]:
    async def consent_of(contact: ContactView) -> bool:
        d = crm.directory
        profile = await (
            d.by_customer_id(contact.customer_id) if contact.customer_id else d.by_e164(contact.number)
        )
        return profile is not None and profile.consent.marketing

    return consent_of


def _preview(infra: Infra, store: CampaignStore, crm: CrmComponent, acd: AcdComponent) -> PreviewDesk:
    from campaigns.preview import PreviewDesk

    async def ready_queues(agent_id: str) -> frozenset[str] | None:
        for a in await acd.agents.states():
            if a.agent_id == agent_id:
                return frozenset(a.queues) if a.status == "ready" else None
        return None

    async def profile_of(customer_id: str, agent_id: str) -> dict[str, Any] | None:
        p = await crm.directory.by_customer_id(customer_id)
        return p.to_json() if p is not None else None

    return PreviewDesk(store, ready_queues, _consent_of(crm), profile_of, infra.reservations)


def customer_of(directory: CustomerDirectory) -> CustomerOf:
    async def find(e164: str) -> str | None:
        profile = await directory.by_e164(e164)
        return profile.customer_id if profile is not None else None

    return find


@asynccontextmanager
async def running(
    settings: Settings, infra: Infra, crm: CrmComponent, acd: AcdComponent
) -> AsyncIterator[CampaignsComponent]:
    from campaigns.http import add_routes

    store = CampaignStore(infra.sessions)
    queues = {q.name for q in settings.queues}

    async def history(customer_id: str, summary: str, agent_id: str, call_id: str, disposition: str) -> None:
        await crm.directory.add_interaction(
            customer_id, "call", summary, agent_id=agent_id, call_id=call_id or None, disposition=disposition
        )

    async def tier_and_debt(customer_id: str) -> tuple[str, int] | None:
        p = await crm.directory.by_customer_id(customer_id)
        return (p.tier, p.overdue_debt_vnd) if p is not None else None

    preview = _preview(infra, store, crm, acd)

    async def current_periods() -> list[tuple[str, str, dt.datetime]]:
        return [
            (a.agent_id, a.status, dt.datetime.fromtimestamp(a.since, dt.UTC))
            for a in await acd.agents.states()
        ]

    def mount(app: web.Application) -> None:
        from campaigns.preview_http import preview_routes
        from core.http import add_routes as register

        register(app, preview_routes(preview, infra.audit))
        add_routes(
            app, store, customer_of(crm.directory), infra.audit, queues=queues, config=settings.campaigns,
            history=history, tier_and_debt=tier_and_debt, current_periods=current_periods,
        )  # fmt: skip

    infra.mount(mount)
    dialler = None
    if infra.ami is not None and settings.campaigns.dialler:
        dialler = _dialler(settings, infra, infra.ami, store=store, crm=crm, acd=acd)
        await dialler.start()
    try:
        yield CampaignsComponent(store, dialler, preview)
    finally:
        if dialler is not None:
            await dialler.stop()


def _dialler(
    settings: Settings,
    infra: Infra,
    ami: AmiClient,
    *,
    store: CampaignStore,
    crm: CrmComponent,
    acd: AcdComponent,
) -> ProgressiveDialler:
    """The progressive dialler on the callback dialler's AMI edge (ivr/callback_ami.py: one Originate of
    the customer's leg through the outbound routes into ``tongdai-callback``, which queues them)."""
    from campaigns.calls_ami import PREFIX, CampaignCalls
    from campaigns.dialler import ProgressiveDialler
    from campaigns.pacing import PacingConfig
    from campaigns.predictive import CampaignLegs, PredictivePacing
    from ivr.callback_ami import AmiDialer
    from ivr.callback_config import CallbackDiallerConfig

    cfg = settings.campaigns
    edge = CallbackDiallerConfig(enabled=True, ring_timeout=cfg.ring_timeout)
    dialer = AmiDialer(
        ami.action,
        infra.tracker,
        edge,
        caller_id=cfg.caller_id or settings.hotline.numbers[0],
        max_wait={q.name: q.max_wait for q in settings.queues},
        prefix=PREFIX,
    )
    calls = CampaignCalls(infra.tracker)
    legs = CampaignLegs()
    ami.on_event(dialer.handle)
    ami.on_event(calls.handle)  # after the dialer's: the tracker knows the call it annotates
    ami.on_event(legs.handle)
    pacing = PredictivePacing(
        PacingConfig(mode="predictive", abandon_cap=cfg.abandon_cap),
        wrapup={q.name: float(q.wrapup) for q in settings.queues},
    )

    async def ready_agents() -> list[ReadyAgent]:
        return [
            ReadyAgent(a.agent_id, frozenset(a.queues))
            for a in await acd.agents.states()
            if a.status == "ready"
        ]

    consent_of = _consent_of(crm)
    dialler = ProgressiveDialler(
        store, dialer, calls, ready_agents, consent_of, poll_seconds=cfg.poll_seconds,
        reservations=infra.reservations,  # shared with the callback dialler and preview offers
        legs=legs, pacing=pacing, connect_seconds=cfg.connect_seconds,
    )  # fmt: skip

    async def wake(_: BusEvent) -> None:
        dialler.wake()

    infra.bus.subscribe("agent.state", wake, name="campaign-dialler")
    return dialler


# --- CLI ------------------------------------------------------------------------------------------


def cmd_import(args: argparse.Namespace, ctx: CliContext[Settings]) -> int:
    from crm_bridge.component import build

    s = ctx.settings()
    text = Path(args.csv).read_text(encoding="utf-8-sig")

    async def run(sessions: Sessions) -> Any:
        crm = build(s.crm, sessions, None)
        r = await import_csv(
            CampaignStore(sessions), customer_of(crm.directory), args.campaign, text,
            max_rows=s.campaigns.max_list_rows,
        )  # fmt: skip
        detail = f"{r.added} added, {r.merged} merged, {r.linked} linked (from {Path(args.csv).name})"
        await AuditTrail(sessions)("cli", "campaign.import", "campaign", str(args.campaign), detail)
        return r

    try:
        result = asyncio.run(ctx.with_db(s, run, migrate=True))
    except ListRejected as err:
        print(f"tongdai: {args.csv}: nothing imported, {len(err.errors)} bad row(s):", file=sys.stderr)
        for line in err.errors:
            print(f"  {line}", file=sys.stderr)
        return 2
    except TongdaiError as err:
        print(f"tongdai: {err}", file=sys.stderr)
        return 2
    print(f"campaign {args.campaign}: {result.added} added, {result.merged} merged, {result.linked} linked")
    return 0


def read_dnc(path: Path) -> tuple[list[str], list[str]]:
    """One number per line (a first column of a CSV is fine); the numbers and the bad lines."""
    good, bad = [], []
    for n, line in enumerate(path.read_text(encoding="utf-8-sig").splitlines(), start=1):
        cell = line.split(",")[0].strip()
        if not cell or cell.lower() == "number":
            continue
        try:
            good.append(to_e164(cell))
        except InvalidNumber as err:
            bad.append(f"line {n}: {err}")
    return good, bad


def cmd_dnc(args: argparse.Namespace, ctx: CliContext[Settings]) -> int:
    s = ctx.settings()
    source: Literal["national", "operator"] = args.source
    numbers, bad = read_dnc(Path(args.file))
    if bad:
        print(f"tongdai: {args.file}: nothing imported, {len(bad)} bad line(s):", file=sys.stderr)
        for line in bad[:50]:
            print(f"  {line}", file=sys.stderr)
        return 2

    async def run(sessions: Sessions) -> int:
        n = await CampaignStore(sessions).replace_dnc(source, numbers)
        detail = f"{n} numbers (from {Path(args.file).name})"
        await AuditTrail(sessions)("cli", "dnc.replace", "dnc", source, detail)
        return n

    n = asyncio.run(ctx.with_db(s, run, migrate=True))
    print(f"do-not-call list {source}: {n} numbers (replaced)")
    return 0


def commands(cli: Commands) -> None:
    grp = cli.group("campaigns", "outbound campaigns: contact lists and do-not-call registers")
    imp = grp.add(
        "import", cmd_import, "import a CSV list (number, priority, name, customer_id) into a campaign"
    )
    imp.add_argument("campaign", type=int)
    imp.add_argument("csv")
    dnc = grp.add("dnc", cmd_dnc, "replace a do-not-call list from a file (one number a line)")
    dnc.add_argument("source", choices=["national", "operator"])
    dnc.add_argument("file")


SPEC = ComponentSpec("campaigns", sections=CampaignsSections, commands=commands)
