"""What a chat message may be: text only, within a size, without control characters that could break a
log line or a terminal. Pure. The widget and the desktop render every message as text (``textContent``
and lit's escaping, never ``innerHTML``); bidirectional marks are kept (they are the customer's words)
but isolated on screen, so an RTL override cannot reorder the page around the message."""

from __future__ import annotations

import re

from core.errors import BadRequest, TongdaiError

# C0/C1 controls except tab and newline; DEL.
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]")


class EmptyMessage(BadRequest):
    error_id = "chat.empty"


class MessageTooLong(TongdaiError, ValueError):
    error_id = "chat.too_long"


def clean(text: object, max_bytes: int) -> str:
    """The message as stored and shown; raises :class:`EmptyMessage` or :class:`MessageTooLong`."""
    if not isinstance(text, str):
        raise EmptyMessage("a message is text")
    size = len(text.encode("utf-8", "surrogatepass"))
    if size > max_bytes:
        raise MessageTooLong(f"a message is at most {max_bytes} bytes (this one is {size})")
    out = _CONTROL.sub("", text.replace("\r\n", "\n")).strip()
    if not out:
        raise EmptyMessage("the message is empty")
    return out
