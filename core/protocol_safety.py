"""Guards for values that cross into Asterisk's line protocols (AMI headers, AGI commands).

Neither protocol escapes anything: a CR or LF inside a value ends the line and lets the rest
be read as a new header, a second action or a new AGI command. Every value we send passes here.
"""

from __future__ import annotations

from core.errors import UnsafeValue

_FORBIDDEN = ("\r", "\n", "\0")


def check_line_value(value: str, what: str = "value") -> str:
    """Return ``value`` unchanged, or raise UnsafeValue if it holds CR, LF or NUL."""
    for ch in _FORBIDDEN:
        if ch in value:
            raise UnsafeValue(f"{what} contains a {ch!r} character; refused to send it to Asterisk")
    return value
