"""The command-line kit components register their commands with (the root CLI is ``tongdai.cli``).

A component adds its commands through :class:`Commands` (sub-commands and groups of argparse); each
command receives the parsed arguments and a :class:`CliContext`, which loads the configuration and
opens the database. Read-only commands open it as it is; only commands that write ask for
``migrate=True`` (``serve``, imports, re-rating, purges, ``db upgrade``).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import signal
from collections.abc import Awaitable, Callable, Coroutine
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any, Generic, Protocol, TypeVar

from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from core.config import DatabaseConfig
from core.db import create_engine, session_factory
from core.memory_dump import MemoryDump
from core.migrate import require_current_schema, upgrade_to_head
from core.vietnam import VN_TZ

log = logging.getLogger(__name__)


class _WithDatabase(Protocol):
    @property
    def database(self) -> DatabaseConfig: ...


S = TypeVar("S", bound=_WithDatabase)
T = TypeVar("T")
Sessions = async_sessionmaker[AsyncSession]
Handler = Callable[[argparse.Namespace, "CliContext[Any]"], int]


@dataclass
class CliContext(Generic[S]):
    """What a command needs from the node: its settings and its database."""

    config_path: str
    load: Callable[[str], S]  # the complete Settings model's loader (tongdai.settings.load_config)
    migrations: Path  # the Alembic scripts, for the commands that migrate

    def settings(self) -> S:
        return self.load(self.config_path)

    async def with_engine(
        self, settings: S, fn: Callable[[AsyncEngine], Awaitable[T]], *, migrate: bool = False
    ) -> T:
        engine = create_engine(settings.database.url)
        try:
            if migrate:
                await upgrade_to_head(engine, self.migrations)
            else:
                await require_current_schema(engine, self.migrations)
            return await fn(engine)
        finally:
            await engine.dispose()

    async def with_db(
        self, settings: S, fn: Callable[[Sessions], Awaitable[T]], *, migrate: bool = False
    ) -> T:
        async def run(engine: AsyncEngine) -> T:
            return await fn(session_factory(engine))

        return await self.with_engine(settings, run, migrate=migrate)


class Commands:
    """One level of sub-commands; :meth:`group` opens a nested level (``tongdai crm …``)."""

    def __init__(self, sub: argparse._SubParsersAction[argparse.ArgumentParser], dest: str) -> None:
        self._sub = sub
        self._dest = dest
        self._groups: dict[str, Commands] = {}

    def add(self, name: str, handler: Handler, help: str, **kwargs: Any) -> argparse.ArgumentParser:
        p = self._sub.add_parser(name, help=help, **kwargs)
        p.set_defaults(fn=handler)
        return p

    def group(self, name: str, help: str) -> Commands:
        """The sub-commands under ``name`` (shared by every component that adds to it)."""
        if name not in self._groups:
            p = self._sub.add_parser(name, help=help)
            dest = f"{self._dest}_{name}"
            self._groups[name] = Commands(p.add_subparsers(dest=dest, required=True), dest)
        return self._groups[name]


def _await_chain(coro: Any) -> str:
    """Where a suspended coroutine waits, outermost first: ``Task.get_stack`` gives only the outer
    frame of a suspended coroutine, so follow ``cr_await`` down to the innermost awaitable."""
    out: list[str] = []
    while coro is not None and len(out) < 24:
        frame = getattr(coro, "cr_frame", None) or getattr(coro, "gi_frame", None)
        if frame is None:  # a Future, a Task or a C-level awaitable: the end of the chain
            out.append(repr(coro)[:160])
            break
        out.append(f"{frame.f_code.co_name} ({frame.f_code.co_filename}:{frame.f_lineno})")
        coro = getattr(coro, "cr_await", None) or getattr(coro, "gi_yieldfrom", None)
    return " -> ".join(out)


def log_tasks() -> None:
    """Log every asyncio task with the chain of awaits it is suspended in: how to see why a node
    hangs (or is slow to stop) without a debugger."""
    for t in asyncio.all_tasks():
        log.warning("task %s: %s", t.get_name(), _await_chain(t.get_coro()) or "(running)")


def run_async(coro: Coroutine[Any, Any, Any]) -> None:
    """Run a long-lived coroutine until it ends or SIGINT/SIGTERM cancels it."""
    loop = asyncio.new_event_loop()
    task = loop.create_task(coro)
    for sig in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError):
            loop.add_signal_handler(sig, task.cancel)
    with contextlib.suppress(NotImplementedError):  # `kill -USR1 <pid>`: what is every task waiting on?
        loop.add_signal_handler(signal.SIGUSR1, log_tasks)
    with contextlib.suppress(NotImplementedError):  # `kill -USR2 <pid>`: what does memory hold?
        loop.add_signal_handler(signal.SIGUSR2, MemoryDump())
    try:
        loop.run_until_complete(task)
    except asyncio.CancelledError:
        pass
    finally:
        loop.run_until_complete(loop.shutdown_asyncgens())
        loop.close()


def vn_day(text: str) -> datetime:
    """An argparse type: ``2026-11-23`` as midnight in Việt Nam."""
    try:
        return datetime.strptime(text, "%Y-%m-%d").replace(tzinfo=VN_TZ)
    except ValueError as err:
        raise argparse.ArgumentTypeError(f"{text!r} is not a date like 2026-11-23") from err
