"""Numbers read back to a caller, in Vietnamese and English, as sequences of pre-generated word sounds.

A read-back is a :class:`Spoken`: the words as text (for logs, tests, the agent's screen) and the tokens
``<lang>/num/<slug>`` that name one sound file each (``tongdai/vi/num/mot5.wav``), generated at build
time from :data:`WORDS` by :mod:`ivr.prompts`. Concatenating word files is how Asterisk's own
``SayNumber`` works, and it keeps every figure exact (a TTS engine asked for "1.250.000" at call time
may read the dots as decimals).

Vietnamese rules that a naive digit-to-word map gets wrong:

* 1 after ``mươi`` is ``mốt`` (21 hai mươi mốt) but ``một`` after ``mười`` (11 mười một);
* 5 after ``mười``/``mươi`` is ``lăm`` (15 mười lăm, 25 hai mươi lăm), but ``năm`` after ``lẻ`` (105);
* 4 after ``mươi`` is ``tư`` (24 hai mươi tư), ``bốn`` elsewhere (14 mười bốn);
* 10 is ``mười``, tens are ``mươi`` (20 hai mươi);
* a zero tens digit inside a hundred reads ``lẻ`` (105 một trăm lẻ năm), and a group after a larger unit
  is read in full (1.005 một nghìn không trăm lẻ năm); zero groups are skipped (1.000.000 một triệu);
* the fourth month is ``tháng tư``.

Slugs for Vietnamese words are ASCII with the tone as a VNI digit (sắc 1, huyền 2, hỏi 3, ngã 4,
nặng 5), so ``một`` → ``mot5`` and ``mốt`` → ``mot1`` do not collide on disk.
"""

from __future__ import annotations

import datetime as dt
import unicodedata
from dataclasses import dataclass
from typing import Literal

Lang = Literal["vi", "en"]

_TONES = {"\u0301": "1", "\u0300": "2", "\u0309": "3", "\u0303": "4", "\u0323": "5"}


def vi_slug(word: str) -> str:
    """ASCII file-safe name of a Vietnamese word: letters without marks, tone as a VNI digit."""
    tone = ""
    out: list[str] = []
    for ch in unicodedata.normalize("NFD", word.lower().replace("đ", "d")):
        if ch in _TONES:
            tone = _TONES[ch]
        elif not unicodedata.combining(ch):
            out.append(ch)
    return "".join(out) + tone


_VI_DIGITS = ("không", "một", "hai", "ba", "bốn", "năm", "sáu", "bảy", "tám", "chín")
_VI_EXTRA = ("mốt", "tư", "lăm", "mười", "mươi", "trăm", "lẻ", "nghìn", "triệu", "tỷ")
_VI_UNITS = ("đồng", "điểm", "ngày", "tháng")  # "năm" (year) is the same word and file as năm (five)

_EN_ONES = (
    "zero",
    "one",
    "two",
    "three",
    "four",
    "five",
    "six",
    "seven",
    "eight",
    "nine",
    "ten",
    "eleven",
    "twelve",
    "thirteen",
    "fourteen",
    "fifteen",
    "sixteen",
    "seventeen",
    "eighteen",
    "nineteen",
)
_EN_TENS = ("", "", "twenty", "thirty", "forty", "fifty", "sixty", "seventy", "eighty", "ninety")
_EN_ORD = (
    "zeroth",
    "first",
    "second",
    "third",
    "fourth",
    "fifth",
    "sixth",
    "seventh",
    "eighth",
    "ninth",
    "tenth",
    "eleventh",
    "twelfth",
    "thirteenth",
    "fourteenth",
    "fifteenth",
    "sixteenth",
    "seventeenth",
    "eighteenth",
    "nineteenth",
)
_EN_TENS_ORD = {20: "twentieth", 30: "thirtieth"}
_EN_MONTHS = (
    "January",
    "February",
    "March",
    "April",
    "May",
    "June",
    "July",
    "August",
    "September",
    "October",
    "November",
    "December",
)
_EN_EXTRA = ("hundred", "thousand", "million", "billion", "trillion", "oh", "dong", "point", "points")


