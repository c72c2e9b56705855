"""desktop: server-held sessions (desktop_sessions), used when no Redis is configured

Revision ID: f3a5c7e9b1d2
Revises: e2b4d6f8a0c1
Create Date: 2026-12-02 07:00:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "f3a5c7e9b1d2"
down_revision: str | Sequence[str] | None = "e2b4d6f8a0c1"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "desktop_sessions",
        sa.Column("key", sa.String(length=64), nullable=False),
        sa.Column("agent_id", sa.String(length=16), nullable=False),
        sa.Column("csrf", sa.String(length=64), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("last_seen", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("key"),
    )
    op.create_index(op.f("ix_desktop_sessions_agent_id"), "desktop_sessions", ["agent_id"], unique=False)
    op.create_index(op.f("ix_desktop_sessions_last_seen"), "desktop_sessions", ["last_seen"], unique=False)


def downgrade() -> None:
    op.drop_index(op.f("ix_desktop_sessions_last_seen"), table_name="desktop_sessions")
    op.drop_index(op.f("ix_desktop_sessions_agent_id"), table_name="desktop_sessions")
    op.drop_table("desktop_sessions")
