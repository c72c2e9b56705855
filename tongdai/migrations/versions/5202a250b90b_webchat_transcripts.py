"""webchat: ended chats' transcripts; chats in the customer's history (interaction kind 'chat')

Revision ID: 5202a250b90b
Revises: e7c9a1b3d5f2
Create Date: 2026-12-04 18:40:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op


revision: str = "5202a250b90b"
down_revision: str | Sequence[str] | None = "e7c9a1b3d5f2"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_OLD = "kind IN ('call', 'note', 'ticket', 'complaint')"
_NEW = "kind IN ('call', 'note', 'ticket', 'complaint', 'chat')"


def upgrade() -> None:
    op.create_table(
        "chat_transcripts",
        sa.Column("chat_id", sa.String(length=64), nullable=False),
        sa.Column("channel", sa.String(length=16), nullable=False),
        sa.Column("customer_id", sa.String(length=32), nullable=True),
        sa.Column("phone", sa.String(length=20), nullable=True),
        sa.Column("verified", sa.Boolean(), nullable=False),
        sa.Column("queue", sa.String(length=64), nullable=False),
        sa.Column("acd_tier", sa.String(length=32), nullable=False),
        sa.Column("page", sa.Text(), nullable=False),
        sa.Column("agent_id", sa.String(length=64), nullable=True),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("answered_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("ended_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("disposition", sa.String(length=64), nullable=True),
        sa.Column("messages", sa.Integer(), nullable=False),
        sa.Column("transcript", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("chat_id", name=op.f("pk_chat_transcripts")),
    )
    op.create_index(
        "ix_chat_transcripts_customer_started", "chat_transcripts", ["customer_id", "started_at"], unique=False
    )
    with op.batch_alter_table("crm_interactions") as batch:
        batch.drop_constraint(op.f("ck_crm_interactions_kind"), type_="check")
        batch.create_check_constraint(op.f("ck_crm_interactions_kind"), sa.text(_NEW))


def downgrade() -> None:
    op.execute("DELETE FROM crm_interactions WHERE kind = 'chat'")
    with op.batch_alter_table("crm_interactions") as batch:
        batch.drop_constraint(op.f("ck_crm_interactions_kind"), type_="check")
        batch.create_check_constraint(op.f("ck_crm_interactions_kind"), sa.text(_OLD))
    op.drop_index("ix_chat_transcripts_customer_started", table_name="chat_transcripts")
    op.drop_table("chat_transcripts")
