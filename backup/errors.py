"""Errors of backup and restore, each with a stable id for the CLI and logs."""

from __future__ import annotations

from core.errors import TongdaiError


class BackupError(TongdaiError):
    """A backup could not be written (a dump tool failed, a source is unreadable)."""

    error_id = "backup.failed"


class RestoreRefused(TongdaiError):
    """A restore was refused before anything was written: bad archive, checksum mismatch, target not empty."""

    error_id = "backup.restore_refused"
