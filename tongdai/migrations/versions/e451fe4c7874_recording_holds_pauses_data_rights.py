"""recordings: legal hold per recording, the spans a recording was paused; crm: the consent log and
the data subjects' requests (Decree 13/2023)

Revision ID: e451fe4c7874
Revises: 5be0c2d4f6a8
Create Date: 2026-12-04 18:40:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op


revision: str = "e451fe4c7874"
down_revision: str | Sequence[str] | None = "5be0c2d4f6a8"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_BIG_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.add_column(
        "recordings", sa.Column("legal_hold", sa.Boolean(), nullable=False, server_default=sa.false())
    )
    op.add_column(
        "recordings",
        sa.Column("legal_hold_reason", sa.String(length=200), nullable=False, server_default=""),
    )
    op.create_table(
        "recording_pauses",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("call_id", sa.String(length=64), nullable=False),
        sa.Column("paused_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("resumed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("paused_by", sa.String(length=16), nullable=False),
    )
    op.create_index("ix_recording_pauses_call_id", "recording_pauses", ["call_id"])
    op.create_table(
        "crm_consent_log",
        sa.Column("id", _BIG_ID, primary_key=True, autoincrement=True),
        sa.Column("customer_id", sa.String(length=16), nullable=False),
        sa.Column("consent", sa.String(length=16), nullable=False),
        sa.Column("granted", sa.Boolean(), nullable=False),
        sa.Column("source", sa.String(length=16), nullable=False),
        sa.Column("actor", sa.String(length=32), nullable=False),
        sa.Column("note", sa.String(length=200), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_index("ix_crm_consent_log_customer_id", "crm_consent_log", ["customer_id"])
    op.create_table(
        "crm_data_rights_requests",
        sa.Column("id", _BIG_ID, primary_key=True, autoincrement=True),
        sa.Column("customer_id", sa.String(length=16), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("reason", sa.String(length=500), nullable=False),
        sa.Column("actor", sa.String(length=32), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("detail", sa.JSON(), nullable=False),
    )
    op.create_index("ix_crm_data_rights_requests_customer_id", "crm_data_rights_requests", ["customer_id"])


def downgrade() -> None:
    op.drop_index("ix_crm_data_rights_requests_customer_id", "crm_data_rights_requests")
    op.drop_table("crm_data_rights_requests")
    op.drop_index("ix_crm_consent_log_customer_id", "crm_consent_log")
    op.drop_table("crm_consent_log")
    op.drop_index("ix_recording_pauses_call_id", "recording_pauses")
    op.drop_table("recording_pauses")
    with op.batch_alter_table("recordings") as batch:
        batch.drop_column("legal_hold_reason")
        batch.drop_column("legal_hold")
