"""The ``tongdai`` command line: the node's own commands (serve, check-config, db upgrade, demo,
sandbox, hash-password) and every component's, gathered from their ``component.py``."""

from __future__ import annotations

import argparse
import asyncio
import getpass
import logging
import os
import subprocess
import sys
from typing import TYPE_CHECKING

from core import logs
from core.cli import CliContext, Commands, run_async
from core.errors import ConfigError, TongdaiError
from tongdai.components import COMPONENTS
from tongdai.schema import MIGRATIONS
from tongdai.settings import Settings, load_config

if TYPE_CHECKING:
    from backup.archive import NodeFiles

DEFAULT_CONFIG = os.environ.get("TONGDAI_CONFIG", "config.yaml")


def cmd_serve(args: argparse.Namespace, ctx: CliContext[Settings]) -> int:
    from core.config import key_lines
    from tongdai.app import serve
    from tongdai.startup_checks import refuse_unsafe

    s = ctx.settings()
    refuse_unsafe(s, ctx.config_path, key_lines(ctx.config_path))  # Node.start checks again, without lines
    run_async(serve(s))
    return 0


def cmd_check(args: argparse.Namespace, ctx: CliContext[Settings]) -> int:
    from tongdai.startup_checks import hash_warnings, refuse_unsafe

    s = ctx.settings()
    for warning in hash_warnings(s):
        print(f"{ctx.config_path}: warning: {warning}", file=sys.stderr)
    from core.config import key_lines

    refuse_unsafe(s, ctx.config_path, key_lines(ctx.config_path))  # what `serve` refuses, named the same way
    summary = f"{len(s.queues)} queues, {len(s.agents)} agents, hotline {s.hotline.numbers}"
    demo = " in demo mode: demo secrets accepted on loopback only" if s.demo else ""
    print(f"{ctx.config_path}: valid ({summary}){demo}")
    return 0


def cmd_db_upgrade(args: argparse.Namespace, ctx: CliContext[Settings]) -> int:
    async def nothing(_: object) -> None:
        return None

    asyncio.run(ctx.with_engine(ctx.settings(), nothing, migrate=True))
    print("database schema is up to date")
    return 0


def cmd_hash_password(args: argparse.Namespace, ctx: CliContext[Settings]) -> int:
    from core.passwords import hash_password

    pw = args.password or getpass.getpass("password: ")
    print(hash_password(pw))
    return 0


def cmd_demo(args: argparse.Namespace, ctx: CliContext[Settings]) -> int:
    from tongdai.demo import run_demo

    run_async(run_demo(ctx.config_path, calls=args.calls, keep_running=not args.once))
    return 0


def cmd_sandbox(args: argparse.Namespace, ctx: CliContext[Settings]) -> int:
    from asterisk_conf.component import SANDBOX

    extra: list[str] = []
    if args.action in ("start", "restart"):
        from asterisk_conf.render import write_all
        from ivr.prompts import generate_prompts

        s = ctx.settings()
        conf_dir = s.node.data_dir / "asterisk-conf"
        sounds = s.node.data_dir / "sounds"
        write_all(s, conf_dir)
        generate_prompts(s.ivr, sounds)
        extra = [str(conf_dir), str(sounds)]
    return subprocess.run([str(SANDBOX), args.action, *extra], check=False).returncode


def cmd_secrets_generate(args: argparse.Namespace, ctx: CliContext[Settings]) -> int:
    from pathlib import Path

    from core.secrets_policy import generate, write_env_file

    s = ctx.settings()
    sip = [i for i, a in enumerate(s.agents) if a.phone == "pjsip"]
    write_env_file(Path(args.out), generate(sip, ari=s.asterisk.webrtc is not None), force=args.force)
    print(f"wrote strong secrets to {args.out} (owner-only); load it as the service's environment")
    return 0


def _node_files(s: Settings, config_path: str) -> NodeFiles:
    from pathlib import Path

    from backup.archive import NodeFiles

    return NodeFiles(
        node=s.node.name,
        database_url=s.database.url,
        recordings_dir=s.recordings.dir,
        spool_dir=s.node.data_dir / "spool",
        config_path=Path(config_path),
        data_dir=s.node.data_dir,
    )


