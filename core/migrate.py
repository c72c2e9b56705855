"""Schema migrations with Alembic, applied by the commands that write so a node never runs on an old
schema. The migration scripts belong to the composition root (they know every package's tables):
the caller says where they are, so core imports no domain package."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Connection
from sqlalchemy.ext.asyncio import AsyncEngine

from core.errors import TongdaiError


def alembic_config(script_location: Path | str, connection: Any = None) -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", str(script_location))
    if connection is not None:
        cfg.attributes["connection"] = connection
    return cfg


async def upgrade_to_head(engine: AsyncEngine, script_location: Path | str) -> None:
    async with engine.begin() as conn:
        await conn.run_sync(lambda c: command.upgrade(alembic_config(script_location, c), "heads"))


class SchemaOutdated(TongdaiError):
    error_id = "db.schema_outdated"


def _current_heads(connection: Connection) -> set[str]:
    return set(MigrationContext.configure(connection).get_current_heads())


async def require_current_schema(engine: AsyncEngine, script_location: Path | str) -> None:
    """For read-only commands, which never migrate: refuse clearly on a missing or older schema."""
    heads = set(ScriptDirectory.from_config(alembic_config(script_location)).get_heads())
    async with engine.connect() as conn:
        current = await conn.run_sync(_current_heads)
    if current != heads:
        state = ", ".join(sorted(current)) or "empty"
        raise SchemaOutdated(
            f"the database schema is not current ({state}); run `tongdai db upgrade` (or `tongdai serve`)"
        )
