"""Logging set-up: one line per record, JSON (python-json-logger) or text, each carrying the call it
belongs to, so one call can be followed across AMI, FastAGI, the bus and websockets.

The call context lives in a :mod:`contextvars` variable: a handler binds it (``with call_context(
linkedid=…, uniqueid=…, agent=…)``) and every record logged inside, in that task and the tasks it
starts, gets the fields. Records are redacted first (core/log_redaction.py).
"""

from __future__ import annotations

import contextvars
import logging
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TextIO

from pythonjsonlogger.json import JsonFormatter

from core import log_redaction

CALL_FIELDS = ("linkedid", "uniqueid", "agent")
_call: contextvars.ContextVar[dict[str, str] | None] = contextvars.ContextVar("tongdai_call", default=None)


@contextmanager
def call_context(**fields: str) -> Iterator[None]:
    """Tag every record logged inside with these call fields (merged over any outer ones)."""
    unknown = set(fields) - set(CALL_FIELDS)
    if unknown:
        raise ValueError(f"unknown call log fields: {sorted(unknown)}")
    token = _call.set({**(_call.get() or {}), **{k: v for k, v in fields.items() if v}})
    try:
        yield
    finally:
        _call.reset(token)


def bind_call(**fields: str) -> None:
    """Tag the rest of the current task's records with these call fields (no reset: for code that
    learns the call part-way through a task of its own, e.g. a FastAGI session reading its linkedid)."""
    unknown = set(fields) - set(CALL_FIELDS)
    if unknown:
        raise ValueError(f"unknown call log fields: {sorted(unknown)}")
    _call.set({**(_call.get() or {}), **{k: v for k, v in fields.items() if v}})


class CallFields(logging.Filter):
    """Adds linkedid, uniqueid and agent ("" when unknown) to every record it sees."""

    def filter(self, record: logging.LogRecord) -> bool:
        bound = _call.get() or {}
        for name in CALL_FIELDS:
            if not hasattr(record, name):
                setattr(record, name, bound.get(name, ""))
        return True


class _TextFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        line = super().format(record)
        tags = " ".join(f"{k}={getattr(record, k)}" for k in CALL_FIELDS if getattr(record, k, ""))
        return f"{line} [{tags}]" if tags else line


def configure(
    *, json_lines: bool, level: int = logging.INFO, stream: TextIO | None = None
) -> logging.Handler:
    """Replace the root logger's handlers with one that writes to ``stream`` (stderr by default)."""
    log_redaction.install()
    handler = logging.StreamHandler(stream or sys.stderr)
    handler.addFilter(CallFields())
    if json_lines:
        handler.setFormatter(
            JsonFormatter(
                "%(asctime)s %(levelname)s %(name)s %(message)s %(linkedid)s %(uniqueid)s %(agent)s",
                rename_fields={"asctime": "time", "levelname": "level", "name": "logger"},
                json_ensure_ascii=False,
            )
        )
    else:
        handler.setFormatter(_TextFormatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    root = logging.getLogger()
    for old in list(root.handlers):
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(level)
    return handler
