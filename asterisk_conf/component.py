"""Wiring of asterisk_conf: ``tongdai asterisk-conf render|reload`` (Asterisk's configuration from the
validated settings). Its sections are core's (``asterisk``, ``queues``, ``agents``)."""

from __future__ import annotations

import argparse
import subprocess
from pathlib import Path
from typing import TYPE_CHECKING

from core.cli import CliContext, Commands
from core.component import ComponentSpec

if TYPE_CHECKING:
    from tongdai.settings import Settings

__all__ = ["SANDBOX", "SPEC"]

SANDBOX = Path(__file__).resolve().parent / "sandbox.sh"


def sandbox_root() -> Path:
    """The sandbox chroot's root (where its Asterisk writes recordings and CDRs)."""
    out = subprocess.run([str(SANDBOX), "root"], capture_output=True, text=True, check=True).stdout
    return Path(out.strip())


def cmd_render(args: argparse.Namespace, ctx: CliContext[Settings]) -> int:
    from asterisk_conf.render import write_all

    for p in write_all(ctx.settings(), Path(args.dir)):
        print(p)
    return 0


def cmd_reload(args: argparse.Namespace, ctx: CliContext[Settings]) -> int:
    from asterisk_conf.render import write_all

    s = ctx.settings()
    if args.sandbox:
        write_all(s, sandbox_root() / "etc" / "asterisk")
        return subprocess.run([str(SANDBOX), "cli", "core reload"], check=False).returncode
    write_all(s, s.asterisk.config_dir)
    return subprocess.run(["asterisk", "-rx", "core reload"], check=False).returncode


def commands(cli: Commands) -> None:
    conf = cli.group("asterisk-conf", "render or reload Asterisk's configuration")
    conf.add("render", cmd_render, "write Asterisk *.conf files into DIR").add_argument("dir")
    rl = conf.add("reload", cmd_reload, "render into Asterisk's config dir and reload it")
    rl.add_argument("--sandbox", action="store_true", help="the local sandbox Asterisk")


SPEC = ComponentSpec("asterisk_conf", commands=commands)
