"""Log lines without secrets or full personal numbers (Decree 13/2023; issue: AMI secret at INFO).

Installed once at start-up as a log-record factory, so it covers every logger and handler, ours and
the libraries' (panoramisk logs a queued ``Login`` action, secret included, at INFO when the AMI link is
down). Each record's message is formatted once, then:
- values of secret-looking keys (``secret``, ``password``, ``token``, ``…key``) become ``***``, in
  ``key: value``, ``key=value`` and Python-repr ``'key': 'value'`` forms, and URL passwords too;
- Vietnamese phone numbers keep their first 3 and last 3 digits (``091****678``), identity numbers
  (9-digit CMND, 12-digit CCCD) their last 3, enough to tell two calls apart, not to call anyone.
Records are only made for enabled levels, so the cost is paid by lines that are actually written.
"""

from __future__ import annotations

import logging
import re
from typing import Any

_SECRET = re.compile(
    r"""(?ix)
    (?P<key>['"]?\b[\w-]*(?:secret|password|passwd|token|api[_-]?key|encryption[_-]?key)['"]?)
    (?P<sep>\s*[:=]\s*)
    (?P<q>['"]?)(?P<value>[^'"\s,;}&]+)"""
)
_URL_PASSWORD = re.compile(r"(?P<scheme>[a-z][a-z0-9+.-]*://[^:/@\s]+):(?P<pw>[^@/\s]+)@", re.I)
# Not inside a word or a longer number: customer ids (KH0912…), uniqueids (1764…​.12) are left alone.
_PHONE = re.compile(r"(?<![\w.])(?P<lead>\+?84|0)(?P<body>\d{8,10})(?![\w])")
_ID_NUMBER = re.compile(r"(?<![\w.+])(?P<id>\d{12}|\d{9})(?![\w])")


def _mask_phone(m: re.Match[str]) -> str:
    digits = m["lead"] + m["body"]
    shown = 3 if digits.startswith("0") else len(m["lead"]) + 2
    return digits[:shown] + "*" * (len(digits) - shown - 3) + digits[-3:]


def redact(text: str) -> str:
    """``text`` with secrets removed and phone and identity numbers masked."""
    text = _URL_PASSWORD.sub(r"\g<scheme>:***@", text)
    text = _SECRET.sub(r"\g<key>\g<sep>\g<q>***", text)
    text = _PHONE.sub(_mask_phone, text)
    return _ID_NUMBER.sub(lambda m: "*" * (len(m["id"]) - 3) + m["id"][-3:], text)


_installed = False


def install() -> None:
    """Redact every log record from now on (idempotent)."""
    global _installed
    if _installed:
        return
    previous = logging.getLogRecordFactory()

    def factory(*args: Any, **kwargs: Any) -> logging.LogRecord:
        record = previous(*args, **kwargs)
        try:
            message = record.getMessage()
        except (TypeError, ValueError):  # a bad format string: keep what we can read, redacted
            message = f"{record.msg} {record.args}"
        record.msg, record.args = redact(message), None
        return record

    logging.setLogRecordFactory(factory)
    _installed = True