def _vocabulary() -> dict[str, dict[str, str]]:
    vi = {vi_slug(w): w for w in (*_VI_DIGITS, *_VI_EXTRA, *_VI_UNITS)}
    en_words = [*_EN_ONES, *(t for t in _EN_TENS if t), *_EN_ORD[1:], *_EN_TENS_ORD.values()]
    en_words += [*_EN_MONTHS, *_EN_EXTRA]
    en = {w.lower(): w for w in en_words}
    return {"vi": vi, "en": en}


WORDS: dict[str, dict[str, str]] = _vocabulary()
"""lang → {slug: word}: every word a read-back can use; :mod:`ivr.prompts` generates one file each."""


@dataclass(frozen=True)
class Spoken:
    """A read-back: display words (English tens may be hyphenated, "twenty-one") and sound tokens."""

    lang: Lang
    words: tuple[str, ...]

    @property
    def text(self) -> str:
        return " ".join(self.words)

    @property
    def tokens(self) -> tuple[str, ...]:
        """``vi/num/hai``, ``vi/num/muoi``, ... one per word file, in speaking order."""
        out: list[str] = []
        for word in self.words:
            for part in word.split("-"):
                slug = vi_slug(part) if self.lang == "vi" else part.lower()
                if slug not in WORDS[self.lang]:  # a bug here would play silence: fail loudly instead
                    raise KeyError(f"no sound for {part!r} ({self.lang})")
                out.append(f"{self.lang}/num/{slug}")
        return tuple(out)

    def __add__(self, other: Spoken) -> Spoken:
        if other.lang != self.lang:
            raise ValueError("cannot join read-backs in different languages")
        return Spoken(self.lang, self.words + other.words)


# --- Vietnamese ----------------------------------------------------------------------------------


def _vi_triple(n: int, full: bool) -> list[str]:
    """0 < n < 1000. ``full`` reads a leading zero hundred ("không trăm") after a larger unit."""
    h, t, u = n // 100, (n // 10) % 10, n % 10
    out: list[str] = []
    if h or full:
        out += [_VI_DIGITS[h], "trăm"]
    if t == 0:
        if u:
            if h or full:
                out.append("lẻ")
            out.append(_VI_DIGITS[u])
    elif t == 1:
        out.append("mười")
        if u:
            out.append("lăm" if u == 5 else _VI_DIGITS[u])
    else:
        out += [_VI_DIGITS[t], "mươi"]
        if u:
            out.append({1: "mốt", 4: "tư", 5: "lăm"}.get(u, _VI_DIGITS[u]))
    return out


