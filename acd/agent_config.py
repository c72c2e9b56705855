"""Agent-state settings: the ``acd.agents`` section of config.yaml (pause reasons, auto-pause)."""

from __future__ import annotations

import re

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

_REASON = re.compile(r"^[a-z][a-z0-9_]{0,31}$")

DEFAULT_PAUSE_REASONS = ("break", "lunch", "training", "meeting", "after_call_work", "auto_missed")


class AgentsConfig(BaseModel):
    """How agents log in, pause and get auto-paused."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    # Reason codes an agent (or supervisor) may pause with; reports group pause time by them.
    pause_reasons: list[str] = Field(default_factory=lambda: list(DEFAULT_PAUSE_REASONS), min_length=1)
    # Pause an agent after this many rings in a row went unanswered (0 turns it off); the reason is
    # ``auto_pause_reason``. Stops a caller being offered, again and again, to someone who left the desk.
    auto_pause_after_missed: int = Field(3, ge=0, le=100)
    auto_pause_reason: str = "auto_missed"
    # Timeout of each AMI action (QueueAdd/Remove/Pause/Status).
    action_timeout: float = Field(5.0, gt=0, le=60)

    @field_validator("pause_reasons")
    @classmethod
    def _codes(cls, v: list[str]) -> list[str]:
        for r in v:
            if not _REASON.match(r):
                raise ValueError(f"pause reason {r!r}: lower-case letters, digits and '_' only")
        if len(set(v)) != len(v):
            raise ValueError("pause reasons must be unique")
        return v

    @model_validator(mode="after")
    def _auto_reason_known(self) -> AgentsConfig:
        if self.auto_pause_reason not in self.pause_reasons:
            raise ValueError(f"auto_pause_reason {self.auto_pause_reason!r} is not in pause_reasons")
        return self
