"""HTTP byte ranges (RFC 9110 §14) for playback: one range per request, what a browser's audio
element asks for when it starts (``bytes=0-``) and on every seek (``bytes=N-``)."""

from __future__ import annotations

import re

from core.errors import TongdaiError

_RANGE = re.compile(r"^bytes=(\d*)-(\d*)$")


class RangeNotSatisfiable(TongdaiError):
    """A range outside the recording, or one we do not serve (several ranges at once)."""

    error_id = "recordings.bad_range"


def parse_range(header: str | None, size: int) -> tuple[int, int] | None:
    """(first, last) byte, inclusive, of ``header`` over a body of ``size`` bytes; None: the whole
    body (no header). A suffix ``bytes=-N`` is the last N bytes; a last byte past the end is cut."""
    if header is None or not header.strip():
        return None
    m = _RANGE.match(header.strip().replace(" ", ""))
    if m is None or not (m[1] or m[2]):
        raise RangeNotSatisfiable(f"unsupported range {header[:40]!r} (one range of bytes)")
    if not m[1]:  # suffix: the last N bytes
        n = int(m[2])
        if n == 0 or size == 0:
            raise RangeNotSatisfiable(f"range {header[:40]!r} selects nothing")
        return max(0, size - n), size - 1
    first = int(m[1])
    last = min(int(m[2]), size - 1) if m[2] else size - 1
    if first >= size or last < first:
        raise RangeNotSatisfiable(f"range {header[:40]!r} outside the {size} bytes of the recording")
    return first, last
