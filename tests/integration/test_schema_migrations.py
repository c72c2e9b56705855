"""The Alembic migrations build exactly the schema the models describe, on SQLite and PostgreSQL."""

from __future__ import annotations

from typing import Any

from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import text

from core.db import create_engine, session_factory
from core.migrate import alembic_config
from crm_bridge.directory import CustomerDirectory
from tongdai.schema import MIGRATIONS, metadata, upgrade_to_head


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


async def test_word_index_migration_backfills_existing_customers(db_url: str) -> None:
    """Customers written before the word index existed are found by middle words after the upgrade."""
    engine = create_engine(db_url)
    try:
        async with engine.begin() as conn:
            await conn.run_sync(lambda c: command.upgrade(alembic_config(MIGRATIONS, c), "d6f1a3b5c7e9"))
            for cid, name, folded in (
                ("KH0000000001", "Nguyễn Văn An", "nguyen van an"),
                ("KH0000000002", "Nguyễn Ngọc Nga", "nguyen ngoc nga"),
                ("KH0000000003", "An An", "an an"),
                ("KH0000000004", "-", ""),
            ):
                await conn.execute(
                    text(
                        "INSERT INTO crm_customers (customer_id, kind, full_name, name_search, addresses, "
                        "preferred_language, consent_marketing, consent_recording, consent_data_sharing, "
                        "created_at) VALUES (:cid, 'individual', :name, :folded, '[]', 'vi', false, false, "
                        "false, CURRENT_TIMESTAMP)"
                    ),
                    {"cid": cid, "name": name, "folded": folded},
                )
        await upgrade_to_head(engine)
        async with engine.connect() as conn:
            rows = (
                await conn.execute(text("SELECT word, customer_id, name_search FROM crm_customer_words"))
            ).all()
        assert sorted(map(tuple, rows)) == [
            ("an", "KH0000000001", "nguyen van an"),
            ("an", "KH0000000003", "an an"),
            ("nga", "KH0000000002", "nguyen ngoc nga"),
            ("ngoc", "KH0000000002", "nguyen ngoc nga"),
            ("nguyen", "KH0000000001", "nguyen van an"),
            ("nguyen", "KH0000000002", "nguyen ngoc nga"),
            ("van", "KH0000000001", "nguyen van an"),
        ]
        found = await CustomerDirectory(session_factory(engine)).search("ngoc")
        assert [s.customer_id for s in found] == ["KH0000000002"]
    finally:
        await engine.dispose()
