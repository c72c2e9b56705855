"""acd: agent_state_log

Revision ID: a3c5d7e9f1b2
Revises: 6e9d4e7f9e57
Create Date: 2026-11-23 03:05:00.000000
"""
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op


revision: str = 'a3c5d7e9f1b2'
down_revision: str | None = '6e9d4e7f9e57'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table('agent_state_log',
    sa.Column('id', sa.Integer(), autoincrement=True, nullable=False),
    sa.Column('agent', sa.String(length=16), nullable=False),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('reason', sa.String(length=32), nullable=False),
    sa.Column('started', sa.DateTime(timezone=True), nullable=False),
    sa.Column('ended', sa.DateTime(timezone=True), nullable=False),
    sa.Column('seconds', sa.Float(), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_agent_state_log'))
    )
    with op.batch_alter_table('agent_state_log', schema=None) as batch_op:
        batch_op.create_index('ix_agent_state_log_agent_started', ['agent', 'started'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('agent_state_log', schema=None) as batch_op:
        batch_op.drop_index('ix_agent_state_log_agent_started')
    op.drop_table('agent_state_log')
