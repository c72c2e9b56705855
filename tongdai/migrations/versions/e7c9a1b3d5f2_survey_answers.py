"""ivr: post-call survey answers (one row per question of a surveyed call)

Revision ID: e7c9a1b3d5f2
Revises: e451fe4c7874
Create Date: 2026-12-04 18:40:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op


revision: str = "e7c9a1b3d5f2"
down_revision: str | Sequence[str] | None = "e451fe4c7874"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "survey_answers",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("call_id", sa.String(length=64), nullable=False),
        sa.Column("question", sa.String(length=32), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=8), nullable=False),
        sa.Column("scale_max", sa.Integer(), nullable=False),
        sa.Column("csat", sa.Boolean(), nullable=False),
        sa.Column("value", sa.Integer(), nullable=True),
        sa.Column("status", sa.String(length=12), nullable=False),
        sa.Column("queue", sa.String(length=40), nullable=False),
        sa.Column("agent_id", sa.String(length=32), nullable=False),
        sa.Column("customer_id", sa.String(length=32), nullable=True),
        sa.Column("language", sa.String(length=8), nullable=False),
        sa.Column("asked_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("call_id", "question", name="uq_survey_answers_call_question"),
    )
    op.create_index("ix_survey_answers_call_id", "survey_answers", ["call_id"])
    op.create_index("ix_survey_answers_agent_id", "survey_answers", ["agent_id"])
    op.create_index("ix_survey_answers_customer_id", "survey_answers", ["customer_id"])
    op.create_index("ix_survey_answers_day", "survey_answers", ["asked_at", "queue"])


def downgrade() -> None:
    op.drop_table("survey_answers")
