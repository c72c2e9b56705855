"""The ``tongdai`` command line."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import getpass
import logging
import os
import signal
import subprocess
import sys
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

from core.errors import ConfigError, TongdaiError

if TYPE_CHECKING:
    from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

    from core.config import Settings

    Sessions = async_sessionmaker[AsyncSession]

T = TypeVar("T")

SANDBOX = Path(__file__).resolve().parent.parent / "asterisk_conf" / "sandbox.sh"
DEFAULT_CONFIG = os.environ.get("TONGDAI_CONFIG", "config.yaml")


def _settings(path: str):  # type: ignore[no-untyped-def]
    from core.config import load_config

    return load_config(path)


def _run_async(coro) -> None:  # type: ignore[no-untyped-def]
    loop = asyncio.new_event_loop()
    task = loop.create_task(coro)
    for sig in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError):
            loop.add_signal_handler(sig, task.cancel)
    try:
        loop.run_until_complete(task)
    except asyncio.CancelledError:
        pass
    finally:
        loop.run_until_complete(loop.shutdown_asyncgens())
        loop.close()


def cmd_serve(args: argparse.Namespace) -> int:
    from core.app import serve

    _run_async(serve(_settings(args.config)))
    return 0


def cmd_check(args: argparse.Namespace) -> int:
    s = _settings(args.config)
    print(
        f"{args.config}: valid ({len(s.queues)} queues, {len(s.agents)} agents, hotline {s.hotline.numbers})"
    )
    return 0


def cmd_conf_render(args: argparse.Namespace) -> int:
    from asterisk_conf.render import write_all

    for p in write_all(_settings(args.config), Path(args.dir)):
        print(p)
    return 0


def cmd_conf_reload(args: argparse.Namespace) -> int:
    from asterisk_conf.render import write_all

    s = _settings(args.config)
    if args.sandbox:
        root = subprocess.run(
            [str(SANDBOX), "root"], capture_output=True, text=True, check=True
        ).stdout.strip()
        write_all(s, Path(root) / "etc" / "asterisk")
        return subprocess.run([str(SANDBOX), "cli", "core reload"], check=False).returncode
    write_all(s, s.asterisk.config_dir)
    return subprocess.run(["asterisk", "-rx", "core reload"], check=False).returncode


def cmd_sandbox(args: argparse.Namespace) -> int:
    extra: list[str] = []
    if args.action in ("start", "restart"):
        from asterisk_conf.render import write_all
        from ivr.prompts import generate_prompts

        s = _settings(args.config)
        conf_dir = s.node.data_dir / "asterisk-conf"
        sounds = s.node.data_dir / "sounds"
        write_all(s, conf_dir)
        generate_prompts(s.ivr, sounds)
        extra = [str(conf_dir), str(sounds)]
    return subprocess.run([str(SANDBOX), args.action, *extra], check=False).returncode


def cmd_prompts(args: argparse.Namespace) -> int:
    from ivr.prompts import generate_prompts

    s = _settings(args.config)
    out = Path(args.dir) if args.dir else s.node.data_dir / "sounds"
    written = generate_prompts(s.ivr, out, force=args.force, override_dir=args.override)
    print(f"{len(written)} prompt files written under {out / 'tongdai'}")
    return 0


def cmd_hash_password(args: argparse.Namespace) -> int:
    from core.passwords import hash_password

    pw = args.password or getpass.getpass("password: ")
    print(hash_password(pw))
    return 0


def cmd_db_upgrade(args: argparse.Namespace) -> int:
    from core.db import create_engine
    from core.migrate import upgrade_to_head

    async def run() -> None:
        engine = create_engine(_settings(args.config).database.url)
        try:
            await upgrade_to_head(engine)
        finally:
            await engine.dispose()

    asyncio.run(run())
    print("database schema is up to date")
    return 0


def cmd_demo(args: argparse.Namespace) -> int:
    from core.demo import run_demo

    _run_async(run_demo(args.config, calls=args.calls, keep_running=not args.once))
    return 0


def cmd_acd_simulate(args: argparse.Namespace) -> int:
    from acd.simulate_cli import main as simulate_main

    return simulate_main(args.rest)


def _day(text: str):  # type: ignore[no-untyped-def]
    from datetime import datetime
    from zoneinfo import ZoneInfo

    try:
        return datetime.strptime(text, "%Y-%m-%d").replace(tzinfo=ZoneInfo("Asia/Ho_Chi_Minh"))
    except ValueError as err:
        raise argparse.ArgumentTypeError(f"{text!r} is not a date like 2026-11-23") from err


async def _with_db(settings: Settings, fn: Callable[[Sessions], Awaitable[T]]) -> T:
    from core.db import create_engine, session_factory
    from core.migrate import upgrade_to_head

    engine = create_engine(settings.database.url)
    try:
        await upgrade_to_head(engine)
        return await fn(session_factory(engine))
    finally:
        await engine.dispose()


def cmd_billing_rerate(args: argparse.Namespace) -> int:
    from billing.cdr import CdrIngest
    from billing.rating import Rater

    s = _settings(args.config)

    async def run(sessions: Sessions) -> int:
        ingest = CdrIngest(sessions, s.node.data_dir / "spool", s.asterisk.system_name)
        return await ingest.rerate(Rater(s.billing), args.since, args.until)

    n = asyncio.run(_with_db(s, run))
    print(f"re-rated {n} calls from {args.since:%d/%m/%Y} to {args.until:%d/%m/%Y} with the current tariffs")
    return 0


def cmd_billing_export(args: argparse.Namespace) -> int:
    import csv

    from sqlalchemy import select

    from billing.export import neutralise
    from billing.models import RatedCall

    s = _settings(args.config)
    cols = (
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

    async def run(sessions: Sessions) -> list[RatedCall]:
        async with sessions() as db:
            q = select(RatedCall).where(
                RatedCall.answered_at >= args.since, RatedCall.answered_at < args.until
            )
            return list(await db.scalars(q.order_by(RatedCall.answered_at)))

    rows = asyncio.run(_with_db(s, run))
    with open(args.out, "w", newline="", encoding="utf-8-sig") as f:
        w = csv.writer(f)
        w.writerow(cols)
        for r in rows:
            w.writerow(
                [
                    v if isinstance(v, int) else neutralise(str(getattr(r, c)))
                    for c in cols
                    for v in [getattr(r, c)]
                ]
            )
    print(f"{len(rows)} rated calls written to {args.out}")
    return 0


def cmd_report_service_level(args: argparse.Namespace) -> int:
    from reports.service_level import BadPeriod, format_table, parse_period, service_level_report, write_csv

    s = _settings(args.config)
    try:
        since, until = parse_period(args.since, args.until, max_days=s.reports.max_days)
    except BadPeriod as err:
        print(f"tongdai: {err}", file=sys.stderr)
        return 2

    async def run(sessions: Sessions) -> Any:
        return await service_level_report(sessions, since, until, config=s.reports, queue=args.queue)

    report = asyncio.run(_with_db(s, run))
    print(format_table(report))
    if args.csv:
        with open(args.csv, "w", newline="", encoding="utf-8-sig") as f:
            write_csv(report, f)
        print(f"CSV written to {args.csv}")
    return 0


def cmd_crm_import(args: argparse.Namespace) -> int:
    from tqdm import tqdm

    from crm_bridge.component import build
    from crm_bridge.importer import import_csv

    s = _settings(args.config)
    bars: dict[str, Any] = {}

    def progress(phase: str, done: int, total: int) -> None:
        bar = bars.get(phase)
        if bar is None:
            bar = bars[phase] = tqdm(total=total, desc=phase, unit="row", file=sys.stderr)
        bar.update(done - bar.n)

    async def run(sessions: Sessions) -> Any:
        redis = None
        if s.redis.url:  # so the cached profiles of every customer touched are invalidated
            import redis.asyncio as aioredis

            redis = aioredis.from_url(s.redis.url)
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
            )
        finally:
            if redis is not None:
                await redis.aclose()

    if not any((args.customers, args.subscriptions, args.revenue, args.points)):
        print(
            "tongdai: give at least one of --customers, --subscriptions, --revenue, --points", file=sys.stderr
        )
        return 2
    try:
        report = asyncio.run(_with_db(s, run))
    finally:
        for bar in bars.values():
            bar.close()
    print(
        f"imported {report.customers} customers, {report.subscriptions} subscriptions, "
        f"{report.revenue} revenue lines, {report.points} points entries, {report.contacts} contact numbers"
    )
    return 0


def cmd_crm_demo(args: argparse.Namespace) -> int:
    import time

    from crm_bridge.demo_data import load_demo

    s = _settings(args.config)

    async def run() -> int:
        from core.db import create_engine
        from core.migrate import upgrade_to_head

        engine = create_engine(s.database.url)
        try:
            await upgrade_to_head(engine)
            return await load_demo(engine, args.customers, seed=args.seed)
        finally:
            await engine.dispose()

    started = time.monotonic()
    n = asyncio.run(run())
    print(f"loaded {n:,} demo customers in {time.monotonic() - started:.1f} s")
    return 0


def cmd_crm_lookup(args: argparse.Namespace) -> int:
    import json

    from crm_bridge.component import build

    s = _settings(args.config)

    async def run(sessions: Sessions) -> Any:
        crm = build(s.crm, sessions)
        key = args.key.strip()
        if key[:2].upper() == "KH":
            return await crm.directory.by_customer_id(key)
        return await crm.directory.by_number(key) or await crm.directory.by_account(key)

    profile = asyncio.run(_with_db(s, run))
    if profile is None:
        print(f"no customer for {args.key!r}", file=sys.stderr)
        return 1
    print(json.dumps(profile.to_json(), ensure_ascii=False, indent=2, default=str))
    return 0


def cmd_recordings(args: argparse.Namespace) -> int:
    from recordings.crypto import new_key
    from recordings.service import RecordingService

    if args.action == "keygen":  # for recordings.encryption_key (best via the environment)
        print(new_key())
        return 0
    s = _settings(args.config)

    async def run(sessions: Sessions) -> Any:
        svc = RecordingService(sessions, s.recordings)
        if args.action == "purge":
            return await svc.purge()
        return await svc.check()

    result = asyncio.run(_with_db(s, run))
    if args.action == "purge":
        print(f"purged {result} recordings older than {s.recordings.retention_days} days (disputes kept)")
        return 0
    missing, orphans = result
    for cid in missing:
        print(f"missing file for call {cid}")
    for f in orphans:
        print(f"file without metadata: {f}")
    print(f"{len(missing)} missing, {len(orphans)} without metadata")
    return 1 if missing or orphans else 0


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="tongdai", description="contact-center server beside Asterisk")
    p.add_argument("-c", "--config", default=DEFAULT_CONFIG, help="config file (default: %(default)s)")
    p.add_argument("-v", "--verbose", action="store_true")
    sub = p.add_subparsers(dest="cmd", required=True)
    sub.add_parser("serve", help="run the bridge: AMI, FastAGI, desktop").set_defaults(fn=cmd_serve)
    sub.add_parser("check-config", help="validate config.yaml and exit").set_defaults(fn=cmd_check)
    conf = sub.add_parser("asterisk-conf", help="render or reload Asterisk's configuration")
    csub = conf.add_subparsers(dest="conf_cmd", required=True)
    r = csub.add_parser("render", help="write Asterisk *.conf files into DIR")
    r.add_argument("dir")
    r.set_defaults(fn=cmd_conf_render)
    rl = csub.add_parser("reload", help="render into Asterisk's config dir and reload it")
    rl.add_argument("--sandbox", action="store_true", help="the local sandbox Asterisk")
    rl.set_defaults(fn=cmd_conf_reload)
    sb = sub.add_parser("sandbox", help="the local Asterisk 22 sandbox (Debian sid chroot)")
    sb.add_argument("action", choices=["build", "start", "stop", "restart", "status"])
    sb.set_defaults(fn=cmd_sandbox)
    pr = sub.add_parser("prompts", help="IVR prompt audio (espeak-ng + sox, 8 kHz)")
    psub = pr.add_subparsers(dest="prompts_cmd", required=True)
    pb = psub.add_parser("build", help="generate the prompts (default: <data_dir>/sounds)")
    pb.add_argument("dir", nargs="?")
    pb.add_argument("--override", type=Path, help="recorded prompts: <lang>/<prompt_id>.wav")
    pb.add_argument("--force", action="store_true")
    pb.set_defaults(fn=cmd_prompts)
    hp = sub.add_parser("hash-password", help="print a password hash for config.yaml")
    hp.add_argument("password", nargs="?")
    hp.set_defaults(fn=cmd_hash_password)
    sub.add_parser("db-upgrade", help="migrate the database schema").set_defaults(fn=cmd_db_upgrade)
    d = sub.add_parser("demo", help="sandbox Asterisk + server + simulated callers")
    d.add_argument("--calls", type=int, default=3)
    d.add_argument("--once", action="store_true", help="exit after the simulated calls")
    d.set_defaults(fn=cmd_demo)
    acd = sub.add_parser("acd", help="ACD tools")
    asub = acd.add_subparsers(dest="acd_cmd", required=True)
    sim = asub.add_parser("simulate", help="simulate a day of traffic", add_help=False)
    sim.add_argument("rest", nargs=argparse.REMAINDER)
    sim.set_defaults(fn=cmd_acd_simulate)
    bill = sub.add_parser("billing", help="rating and exports")
    bsub = bill.add_subparsers(dest="billing_cmd", required=True)
    rr = bsub.add_parser("rerate", help="re-rate a period with the current tariffs (after a tariff fix)")
    rr.add_argument("--since", type=_day, required=True)
    rr.add_argument("--until", type=_day, required=True)
    rr.set_defaults(fn=cmd_billing_rerate)
    ex = bsub.add_parser("export", help="CSV of rated calls (safe to open in a spreadsheet)")
    ex.add_argument("--since", type=_day, required=True)
    ex.add_argument("--until", type=_day, required=True)
    ex.add_argument("out")
    ex.set_defaults(fn=cmd_billing_export)
    rep = sub.add_parser("report", help="historical reports")
    repsub = rep.add_subparsers(dest="report_cmd", required=True)
    sl = repsub.add_parser("service-level", help="QCVN 36 service level per day, queue, tier and agent")
    sl.add_argument("--since", required=True, help="first Vietnam day, e.g. 2026-11-01")
    sl.add_argument("--until", required=True, help="day after the last, e.g. 2026-12-01 (exclusive)")
    sl.add_argument("--queue", help="one queue only")
    sl.add_argument("--csv", help="also write a CSV (safe to open in a spreadsheet)")
    sl.set_defaults(fn=cmd_report_service_level)
    crm = sub.add_parser("crm", help="customer data: CSV import, demo data, lookup")
    crsub = crm.add_subparsers(dest="crm_cmd", required=True)
    imp = crsub.add_parser("import", help="import CSV files, all or nothing (bad rows reported by number)")
    imp.add_argument("--customers")
    imp.add_argument("--subscriptions")
    imp.add_argument("--revenue")
    imp.add_argument("--points")
    imp.set_defaults(fn=cmd_crm_import)
    dd = crsub.add_parser("demo-data", help="generate realistic demo customers into the database")
    dd.add_argument("customers", type=int)
    dd.add_argument("--seed", type=int, default=1)
    dd.set_defaults(fn=cmd_crm_demo)
    lk = crsub.add_parser("lookup", help="a customer's profile by number, customer ID or account")
    lk.add_argument("key")
    lk.set_defaults(fn=cmd_crm_lookup)
    rec = sub.add_parser("recordings", help="recording integrity, retention, encryption key")
    rec.add_argument("action", choices=["check", "purge", "keygen"])
    rec.set_defaults(fn=cmd_recordings)
    return p


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    logging.basicConfig(
        level=logging.DEBUG if args.verbose else logging.INFO,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    try:
        return int(args.fn(args))
    except ConfigError as err:
        print(f"tongdai: {err}", file=sys.stderr)
        return 2
    except TongdaiError as err:
        print(f"tongdai: [{err.error_id}] {err}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    raise SystemExit(main())