def cmd_backup(args: argparse.Namespace, ctx: CliContext[Settings]) -> int:
    from pathlib import Path

    from backup.archive import create_backup

    files = _node_files(ctx.settings(), ctx.config_path)
    manifest = asyncio.run(create_backup(files, Path(args.archive)))
    rows = sum(manifest.row_counts.values())
    print(f"backed up {rows:,} rows and {len(manifest.files)} files to {args.archive}")
    return 0


def cmd_restore(args: argparse.Namespace, ctx: CliContext[Settings]) -> int:
    from pathlib import Path

    from backup.archive import restore_backup

    files = _node_files(ctx.settings(), ctx.config_path)
    report = asyncio.run(restore_backup(Path(args.archive), files, force=args.force))
    rows = sum(report.manifest.row_counts.values())
    print(
        f"restored {rows:,} rows, {report.recordings} recordings and {report.spooled_cdrs} spooled CDRs "
        f"from {args.archive} (made {report.manifest.created_at} on {report.manifest.node})"
    )
    if report.secrets_file is not None:
        print(f"the backed-up secrets are in {report.secrets_file}: load them as the service's environment")
    return 0


def _node_commands(cli: Commands) -> None:
    cli.add("serve", cmd_serve, "run the bridge: AMI, FastAGI, desktop")
    cli.add("check-config", cmd_check, "validate config.yaml and exit")
    cli.group("db", "the database").add("upgrade", cmd_db_upgrade, "migrate the database schema")
    cli.add("db-upgrade", cmd_db_upgrade, "the same as `db upgrade`")
    hp = cli.add("hash-password", cmd_hash_password, "print a password hash for config.yaml")
    hp.add_argument("password", nargs="?")
    d = cli.add("demo", cmd_demo, "sandbox Asterisk + server + simulated callers")
    d.add_argument("--calls", type=int, default=3)
    d.add_argument("--once", action="store_true", help="exit after the simulated calls")
    sg = cli.group("secrets", "secrets for a new deployment").add(
        "generate", cmd_secrets_generate, "write strong session, AMI, SIP and recording secrets"
    )
    sg.add_argument(
        "--out", required=True, help="the environment file to write, e.g. /etc/tongdai/secrets.env"
    )
    sg.add_argument("--force", action="store_true", help="replace an existing file")
    bk = cli.add(
        "backup", cmd_backup, "one archive of the node (database, recordings, spool, config, secrets)"
    )
    bk.add_argument("archive", help="the .tar.gz to write")
    rs = cli.add("restore", cmd_restore, "rebuild a stopped node from a backup archive (verified first)")
    rs.add_argument("archive")
    rs.add_argument("--force", action="store_true", help="replace a database or files that hold data")
    sb = cli.add("sandbox", cmd_sandbox, "the local Asterisk 22 sandbox (Debian sid chroot)")
    sb.add_argument("action", choices=["build", "start", "stop", "restart", "status"])


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="tongdai", description="contact-center server beside Asterisk")
    p.add_argument("-c", "--config", default=DEFAULT_CONFIG, help="config file (default: %(default)s)")
    p.add_argument("-v", "--verbose", action="store_true")
    p.add_argument(
        "--json-logs",
        action="store_true",
        default=os.environ.get("TONGDAI_JSON_LOGS", "") not in ("", "0"),
        help="log JSON lines (also TONGDAI_JSON_LOGS=1)",
    )
    cli = Commands(p.add_subparsers(dest="cmd", required=True), "cmd")
    _node_commands(cli)
    for spec in COMPONENTS:
        if spec.commands is not None:
            spec.commands(cli)
    return p


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    # One line per record, tagged with the call, redacted (core/logs.py); JSON for a log shipper.
    logs.configure(json_lines=args.json_logs, level=logging.DEBUG if args.verbose else logging.INFO)
    ctx = CliContext(args.config, load_config, MIGRATIONS)
    try:
        return int(args.fn(args, ctx))
    except ConfigError as err:
        print(f"tongdai: {err}", file=sys.stderr)
        return 2
    except TongdaiError as err:
        print(f"tongdai: [{err.error_id}] {err}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    raise SystemExit(main())
