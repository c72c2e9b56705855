"""The ``desktop`` section of config.yaml: API tokens for integrations, disposition codes, wallboard."""

from __future__ import annotations

import re

from pydantic import BaseModel, ConfigDict, Field, SecretStr, field_validator

_CODE = re.compile(r"^[a-z][a-z0-9_]{0,31}$")


class ApiToken(BaseModel):
    """A bearer token for one integration (CRM, BI). It reads the JSON API; it never acts on calls."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str = Field(pattern=r"^[A-Za-z0-9_.-]{1,32}$")  # written to the audit log as "api:<name>"
    token: SecretStr  # at least 24 characters; set it from the environment in production

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


class DesktopConfig(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    api_tokens: list[ApiToken] = []
    dispositions: list[Disposition] = Field(default_factory=lambda: list(DEFAULT_DISPOSITIONS), min_length=1)
    # Wallboard pushes are coalesced over this window (seconds): at most one snapshot per window.
    wallboard_coalesce: float = Field(0.2, ge=0, le=1)
    # Service level target for queues (a tier uses its own acd.tiers[].target_seconds).
    queue_sl_seconds: float = Field(20, gt=0)
