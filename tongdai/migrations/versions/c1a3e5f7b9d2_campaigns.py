"""campaigns: campaigns, contacts, attempts, do-not-call numbers

Revision ID: c1a3e5f7b9d2
Revises: a7c9e1b3d5f7
Create Date: 2026-12-03 19:45:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op


revision: str = "c1a3e5f7b9d2"
down_revision: str | Sequence[str] | None = "a7c9e1b3d5f7"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "campaigns",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("name", sa.String(length=80), nullable=False),
        sa.Column("queue", sa.String(length=40), nullable=False),
        sa.Column("purpose", sa.String(length=16), nullable=False),
        sa.Column("mode", sa.String(length=16), nullable=False),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("script", sa.Text(), nullable=False),
        sa.Column("dispositions", sa.JSON(), nullable=False),
        sa.Column("window_start", sa.String(length=5), nullable=False),
        sa.Column("window_end", sa.String(length=5), nullable=False),
        sa.Column("min_gap_hours", sa.Double(), nullable=False),
        sa.Column("max_attempts_per_day", sa.Integer(), nullable=False),
        sa.Column("max_attempts", sa.Integer(), nullable=False),
        sa.Column("retry_minutes", sa.JSON(), nullable=False),
        sa.Column("starts_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("ends_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("created_by", sa.String(length=32), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_campaigns")),
        sa.UniqueConstraint("name", name=op.f("uq_campaigns_name")),
    )
    op.create_table(
        "dnc_numbers",
        sa.Column("number", sa.String(length=16), nullable=False),
        sa.Column("source", sa.String(length=16), nullable=False),
        sa.Column("added_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("number", "source", name=op.f("pk_dnc_numbers")),
    )
    op.create_table(
        "campaign_attempts",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("campaign_id", sa.Integer(), nullable=False),
        sa.Column("contact_id", sa.Integer(), nullable=False),
        sa.Column("number", sa.String(length=16), nullable=False),
        sa.Column("purpose", sa.String(length=16), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("outcome", sa.String(length=16), nullable=False),
        sa.Column("reason", sa.String(length=32), nullable=True),
        sa.Column("connected", sa.Boolean(), nullable=False),
        sa.Column("call_id", sa.String(length=64), nullable=False),
        sa.ForeignKeyConstraint(
            ["campaign_id"],
            ["campaigns.id"],
            name=op.f("fk_campaign_attempts_campaign_id_campaigns"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_campaign_attempts")),
    )
    with op.batch_alter_table("campaign_attempts", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_campaign_attempts_campaign_id"), ["campaign_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_campaign_attempts_contact_id"), ["contact_id"], unique=False)
        batch_op.create_index("ix_campaign_attempts_number", ["number", "at"], unique=False)

    op.create_table(
        "campaign_contacts",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("campaign_id", sa.Integer(), nullable=False),
        sa.Column("number", sa.String(length=16), nullable=False),
        sa.Column("customer_id", sa.String(length=32), nullable=True),
        sa.Column("name", sa.String(length=120), nullable=False),
        sa.Column("priority", sa.Integer(), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("next_attempt_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("last_outcome", sa.String(length=32), nullable=True),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.ForeignKeyConstraint(
            ["campaign_id"],
            ["campaigns.id"],
            name=op.f("fk_campaign_contacts_campaign_id_campaigns"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_campaign_contacts")),
        sa.UniqueConstraint("campaign_id", "number", name="uq_campaign_contacts_number"),
    )
    with op.batch_alter_table("campaign_contacts", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_campaign_contacts_customer_id"), ["customer_id"], unique=False)
        batch_op.create_index(
            "ix_campaign_contacts_next", ["campaign_id", "state", "priority", "next_attempt_at"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("campaign_contacts", schema=None) as batch_op:
        batch_op.drop_index("ix_campaign_contacts_next")
        batch_op.drop_index(batch_op.f("ix_campaign_contacts_customer_id"))

    op.drop_table("campaign_contacts")
    with op.batch_alter_table("campaign_attempts", schema=None) as batch_op:
        batch_op.drop_index("ix_campaign_attempts_number")
        batch_op.drop_index(batch_op.f("ix_campaign_attempts_contact_id"))
        batch_op.drop_index(batch_op.f("ix_campaign_attempts_campaign_id"))

    op.drop_table("campaign_attempts")
    op.drop_table("dnc_numbers")
    op.drop_table("campaigns")
