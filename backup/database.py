"""Database dump and load for backups: SQLite's online backup API, or pg_dump/pg_restore for PostgreSQL.

Both are consistent while the service runs: SQLite's backup API copies a snapshot page by page (WAL
readers and writers go on), and pg_dump reads inside one repeatable-read transaction.
"""

from __future__ import annotations

import asyncio
import os
import sqlite3
from pathlib import Path

from sqlalchemy import inspect, text
from sqlalchemy.engine import URL, make_url

from backup.errors import BackupError, RestoreRefused
from core.db import create_engine


def kind_of(url: str) -> str:
    backend = make_url(url).get_backend_name()
    if backend not in ("sqlite", "postgresql"):
        raise BackupError(f"cannot back up a {backend} database: SQLite and PostgreSQL are supported")
    return backend


def sqlite_path(url: str) -> Path:
    database = make_url(url).database
    if not database or database == ":memory:":
        raise BackupError("an in-memory SQLite database has nothing to back up")
    return Path(database)


def _libpq(url: URL) -> tuple[str, dict[str, str]]:
    """A libpq URL without the password (argv is visible to every user) and the env that carries it."""
    env = dict(os.environ)
    if url.password:
        env["PGPASSWORD"] = str(url.password)
    host = url.host or "127.0.0.1"
    user = f"{url.username}@" if url.username else ""
    port = f":{url.port}" if url.port else ""
    return f"postgresql://{user}{host}{port}/{url.database}", env


async def _run(*argv: str, env: dict[str, str]) -> None:
    proc = await asyncio.create_subprocess_exec(
        *argv, env=env, stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.PIPE
    )
    _, err = await proc.communicate()
    if proc.returncode != 0:
        raise BackupError(f"{argv[0]} failed ({proc.returncode}): {err.decode(errors='replace')[-2000:]}")


def _sqlite_copy(src: Path, dst: Path) -> None:
    source = sqlite3.connect(f"file:{src}?mode=ro", uri=True)
    target = sqlite3.connect(dst)
    try:
        with target:
            source.backup(target)
    finally:
        target.close()
        source.close()


async def dump(url: str, out: Path) -> None:
    """Write a consistent copy of the database at ``url`` to ``out``."""
    if kind_of(url) == "sqlite":
        src = sqlite_path(url)
        if not src.is_file():
            raise BackupError(f"no SQLite database at {src}")
        await asyncio.to_thread(_sqlite_copy, src, out)
        return
    dsn, env = _libpq(make_url(url))
    await _run("pg_dump", "--format=custom", "--no-owner", "--no-privileges", "-f", str(out), dsn, env=env)


async def load(url: str, dump_file: Path, *, force: bool) -> None:
    """Replace the database at ``url`` with ``dump_file``; refuse a database that holds data unless forced."""
    if not force and sum((await row_counts(url)).values()) > 0:
        raise RestoreRefused("the target database holds data: restore with --force to replace it")
    if kind_of(url) == "sqlite":
        dst = sqlite_path(url)
        dst.parent.mkdir(parents=True, exist_ok=True)
        tmp = dst.with_name(dst.name + ".restoring")
        await asyncio.to_thread(_sqlite_copy, dump_file, tmp)
        for side in (dst.with_name(dst.name + "-wal"), dst.with_name(dst.name + "-shm")):
            side.unlink(missing_ok=True)
        tmp.replace(dst)
        return
    dsn, env = _libpq(make_url(url))
    # One transaction: a failing restore leaves the database as it was.
    await _run(
        "pg_restore", "--clean", "--if-exists", "--no-owner", "--no-privileges", "--single-transaction",
        "--exit-on-error", "-d", dsn, str(dump_file), env=env,
    )  # fmt: skip


async def row_counts(url: str) -> dict[str, int]:
    """Rows per table (an empty or missing database counts nothing)."""
    if kind_of(url) == "sqlite" and not sqlite_path(url).is_file():
        return {}
    engine = create_engine(url)
    try:
        async with engine.connect() as conn:
            names = await conn.run_sync(lambda c: inspect(c).get_table_names())
            counts: dict[str, int] = {}
            for name in sorted(names):
                quoted = conn.dialect.identifier_preparer.quote(name)
                counts[name] = int((await conn.execute(text(f"SELECT count(*) FROM {quoted}"))).scalar_one())
            return counts
    finally:
        await engine.dispose()


async def schema_revision(url: str) -> str:
    engine = create_engine(url)
    try:
        async with engine.connect() as conn:
            names = await conn.run_sync(lambda c: inspect(c).get_table_names())
            if "alembic_version" not in names:
                return ""
            rows = (await conn.execute(text("SELECT version_num FROM alembic_version"))).scalars()
            return ",".join(sorted(rows))
    finally:
        await engine.dispose()
