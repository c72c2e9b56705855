"""The ``reports`` section of config.yaml: the service-level rule that operators report against, the
scheduled report files, who besides supervisors reads the audit trail, and the repeat-contact window
of FCR (reports/repeat_contacts.py)."""

from __future__ import annotations

from datetime import time
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field


class ScheduleConfig(BaseModel):
    """``reports.schedule``: each Vietnam day after ``at``, the previous day's report as files in
    ``directory`` (``service-level-YYYY-MM-DD.csv`` / ``.xlsx``); a day already written is skipped, a
    day missed while the node was down is written at its next start."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    directory: str | None = None  # None: no scheduled reports
    at: time = time(6, 0)  # Asia/Ho_Chi_Minh
    formats: list[Literal["csv", "xlsx"]] = Field(["csv", "xlsx"], min_length=1)
    catch_up_days: int = Field(7, ge=1, le=31)  # how far back a restarted node fills missing days


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
    # Calls one drill-down lists at most (the newest first past it, and says it cut).
    drilldown_limit: int = Field(1000, ge=10, le=20000)
    schedule: ScheduleConfig = ScheduleConfig()
    # The data-protection officers (agent ids): they read the audit trail, as supervisors do.
    audit_viewers: list[str] = []
