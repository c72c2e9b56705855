"""crm: word index of customer names (crm_customer_words), backfilled; name index with the customer ID

Revision ID: e2b4d6f8a0c1
Revises: d6f1a3b5c7e9
Create Date: 2026-12-01 23:00:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "e2b4d6f8a0c1"
down_revision: str | Sequence[str] | None = "d6f1a3b5c7e9"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_SEARCH_TEXT = sa.String(length=200).with_variant(sa.String(length=200, collation="C"), "postgresql")

# The backfill splits each folded name in SQL (no rows through Python), sorted by word so the rows of a
# word are adjacent. Frozen here rather than imported: a migration must not change with the app code.
_FILL_POSTGRESQL = """
INSERT INTO crm_customer_words (word, customer_id, name_search)
SELECT DISTINCT w.word COLLATE "C", c.customer_id, c.name_search
FROM crm_customers c CROSS JOIN LATERAL unnest(string_to_array(c.name_search, ' ')) AS w(word)
WHERE w.word <> ''
ORDER BY 1, 2
"""
_FILL_SQLITE = """
INSERT OR IGNORE INTO crm_customer_words (word, customer_id, name_search)
WITH RECURSIVE split(customer_id, name_search, word, rest) AS (
    SELECT customer_id, name_search, NULL, name_search || ' ' FROM crm_customers
    UNION ALL
    SELECT customer_id, name_search, substr(rest, 1, instr(rest, ' ') - 1), substr(rest, instr(rest, ' ') + 1)
    FROM split WHERE rest <> ''
)
SELECT word, customer_id, name_search FROM split WHERE word <> ''
"""


def upgrade() -> None:
    op.create_table(
        "crm_customer_words",
        sa.Column("word", _SEARCH_TEXT, nullable=False),
        sa.Column("customer_id", sa.String(length=16), nullable=False),
        sa.Column("name_search", _SEARCH_TEXT, nullable=False),
        sa.ForeignKeyConstraint(
            ["customer_id"],
            ["crm_customers.customer_id"],
            name=op.f("fk_crm_customer_words_customer_id_crm_customers"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("word", "customer_id", name=op.f("pk_crm_customer_words")),
        sqlite_with_rowid=False,
    )
    bind = op.get_bind()
    op.execute(_FILL_POSTGRESQL if bind.dialect.name == "postgresql" else _FILL_SQLITE)
    with op.batch_alter_table("crm_customer_words", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_crm_customer_words_customer_id"), ["customer_id"], unique=False)
    # (name_search, customer_id): the whole-name prefix search is ordered by both and can stop at its limit.
    with op.batch_alter_table("crm_customers", schema=None) as batch_op:
        batch_op.drop_index("ix_crm_customers_name_search")
        batch_op.create_index("ix_crm_customers_name_search", ["name_search", "customer_id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("crm_customers", schema=None) as batch_op:
        batch_op.drop_index("ix_crm_customers_name_search")
        batch_op.create_index("ix_crm_customers_name_search", ["name_search"], unique=False)
    with op.batch_alter_table("crm_customer_words", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_crm_customer_words_customer_id"))
    op.drop_table("crm_customer_words")
