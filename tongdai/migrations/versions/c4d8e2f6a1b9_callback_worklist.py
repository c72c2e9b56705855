"""callback worklist: tier priority, claims, attempts, outcomes

Also merges the three heads that grew from the initial schema (IVR callbacks, ACD agent state log,
recordings and rating) into one line.

Revision ID: c4d8e2f6a1b9
Revises: 0fd1037bf0ca, a3c5d7e9f1b2, b7e1c2d3f4a5
Create Date: 2026-11-30 09:00:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "c4d8e2f6a1b9"
down_revision: str | Sequence[str] | None = ("0fd1037bf0ca", "a3c5d7e9f1b2", "b7e1c2d3f4a5")
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # Requests recorded before this revision get priority 0 (their tier was not kept): they are worked
    # after every tiered request, oldest first among themselves.
    with op.batch_alter_table("callback_requests", schema=None) as batch_op:
        batch_op.add_column(sa.Column("acd_tier", sa.String(length=16), nullable=True))
        batch_op.add_column(sa.Column("priority", sa.Integer(), server_default="0", nullable=False))
        batch_op.add_column(sa.Column("attempts", sa.Integer(), server_default="0", nullable=False))
        batch_op.add_column(sa.Column("claimed_by", sa.String(length=32), nullable=True))
        batch_op.add_column(sa.Column("claimed_at", sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column("not_before", sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column("outcome", sa.String(length=32), nullable=True))
        batch_op.add_column(sa.Column("completed_at", sa.DateTime(timezone=True), nullable=True))
        batch_op.create_index(batch_op.f("ix_callback_requests_claimed_by"), ["claimed_by"], unique=False)
        batch_op.create_index(
            "ix_callback_requests_worklist", ["status", "priority", "requested_at"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("callback_requests", schema=None) as batch_op:
        batch_op.drop_index("ix_callback_requests_worklist")
        batch_op.drop_index(batch_op.f("ix_callback_requests_claimed_by"))
        for col in (
            "completed_at",
            "outcome",
            "not_before",
            "claimed_at",
            "claimed_by",
            "attempts",
            "priority",
            "acd_tier",
        ):
            batch_op.drop_column(col)
