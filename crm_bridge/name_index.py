"""The word index of customer names (``crm_customer_words``): its rows, and their upkeep on rename.

Agent search by words in the middle of a name ("van an" → "Nguyễn Văn An") reads the prefix range of one
query word in this index instead of scanning every name; see ``CustomerDirectory.search``.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import delete, insert
from sqlalchemy.ext.asyncio import AsyncSession

from crm_bridge.models import CustomerWord
from crm_bridge.textfold import words_of

__all__ = ["PG_FILL_WORDS", "replace_words", "word_rows"]

# Bulk fill on PostgreSQL from the names already written, sorted by word so that a word's rows sit on
# adjacent heap pages (the range scan then reads a few pages, not one page per customer).
PG_FILL_WORDS = """
INSERT INTO crm_customer_words (word, customer_id, name_search)
SELECT DISTINCT w.word COLLATE "C", c.customer_id, c.name_search
FROM crm_customers c CROSS JOIN LATERAL unnest(string_to_array(c.name_search, ' ')) AS w(word)
WHERE w.word <> ''
ORDER BY 1, 2
"""


def word_rows(customer_id: str, name_search: str) -> list[dict[str, Any]]:
    """The index rows of one customer's folded name."""
    return [
        {"word": w, "customer_id": customer_id, "name_search": name_search} for w in words_of(name_search)
    ]


async def replace_words(session: AsyncSession, customer_id: str, name_search: str) -> None:
    """Make the customer's index rows those of ``name_search`` (inside the caller's transaction)."""
    await session.execute(delete(CustomerWord).where(CustomerWord.customer_id == customer_id))
    rows = word_rows(customer_id, name_search)
    if rows:
        await session.execute(insert(CustomerWord), rows)
