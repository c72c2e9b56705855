"""Wiring of billing: its config sections (``billing`` tariffs, ``cdr``), the CDR ingest with its
rater on the bus, and ``tongdai billing rerate|export``."""

from __future__ import annotations

import argparse
import asyncio
import csv
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import TYPE_CHECKING

from billing.cdr import CdrConfig, CdrIngest
from billing.rating import Rater
from billing.recovered_calls import record_unrecorded_calls
from billing.tariffs import BillingConfig
from core.cli import CliContext, Commands, Sessions, vn_day
from core.component import ComponentSpec, Infra
from core.config import Section

if TYPE_CHECKING:
    from billing.models import RatedCall
    from tongdai.settings import Settings

__all__ = ["SPEC", "BillingSections", "running"]

log = logging.getLogger(__name__)

EXPORT_COLUMNS = (
    "call_id",
    "account",
    "direction",
    "caller",
    "callee",
    "answered_at",
    "plan_id",
    "destination",
    "prefix",
    "charged_party",
    "band",
    "billed_seconds",
    "blocks",
    "amount",
    "vat",
    "total",
    "explanation",
)


class BillingSections(Section):
    billing: BillingConfig = BillingConfig()
    cdr: CdrConfig = CdrConfig()


async def _after_connect(
    settings: Settings, infra: Infra, cdrs: CdrIngest, tasks: set[asyncio.Task[None]]
) -> None:
    """After each AMI login (the tracker has re-synced by then): CDRs posted while no link was up —
    between the start's reconciliation and the first login, or during an AMI outage — are only in
    Asterisk's CSV, and calls that began and ended unseen have no record. Off the connect path."""

    async def catch_up() -> None:
        try:
            await cdrs.reconcile_csv(settings.cdr.csv_path)
            await record_unrecorded_calls(infra.sessions, live=set(infra.tracker.calls))
        except Exception:
            log.exception("CDR catch-up after the AMI login failed (the next start retries it)")

    task = asyncio.create_task(catch_up(), name="cdr-catch-up")
    tasks.add(task)
    task.add_done_callback(tasks.discard)


@asynccontextmanager
async def running(settings: Settings, infra: Infra) -> AsyncIterator[CdrIngest]:
    s = settings
    pending: set[asyncio.Task[None]] = set()
    cdrs = CdrIngest(infra.sessions, s.node.data_dir / "spool", s.asterisk.system_name, Rater(s.billing))
    cdrs.attach(infra.bus)
    cdrs.start()
    try:
        # Calls that ended while we were down: their CDRs are in Asterisk's own CSV.
        await cdrs.drain_spool()
        await cdrs.reconcile_csv(s.cdr.csv_path)
        await record_unrecorded_calls(infra.sessions)
        await cdrs.rate_pending()  # CDRs stored unrated when their rating failed: rated now
        if infra.ami is not None:
            infra.ami.on_connected(lambda: _after_connect(s, infra, cdrs, pending))
        if infra.metrics is not None:
            infra.metrics.watch_writer(cdrs.writer)
            infra.metrics.gauge(
                "tongdai_cdr_spool_depth", "CDRs waiting in the spool", lambda: cdrs.spool_depth
            )
            infra.metrics.gauge(
                "tongdai_cdr_quarantined",
                "CDRs set aside this run (schema refused)",
                lambda: cdrs.quarantined,
            )
        if infra.retention is not None:
            infra.retention.register("cdrs", s.retention.cdrs, cdrs.purge)
        yield cdrs
    finally:
        for task in list(pending):
            task.cancel()
        await asyncio.gather(*pending, return_exceptions=True)
        await cdrs.stop()  # what the database cannot take now goes to the spool


def cmd_rerate(args: argparse.Namespace, ctx: CliContext[Settings]) -> int:
    s = ctx.settings()

    async def run(sessions: Sessions) -> int:
        ingest = CdrIngest(sessions, s.node.data_dir / "spool", s.asterisk.system_name)
        return await ingest.rerate(Rater(s.billing), args.since, args.until)

    n = asyncio.run(ctx.with_db(s, run, migrate=True))
    print(f"re-rated {n} calls from {args.since:%d/%m/%Y} to {args.until:%d/%m/%Y} with the current tariffs")
    return 0


async def _rated_calls(sessions: Sessions, since: object, until: object) -> list[RatedCall]:
    from sqlalchemy import select

    from billing.models import RatedCall

    async with sessions() as db:
        q = select(RatedCall).where(RatedCall.answered_at >= since, RatedCall.answered_at < until)
        return list(await db.scalars(q.order_by(RatedCall.answered_at)))


def cmd_export(args: argparse.Namespace, ctx: CliContext[Settings]) -> int:
    from billing.export import neutralise

    s = ctx.settings()

    async def run(sessions: Sessions) -> list[RatedCall]:
        return await _rated_calls(sessions, args.since, args.until)

    rows = asyncio.run(ctx.with_db(s, run))
    with open(args.out, "w", newline="", encoding="utf-8-sig") as f:
        w = csv.writer(f)
        w.writerow(EXPORT_COLUMNS)
        for r in rows:
            values = [getattr(r, c) for c in EXPORT_COLUMNS]
            w.writerow([v if isinstance(v, int) else neutralise(str(v)) for v in values])
    print(f"{len(rows)} rated calls written to {args.out}")
    return 0


def commands(cli: Commands) -> None:
    bill = cli.group("billing", "rating and exports")
    rr = bill.add("rerate", cmd_rerate, "re-rate a period with the current tariffs (after a tariff fix)")
    rr.add_argument("--since", type=vn_day, required=True)
    rr.add_argument("--until", type=vn_day, required=True)
    ex = bill.add("export", cmd_export, "CSV of rated calls (safe to open in a spreadsheet)")
    ex.add_argument("--since", type=vn_day, required=True)
    ex.add_argument("--until", type=vn_day, required=True)
    ex.add_argument("out")


SPEC = ComponentSpec("billing", sections=BillingSections, commands=commands)
