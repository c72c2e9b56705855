"""Agent search of customers by name: diacritics and case ignored, whole-name prefix then words.

Names match by prefix of the whole folded name first ("nguyen van" → "Nguyễn Văn An", a range scan on
its index), then by words anywhere, each word matched as the start of a word ("van an" → "Nguyễn Văn
An", "Lê Văn Anh"), through the word index (:mod:`crm_bridge.name_index`).
"""

from __future__ import annotations

from sqlalchemy import ScalarSelect, func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from crm_bridge.models import Customer, CustomerWord
from crm_bridge.profile import CustomerSummary
from crm_bridge.textfold import words_of

__all__ = ["search_names"]

# Byte order puts U+10FFFF after every other character (UTF-8 on PostgreSQL "C", memcmp on SQLite).
_PREFIX_END = "\U0010ffff"
# Counting a query word's prefix range stops at these caps: enough to tell a rare word from a common one.
_FIRST_CAP, _LAST_CAP = 1_000, 20_000
_COLS = (Customer.customer_id, Customer.full_name, Customer.kind, Customer.province, Customer.segment)


async def search_names(session: AsyncSession, folded: str, limit: int) -> list[CustomerSummary]:
    """Up to ``limit`` customers whose name matches ``folded`` (already folded, see module doc)."""
    found: dict[str, CustomerSummary] = {}
    rows = await session.execute(
        select(*_COLS)
        .where(Customer.name_search >= folded, Customer.name_search < folded + _PREFIX_END)
        .order_by(Customer.name_search, Customer.customer_id)
        .limit(limit)
    )
    for r in rows:
        found[r[0]] = CustomerSummary(*r)
    if len(found) < limit:
        await _by_words(session, words_of(folded), limit, found)
    return list(found.values())[:limit]


async def _by_words(
    session: AsyncSession, words: list[str], limit: int, found: dict[str, CustomerSummary]
) -> None:
    """Add to ``found`` (up to ``limit``) the customers having a word that starts with each of ``words``.

    Reads the prefix range of the rarest word in ``crm_customer_words`` and checks the other words on
    the folded name stored in the same row, so the cost is that one range, not the whole table.
    """
    driver = await _rarest(session, words)
    col = CustomerWord.name_search
    stmt = (
        select(CustomerWord.customer_id)
        .where(
            CustomerWord.word >= driver,
            CustomerWord.word < driver + _PREFIX_END,
            *(or_(col.like(f"{w}%"), col.like(f"% {w}%")) for w in words if w != driver),
        )
        .order_by(CustomerWord.word, CustomerWord.customer_id)
    )
    want = limit - len(found)
    fetch = limit + len(found)
    while True:
        # A customer shows up once per word starting with the driver ("ng" → nguyen, ngoc): fetch
        # more if those repeats (or customers already found) leave fewer than wanted.
        ids = list(await session.scalars(stmt.limit(fetch)))
        new = [cid for cid in dict.fromkeys(ids) if cid not in found]
        if len(new) >= want or len(ids) < fetch:
            break
        fetch *= 4
    new = new[:want]
    if not new:
        return
    cols = (Customer.customer_id, Customer.full_name, Customer.kind, Customer.province, Customer.segment)
    rows = {
        r[0]: CustomerSummary(*r)
        for r in await session.execute(select(*cols).where(Customer.customer_id.in_(new)))
    }
    found.update((cid, rows[cid]) for cid in new if cid in rows)


async def _rarest(session: AsyncSession, words: list[str]) -> str:
    """The query word whose prefix range holds the fewest rows: it drives the search.

    Counting a range costs its length, so counts stop at caps: first all words up to a small cap in
    one query (a rare word, like the number of a company name, settles it; ties go to the longest);
    if none is below it, one word at a time in query order (family name first), each capped at the
    smallest count so far (if all reach the last cap, the first word drives).
    """
    if len(words) == 1:
        return words[0]

    def capped(w: str, cap: int) -> ScalarSelect[int]:
        rows = select(CustomerWord.word).where(CustomerWord.word >= w, CustomerWord.word < w + _PREFIX_END)
        return select(func.count()).select_from(rows.limit(cap).subquery()).scalar_subquery()

    row = (await session.execute(select(*(capped(w, _FIRST_CAP) for w in words)))).one()
    best = min(zip(row, (-len(w) for w in words), words, strict=True))
    if best[0] < _FIRST_CAP:
        return best[2]
    least, rarest = _LAST_CAP, words[0]
    for w in words:
        n = await session.scalar(select(capped(w, least)))
        if n is not None and n < least:
            least, rarest = n, w
    return rarest
