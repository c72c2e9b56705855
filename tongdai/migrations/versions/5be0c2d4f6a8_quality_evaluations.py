"""quality: the evaluations QA analysts fill for calls

Revision ID: 5be0c2d4f6a8
Revises: d8b2f4a6c0e3
Create Date: 2026-12-04 19:00:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op


revision: str = "5be0c2d4f6a8"
down_revision: str | Sequence[str] | None = "d8b2f4a6c0e3"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "quality_evaluations",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("call_id", sa.String(length=64), nullable=False),
        sa.Column("agent_id", sa.String(length=16), nullable=False),
        sa.Column("queue", sa.String(length=40), nullable=False),
        sa.Column("form_id", sa.String(length=40), nullable=False),
        sa.Column("form_name", sa.String(length=120), nullable=False),
        sa.Column("evaluator", sa.String(length=32), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("score", sa.Float(), nullable=False),
        sa.Column("fatal", sa.JSON(), nullable=False),
        sa.Column("fatal_count", sa.Integer(), nullable=False),
        sa.Column("sections", sa.JSON(), nullable=False),
        sa.Column("answers", sa.JSON(), nullable=False),
        sa.Column("comment", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_quality_evaluations_call_id", "quality_evaluations", ["call_id"])
    op.create_index("ix_quality_evaluations_created_at", "quality_evaluations", ["created_at"])
    op.create_index("ix_quality_agent_at", "quality_evaluations", ["agent_id", "created_at"])


def downgrade() -> None:
    op.drop_index("ix_quality_agent_at", table_name="quality_evaluations")
    op.drop_index("ix_quality_evaluations_created_at", table_name="quality_evaluations")
    op.drop_index("ix_quality_evaluations_call_id", table_name="quality_evaluations")
    op.drop_table("quality_evaluations")
