"""The Alembic migrations build exactly the schema the models describe, on SQLite and PostgreSQL."""

from __future__ import annotations

from typing import Any

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext

from core.db import create_engine
from core.migrate import upgrade_to_head
from core.schema import metadata


async def test_migrations_match_models(db_url: str) -> None:
    engine = create_engine(db_url)
    try:
        await upgrade_to_head(engine)

        def diff(conn: Any) -> list[Any]:
            ctx = MigrationContext.configure(conn, opts={"compare_type": False})
            return list(compare_metadata(ctx, metadata))

        async with engine.connect() as conn:
            changes = await conn.run_sync(diff)
        assert changes == []
    finally:
        await engine.dispose()
