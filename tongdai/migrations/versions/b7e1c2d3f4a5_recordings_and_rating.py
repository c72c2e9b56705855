"""recordings metadata, rated calls, the dialled number on CDRs

Revision ID: b7e1c2d3f4a5
Revises: 6e9d4e7f9e57
Create Date: 2026-11-23 03:10:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "b7e1c2d3f4a5"
down_revision: str | None = "6e9d4e7f9e57"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("cdrs", schema=None) as batch_op:
        batch_op.add_column(sa.Column("dialled", sa.String(length=64), nullable=False, server_default=""))

    op.create_table(
        "recordings",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("call_id", sa.String(length=64), nullable=False),
        sa.Column("path", sa.String(length=255), nullable=False),
        sa.Column("customer_id", sa.String(length=32), nullable=True),
        sa.Column("caller_number", sa.String(length=32), nullable=False),
        sa.Column("agent_id", sa.String(length=16), nullable=False),
        sa.Column("queue", sa.String(length=40), nullable=False),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("ended_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("duration_seconds", sa.Float(), nullable=False),
        sa.Column("size_bytes", sa.BigInteger(), nullable=False),
        sa.Column("format", sa.String(length=8), nullable=False),
        sa.Column("sha256", sa.String(length=64), nullable=False),
        sa.Column("ivr_path_text", sa.String(length=255), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("dispute", sa.Boolean(), nullable=False),
        sa.Column("paused_seconds", sa.Float(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_recordings")),
        sa.UniqueConstraint("call_id", name=op.f("uq_recordings_call_id")),
    )
    with op.batch_alter_table("recordings", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_recordings_agent_id"), ["agent_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_recordings_caller_number"), ["caller_number"], unique=False)
        batch_op.create_index(batch_op.f("ix_recordings_customer_id"), ["customer_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_recordings_started_at"), ["started_at"], unique=False)

    op.create_table(
        "rated_calls",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("cdr_id", sa.Integer(), nullable=False),
        sa.Column("call_id", sa.String(length=64), nullable=False),
        sa.Column("account", sa.String(length=64), nullable=False),
        sa.Column("direction", sa.String(length=12), nullable=False),
        sa.Column("caller", sa.String(length=64), nullable=False),
        sa.Column("callee", sa.String(length=64), nullable=False),
        sa.Column("answered_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("plan_id", sa.String(length=40), nullable=False),
        sa.Column("destination", sa.String(length=40), nullable=False),
        sa.Column("prefix", sa.String(length=24), nullable=False),
        sa.Column("charged_party", sa.String(length=12), nullable=False),
        sa.Column("band", sa.String(length=24), nullable=False),
        sa.Column("exact_us", sa.BigInteger(), nullable=False),
        sa.Column("billed_seconds", sa.Integer(), nullable=False),
        sa.Column("blocks", sa.Integer(), nullable=False),
        sa.Column("amount", sa.BigInteger(), nullable=False),
        sa.Column("vat", sa.BigInteger(), nullable=False),
        sa.Column("total", sa.BigInteger(), nullable=False),
        sa.Column("explanation", sa.Text(), nullable=False),
        sa.Column("rated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["cdr_id"], ["cdrs.id"], name=op.f("fk_rated_calls_cdr_id_cdrs"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_rated_calls")),
        sa.UniqueConstraint("cdr_id", name=op.f("uq_rated_calls_cdr_id")),
    )
    with op.batch_alter_table("rated_calls", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_rated_calls_account"), ["account"], unique=False)
        batch_op.create_index(batch_op.f("ix_rated_calls_answered_at"), ["answered_at"], unique=False)
        batch_op.create_index(batch_op.f("ix_rated_calls_call_id"), ["call_id"], unique=False)


def downgrade() -> None:
    op.drop_table("rated_calls")
    op.drop_table("recordings")
    with op.batch_alter_table("cdrs", schema=None) as batch_op:
        batch_op.drop_column("dialled")
