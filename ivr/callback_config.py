"""config.yaml section ``callbacks:``: the worklist's retry rules and the automatic callback dialler.

The dialler is off unless ``callbacks.dialler.enabled`` is true. It reaches customers through the
outbound routes (config.yaml ``trunks.outbound``, docs/trunks.md), like click-to-call: there is no dial
string of its own.
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

from ivr.hours import BusinessHours


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


def _office_hours() -> BusinessHours:
    # Customers are called back at reasonable times only; holidays (Vietnam's, by default) are closed.
    return BusinessHours(weekly={d: ["08:00-20:00"] for d in ("mon", "tue", "wed", "thu", "fri", "sat")})


class CallbackDiallerConfig(_Section):
    enabled: bool = False
    # Caller ID the customer sees; unset = the first hotline number (so they can call back the line).
    caller_id: str | None = Field(None, pattern=r"^[0-9]{3,15}$")
    ring_timeout: int = Field(30, ge=5, le=120)  # seconds the customer's phone rings before no_answer
    # Dials in progress per queue; never more than the queue's free agents either.
    max_dials_per_queue: int = Field(1, ge=1, le=50)
    poll_seconds: float = Field(5.0, gt=0, le=300)  # also woken by agent state changes
    hours: BusinessHours = Field(default_factory=_office_hours)


class CallbackConfig(_Section):
    max_attempts: int = Field(3, ge=1, le=10)  # tries per request (no answer / busy count one each)
    retry_minutes: float = Field(10.0, gt=0, le=24 * 60)  # pause before a retryable outcome is retried
    dialler: CallbackDiallerConfig = CallbackDiallerConfig()
