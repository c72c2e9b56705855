"""callback requests keep the queue the caller wanted (for the automatic callback dialler)

Revision ID: d6f1a3b5c7e9
Revises: c4d8e2f6a1b9
Create Date: 2026-12-01 22:30:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "d6f1a3b5c7e9"
down_revision: str | Sequence[str] | None = "c4d8e2f6a1b9"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # Older rows keep NULL: the dialler sends those customers to the configured default queue.
    with op.batch_alter_table("callback_requests", schema=None) as batch_op:
        batch_op.add_column(sa.Column("queue", sa.String(length=40), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("callback_requests", schema=None) as batch_op:
        batch_op.drop_column("queue")
