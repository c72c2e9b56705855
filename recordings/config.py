"""config.yaml section ``recordings:``."""

from __future__ import annotations

from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field


class RecordingsConfig(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    # Where MixMonitor writes (Asterisk's monitor spool as the bridge sees it).
    dir: Path = Path("/var/spool/asterisk/monitor")
    retention_days: int = Field(365, ge=1, le=3650)
    # How long to wait for Asterisk to close a file after the call ends before reporting it missing.
    settle_seconds: float = Field(5.0, gt=0, le=120)
