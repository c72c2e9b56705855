"""Folding of Vietnamese text for search: no diacritics, lower case, single spaces.

"Nguyễn Văn Đạt" → "nguyen van dat". The folded form is stored beside the name (``name_search``) so the
database compares plain ASCII with an ordinary index, the same way on SQLite and PostgreSQL.
"""

from __future__ import annotations

import re
import unicodedata

_NON_WORD = re.compile(r"[^0-9a-z]+")


def fold(text: str) -> str:
    """Return ``text`` without diacritics, lower-cased, punctuation dropped, words single-spaced."""
    # đ/Đ are letters of their own in Unicode (no decomposition), so map them before NFD.
    text = text.replace("đ", "d").replace("Đ", "D")
    decomposed = unicodedata.normalize("NFD", text)
    stripped = "".join(ch for ch in decomposed if not unicodedata.combining(ch))
    return _NON_WORD.sub(" ", stripped.lower()).strip()


def words_of(folded: str) -> list[str]:
    """The distinct words of a folded name, in order (the rows of its word index)."""
    return list(dict.fromkeys(folded.split()))