def _vi_below_billion(n: int, leading: bool) -> list[str]:
    out: list[str] = []
    first = leading
    for size, unit in ((10**6, "triệu"), (10**3, "nghìn"), (1, "")):
        group = (n // size) % 1000
        if group == 0:
            continue
        out += _vi_triple(group, full=not first)
        if unit:
            out.append(unit)
        first = False
    return out


def _vi_number(n: int) -> list[str]:
    if n == 0:
        return ["không"]
    if n >= 10**9:
        hi, lo = divmod(n, 10**9)
        out = [*_vi_number(hi), "tỷ"]  # 10^12 reads "nghìn tỷ", which this recursion gives
        if lo:
            out += _vi_below_billion(lo, leading=False)
        return out
    return _vi_below_billion(n, leading=True)


# --- English ----------------------------------------------------------------------------------------


def _en_below_hundred(n: int) -> list[str]:
    if n < 20:
        return [_EN_ONES[n]]
    t, u = divmod(n, 10)
    return [_EN_TENS[t] + (f"-{_EN_ONES[u]}" if u else "")]


def _en_number(n: int) -> list[str]:
    if n == 0:
        return ["zero"]
    out: list[str] = []
    for size, unit in ((10**12, "trillion"), (10**9, "billion"), (10**6, "million"), (10**3, "thousand")):
        if n >= size:
            out += [*_en_number(n // size), unit]
            n %= size
    if n >= 100:
        out += [_EN_ONES[n // 100], "hundred"]
        n %= 100
    if n:
        out += _en_below_hundred(n)
    return out


def _en_ordinal(n: int) -> list[str]:
    if n < 20:
        return [_EN_ORD[n]]
    t, u = divmod(n, 10)
    if u == 0:
        return [_EN_TENS_ORD[n]]
    return [f"{_EN_TENS[t]}-{_EN_ORD[u]}"]


def _en_year(y: int) -> list[str]:
    # 2026 → "twenty twenty-six"; 2000-2009 → "two thousand (one)"; 1900 → "nineteen hundred".
    if 2000 <= y <= 2009 or y < 1000 or y > 9999 or y % 1000 == 0:
        return _en_number(y)
    hi, lo = divmod(y, 100)
    if lo == 0:
        return [*_en_number(hi), "hundred"]
    if lo < 10:
        return [*_en_number(hi), "oh", _EN_ONES[lo]]
    return [*_en_number(hi), *_en_number(lo)]


# --- public read-backs --------------------------------------------------------------------------------


def _check(n: int) -> None:
    if isinstance(n, bool) or not isinstance(n, int):
        raise TypeError(f"expected an int, got {type(n).__name__}")
    if n < 0:
        raise ValueError("negative numbers are not read back")
    if n >= 10**15:
        raise ValueError("number too large to read back")


def number(n: int, lang: Lang) -> Spoken:
    """A cardinal: 21 → "hai mươi mốt" / "twenty-one"."""
    _check(n)
    return Spoken(lang, tuple(_vi_number(n) if lang == "vi" else _en_number(n)))


def amount_vnd(n: int, lang: Lang) -> Spoken:
    """An amount in đồng: 1_250_000 → "một triệu hai trăm năm mươi nghìn đồng"."""
    return number(n, lang) + Spoken(lang, ("đồng",) if lang == "vi" else ("dong",))


def points(n: int, lang: Lang) -> Spoken:
    """Loyalty points: 1_500 → "một nghìn năm trăm điểm" / "one thousand five hundred points"."""
    unit = "điểm" if lang == "vi" else ("point" if n == 1 else "points")
    return number(n, lang) + Spoken(lang, (unit,))


def _vi_month(m: int) -> list[str]:
    return ["tư"] if m == 4 else _vi_number(m)  # the fourth month is "tháng tư", never "tháng bốn"


def date(d: dt.date, lang: Lang) -> Spoken:
    """A calendar date: "ngày năm tháng ba năm hai nghìn không trăm hai mươi sáu" / "March fifth, ..."."""
    if lang == "vi":
        words = ["ngày", *_vi_number(d.day), "tháng", *_vi_month(d.month), "năm", *_vi_number(d.year)]
    else:
        words = [_EN_MONTHS[d.month - 1], *_en_ordinal(d.day), *_en_year(d.year)]
    return Spoken(lang, tuple(words))


def month_year(d: dt.date, lang: Lang) -> Spoken:
    """A billing month: "tháng ba năm hai nghìn ..." / "March twenty twenty-six"."""
    if lang == "vi":
        words = ["tháng", *_vi_month(d.month), "năm", *_vi_number(d.year)]
    else:
        words = [_EN_MONTHS[d.month - 1], *_en_year(d.year)]
    return Spoken(lang, tuple(words))


def digits(s: str, lang: Lang) -> Spoken:
    """Digit by digit (phone numbers, customer IDs): "0912" → "không chín một hai"."""
    if not s.isascii() or not s.isdigit():
        raise ValueError("only the digits 0-9 can be read one by one")
    table = _VI_DIGITS if lang == "vi" else _EN_ONES
    return Spoken(lang, tuple(table[int(c)] for c in s))
