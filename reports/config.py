"""The ``reports`` section of config.yaml: the service-level rule that operators report against, and the
repeat-contact window of FCR (reports/repeat_contacts.py)."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field


class ReportsConfig(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    # QCVN 36:2022: at least 80 % of support-line calls answered by an agent within 60 s, 24 h a day.
    sl_threshold_seconds: float = Field(60, gt=0)
    sl_target: float = Field(0.80, gt=0, le=1)
    # Callers who hang up this soon after entering the queue are counted apart (as well as abandoned).
    short_abandon_seconds: float = Field(5, ge=0)
    # Longest period one report may cover (bounds the query and the per-day CASE expression).
    max_days: int = Field(366, ge=1, le=3660)
    # A contact of the same owner within this many days after another is a repeat (FCR, the pop's note).
    repeat_window_days: float = Field(7, gt=0, le=90)
    # Optionally only about the same topic: the queue, the IVR path or the agent's disposition code.
    repeat_topic: Literal["none", "queue", "ivr_path", "disposition"] = "none"
