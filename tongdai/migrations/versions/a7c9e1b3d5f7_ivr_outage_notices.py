"""ivr: outage notices posted and expired through the API (outage_notices)

Revision ID: a7c9e1b3d5f7
Revises: f3a5c7e9b1d2
Create Date: 2026-12-03 19:07:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op


revision: str = "a7c9e1b3d5f7"
down_revision: str | Sequence[str] | None = "f3a5c7e9b1d2"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "outage_notices",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("area", sa.String(length=64), nullable=False),
        sa.Column("area_key", sa.String(length=64), nullable=False),
        sa.Column("message_vi", sa.String(length=500), nullable=False),
        sa.Column("message_en", sa.String(length=500), nullable=True),
        sa.Column("starts_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("ends_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("created_by", sa.String(length=32), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expired_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("expired_by", sa.String(length=32), nullable=True),
        sa.Column("heard", sa.Integer(), server_default="0", nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_outage_notices")),
    )
    with op.batch_alter_table("outage_notices", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_outage_notices_area_key"), ["area_key"], unique=False)
        batch_op.create_index("ix_outage_notices_live", ["expired_at", "ends_at"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("outage_notices", schema=None) as batch_op:
        batch_op.drop_index("ix_outage_notices_live")
        batch_op.drop_index(batch_op.f("ix_outage_notices_area_key"))

    op.drop_table("outage_notices")
