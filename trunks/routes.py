"""Pure routing rules shared by the rendered dialplan and the bridge.

Numbers: carriers send the same number as E.164 (``+8418001090``), E.164 without ``+`` (``84…``) or in
national form (``0243…``, ``18001090``). :func:`national` gives the one form the IVR and the config
use; :func:`did_forms` lists every form a carrier may send for a DID (each is rendered as an exact
extension of the trunk's context, so nothing else matches there).

Outbound: a route's patterns are Asterisk-style (``0[35789]XXXXXXXX``, ``1800X.``): :func:`pattern_regex`
turns one into the regular expression the dialplan's ``REGEX()`` and :func:`choose_route` both use, so
Python and Asterisk agree by construction. The first route whose pattern matches wins.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Protocol, TypeVar

from core.phone import carrier_national, strip_separators

COUNTRY_CODE = "84"  # Việt Nam: the DIDs and routes are Vietnamese numbers

# A pattern: digits, X (0-9), Z (1-9), N (2-9), [ranges], '.' (one or more), '!' (zero or more).
_PATTERN = re.compile(r"^(?:[0-9XZNxzn]|\[[0-9]+(?:-[0-9])?[0-9-]*\])+[.!]?$")
_CLASS = {"X": "[0-9]", "Z": "[1-9]", "N": "[2-9]"}

# SIP/ISDN causes after which the next trunk would give the same answer: the number does not exist
# (1, 3, 28), the callee is busy (17) or refused (21, 22). Any other failure (5xx, timeout, trunk full
# or down) fails over.
FINAL_CAUSES = frozenset({1, 3, 17, 21, 22, 28})


class RouteLike(Protocol):
    @property
    def name(self) -> str: ...
    @property
    def patterns(self) -> Sequence[str]: ...


R = TypeVar("R", bound=RouteLike)


def digits_only(number: str) -> str:
    """Drop the separators people write (core.phone's one rule for that)."""
    return strip_separators(number)


def national(number: str) -> str:
    """The national form of a number in any carrier form (core.phone's one rule for that)."""
    return carrier_national(number)


def did_forms(did: str, country_code: str = COUNTRY_CODE) -> list[str]:
    """Every form a carrier may deliver ``did`` in: national, ``84…``, ``+84…`` (national first)."""
    n = national(did)
    significant = n[1:] if n.startswith("0") else n
    forms = [n, country_code + significant, "+" + country_code + significant]
    return list(dict.fromkeys(forms))


def valid_pattern(pattern: str) -> bool:
    return bool(_PATTERN.fullmatch(pattern))  # fullmatch: "$" alone lets a trailing newline through


def pattern_regex(pattern: str) -> str:
    """An Asterisk-style pattern as an anchored POSIX extended regex (for the dialplan's REGEX())."""
    if not valid_pattern(pattern):
        raise ValueError(f"{pattern!r} is not a dial pattern (digits, X, Z, N, [1-5], then optional . or !)")
    out = []
    i = 0
    while i < len(pattern):
        c = pattern[i]
        if c == "[":
            j = pattern.index("]", i)
            out.append(pattern[i : j + 1])
            i = j + 1
            continue
        if c in ".!":
            out.append("[0-9]+" if c == "." else "[0-9]*")
        else:
            out.append(_CLASS.get(c.upper(), c))
        i += 1
    return "^" + "".join(out) + "$"


def _first_classes(pattern: str, count: int) -> list[set[str]]:
    """The digits each of the first ``count`` positions of ``pattern`` can hold."""
    classes: list[set[str]] = []
    i = 0
    digits = set("0123456789")
    while i < len(pattern) and len(classes) < count:
        c = pattern[i]
        if c == "[":
            j = pattern.index("]", i)
            body = pattern[i + 1 : j]
            s: set[str] = set()
            k = 0
            while k < len(body):
                if k + 2 < len(body) and body[k + 1] == "-":
                    s |= {str(d) for d in range(int(body[k]), int(body[k + 2]) + 1)}
                    k += 3
                else:
                    s.add(body[k])
                    k += 1
            classes.append(s)
            i = j + 1
            continue
        if c in ".!":
            while len(classes) < count:
                classes.append(digits)
            break
        up = c.upper()
        classes.append(
            digits if up == "X" else set("123456789") if up == "Z" else set("23456789") if up == "N" else {c}
        )
        i += 1
    return classes


def reaches_international(pattern: str) -> bool:
    """True when ``pattern`` can match a number dialled with the international prefix ``00``."""
    first = _first_classes(pattern, 2)
    return len(first) == 2 and "0" in first[0] and "0" in first[1]


def choose_route(number: str, routes: Sequence[R]) -> R | None:
    """The first route with a pattern matching the (national-form) number, or None."""
    for route in routes:
        for p in route.patterns:
            if re.fullmatch(pattern_regex(p), number):
                return route
    return None
