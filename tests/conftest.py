"""Fixtures shared by every test tier.

Databases: ``db_url`` is parametrised over SQLite (a temp file) and PostgreSQL (a fresh database
created for the test on 127.0.0.1:5432 and dropped after), so data-layer tests run on both.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from pathlib import Path

import pytest

PG_ADMIN_DSN = os.environ.get("TONGDAI_TEST_PG", "postgresql://postgres@127.0.0.1:5432/test")
REDIS_URL = os.environ.get("TONGDAI_TEST_REDIS", "redis://127.0.0.1:6379/0")


def _pg_base() -> str:
    return PG_ADMIN_DSN.rsplit("/", 1)[0]


@asynccontextmanager
async def fresh_pg_database() -> AsyncIterator[str]:
    """Create an empty PostgreSQL database, yield its asyncpg SQLAlchemy URL, drop it after."""
    import asyncpg

    name = f"tongdai_t_{uuid.uuid4().hex[:12]}"
    admin = await asyncpg.connect(PG_ADMIN_DSN)
    try:
        await admin.execute(f'CREATE DATABASE "{name}"')
    finally:
        await admin.close()
    try:
        yield f"postgresql+asyncpg://{_pg_base().split('://', 1)[1]}/{name}"
    finally:
        admin = await asyncpg.connect(PG_ADMIN_DSN)
        try:
            await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        finally:
            await admin.close()


@pytest.fixture
async def pg_url() -> AsyncIterator[str]:
    """A fresh, empty PostgreSQL database for this test, dropped afterwards."""
    async with fresh_pg_database() as url:
        yield url


@pytest.fixture
def sqlite_url(tmp_path: Path) -> str:
    return f"sqlite+aiosqlite:///{tmp_path / 'tongdai.db'}"


@pytest.fixture(params=["sqlite", "postgresql"])
async def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[str]:
    """Each data-layer test runs once on SQLite and once on PostgreSQL (fresh database each)."""
    if request.param == "sqlite":
        yield f"sqlite+aiosqlite:///{tmp_path / 'tongdai.db'}"
        return
    async with fresh_pg_database() as url:
        yield url


@pytest.fixture
def repo_root() -> Iterator[Path]:
    yield Path(__file__).resolve().parent.parent
