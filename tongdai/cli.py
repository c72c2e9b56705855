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

from core.cli import CliContext, Commands, run_async
from core.errors import ConfigError, TongdaiError
from tongdai.components import COMPONENTS
from tongdai.schema import MIGRATIONS
from tongdai.settings import Settings, load_config

DEFAULT_CONFIG = os.environ.get("TONGDAI_CONFIG", "config.yaml")


def cmd_serve(args: argparse.Namespace, ctx: CliContext[Settings]) -> int:
    from tongdai.app import serve

    run_async(serve(ctx.settings()))
    return 0


def cmd_check(args: argparse.Namespace, ctx: CliContext[Settings]) -> int:
    s = ctx.settings()
    summary = f"{len(s.queues)} queues, {len(s.agents)} agents, hotline {s.hotline.numbers}"
    print(f"{ctx.config_path}: valid ({summary})")
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
    sb = cli.add("sandbox", cmd_sandbox, "the local Asterisk 22 sandbox (Debian sid chroot)")
    sb.add_argument("action", choices=["build", "start", "stop", "restart", "status"])


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="tongdai", description="contact-center server beside Asterisk")
    p.add_argument("-c", "--config", default=DEFAULT_CONFIG, help="config file (default: %(default)s)")
    p.add_argument("-v", "--verbose", action="store_true")
    cli = Commands(p.add_subparsers(dest="cmd", required=True), "cmd")
    _node_commands(cli)
    for spec in COMPONENTS:
        if spec.commands is not None:
            spec.commands(cli)
    return p


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    logging.basicConfig(
        level=logging.DEBUG if args.verbose else logging.INFO,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
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
