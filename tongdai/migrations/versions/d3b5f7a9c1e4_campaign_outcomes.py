"""campaign outcomes: dispositions (rules on the campaign, saved on attempts and contacts), the agent
of each attempt, preview holds on contacts

Revision ID: d3b5f7a9c1e4
Revises: c1a3e5f7b9d2
Create Date: 2026-12-04 01:10:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op


revision: str = "d3b5f7a9c1e4"
down_revision: str | Sequence[str] | None = "c1a3e5f7b9d2"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("campaigns") as b:
        b.add_column(sa.Column("disposition_rules", sa.JSON(), nullable=False, server_default="{}"))
    with op.batch_alter_table("campaign_contacts") as b:
        b.add_column(sa.Column("disposition", sa.String(length=40), nullable=True))
        b.add_column(sa.Column("held_by", sa.String(length=16), nullable=True))
        b.add_column(sa.Column("held_at", sa.DateTime(timezone=True), nullable=True))
    with op.batch_alter_table("campaign_attempts") as b:
        b.add_column(sa.Column("agent_id", sa.String(length=16), nullable=False, server_default=""))
        b.add_column(sa.Column("disposition", sa.String(length=40), nullable=True))
        b.add_column(sa.Column("note", sa.Text(), nullable=False, server_default=""))
        b.add_column(sa.Column("disposition_at", sa.DateTime(timezone=True), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("campaign_attempts") as b:
        for col in ("disposition_at", "note", "disposition", "agent_id"):
            b.drop_column(col)
    with op.batch_alter_table("campaign_contacts") as b:
        for col in ("held_at", "held_by", "disposition"):
            b.drop_column(col)
    with op.batch_alter_table("campaigns") as b:
        b.drop_column("disposition_rules")
