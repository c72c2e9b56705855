"""campaigns: answering-machine detection per campaign, its verdict on each attempt

Revision ID: d8b2f4a6c0e3
Revises: d3b5f7a9c1e4
Create Date: 2026-12-04 01:20:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op


revision: str = "d8b2f4a6c0e3"
down_revision: str | Sequence[str] | None = "d3b5f7a9c1e4"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column("campaigns", sa.Column("amd", sa.JSON(), nullable=True))
    op.add_column("campaign_attempts", sa.Column("amd_status", sa.String(length=16), nullable=True))
    op.add_column("campaign_attempts", sa.Column("amd_cause", sa.String(length=64), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("campaign_attempts") as batch:
        batch.drop_column("amd_cause")
        batch.drop_column("amd_status")
    with op.batch_alter_table("campaigns") as batch:
        batch.drop_column("amd")
