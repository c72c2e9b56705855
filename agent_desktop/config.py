"""The ``desktop`` section of config.yaml: API tokens for integrations, disposition codes, wallboard,
the personal-data access rules and the websocket's limits."""

from __future__ import annotations

import re
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, SecretStr, field_validator

_CODE = re.compile(r"^[a-z][a-z0-9_]{0,31}$")


# What an integration token may read (agent_desktop/auth.py maps each /api/ path to one of them).
Scope = Literal[
    "calls:read",  # calls, today's calls, disposition codes
    "customers:read",  # customer search and profiles (personal data)
    "recordings:read",  # recording metadata and search
    "recordings:audio",  # the audio itself: never implied by recordings:read
    "reports:read",  # historical reports
    "stats:read",  # queue and agent statistics, the wallboard, health details
    "outages:read",  # outage notices
    "outages:write",  # post and expire outage notices (the one write a token may do), and read them
]


class ApiToken(BaseModel):
    """A bearer token for one integration (CRM, BI, the NOC). It reads the JSON API (and, with
    ``outages:write``, posts and expires outage notices); it never acts on calls."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str = Field(pattern=r"^[A-Za-z0-9_.-]{1,32}$")  # written to the audit log as "api:<name>"
    token: SecretStr  # at least 24 characters; set it from the environment in production
    # Granted explicitly, no default: a token reads only what its integration needs.
    scopes: list[Scope] = Field(min_length=1)

    @field_validator("token")
    @classmethod
    def _long(cls, v: SecretStr) -> SecretStr:
        if len(v.get_secret_value()) < 24:
            raise ValueError("API tokens must be at least 24 characters")
        return v


class Disposition(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    code: str
    vi: str
    en: str

    @field_validator("code")
    @classmethod
    def _code(cls, v: str) -> str:
        if not _CODE.match(v):
            raise ValueError("disposition codes are lower-case letters, digits and '_'")
        return v


DEFAULT_DISPOSITIONS = [
    Disposition(code="resolved", vi="Đã giải quyết", en="Resolved"),
    Disposition(code="info", vi="Tư vấn thông tin", en="Information given"),
    Disposition(code="ticket", vi="Tạo phiếu yêu cầu", en="Ticket opened"),
    Disposition(code="complaint", vi="Khiếu nại", en="Complaint"),
    Disposition(code="callback", vi="Hẹn gọi lại", en="Call back"),
    Disposition(code="sale", vi="Bán hàng / nâng gói", en="Sale / upgrade"),
]


class AccessConfig(BaseModel):
    """Who may open which customer's personal data (agent_desktop/access.py)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    # A customer stays "on the agent's call" this long after the call ended (notes, a disposition).
    recent_call_minutes: float = Field(30, ge=0, le=24 * 60)
    # Per agent (or supervisor), over a sliding minute: profile views and searches together, unmasks.
    lookups_per_minute: int = Field(30, ge=1)
    unmasks_per_minute: int = Field(3, ge=1)
    # More distinct customers than this opened by one person within the window: an audited alert.
    bulk_customers: int = Field(20, ge=1)
    bulk_window_minutes: float = Field(60, gt=0, le=24 * 60)


class WebsocketLimits(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    max_per_agent: int = Field(5, ge=1, le=100)  # open desktop pages per agent; one more is refused
    commands_per_second: float = Field(10, gt=0)  # per connection, with a burst of twice that


class DesktopConfig(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    access: AccessConfig = AccessConfig()
    websocket: WebsocketLimits = WebsocketLimits()
    api_tokens: list[ApiToken] = []
    dispositions: list[Disposition] = Field(default_factory=lambda: list(DEFAULT_DISPOSITIONS), min_length=1)
    # Wallboard pushes are coalesced over this window (seconds): at most one snapshot per window.
    wallboard_coalesce: float = Field(0.2, ge=0, le=1)
    # Service level target for queues (a tier uses its own acd.tiers[].target_seconds).
    queue_sl_seconds: float = Field(20, gt=0)
