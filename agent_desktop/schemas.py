"""Arguments of the desktop's commands (HTTP and websocket alike), as pydantic models: the one place
their fields, patterns and enums are written, so validation and the OpenAPI document agree."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import Field, WithJsonSchema

from core.http import Args

# Identifiers in paths hold a digit, so no literal sibling ("today", "dial", "search") is ever one.
CALL_ID = r"^(?:[0-9]|[A-Za-z_-][A-Za-z._-]*[0-9])[A-Za-z0-9._-]*$"  # Linkedid 1700000000.123, or ours
CUSTOMER_ID = r"^[A-Za-z_-]*[0-9][A-Za-z0-9_-]*$"
AGENT_ID = r"^[0-9]{3,6}$"  # also the agent's extension (core.config.AgentConfig.id)
TRANSFER_TARGET = r"^[0-9]{3,6}$|^[a-z][a-z0-9_-]{0,38}$"  # an agent extension or a queue name
# A Vietnamese mobile (9 digits after the trunk 0) or fixed line (2 + 9 digits): national, +84, 0084,
# 84 or bare, with the separators people type; a subset of what core.phone accepts.
_SEP = r"[ .()/-]*"
VN_NUMBER = rf"^{_SEP}(?:\+84|0084|84|0)?{_SEP}(?:[35789](?:{_SEP}[0-9]){{8}}|2(?:{_SEP}[0-9]){{9}}){_SEP}$"
# A reason that says something: at least five characters between its first and last non-space.
REASON = r"^\s*\S[\s\S]{3,}\S\s*$"

CallId = Annotated[str, Field(pattern=CALL_ID, max_length=64)]
# In a body no sibling route can be confused with it: any id-like text (an unknown one is a 404).
BodyCallId = Annotated[str, Field(pattern=r"^[A-Za-z0-9_-][A-Za-z0-9._-]*$", max_length=64)]
CustomerId = Annotated[str, Field(pattern=CUSTOMER_ID, max_length=32)]
AgentId = Annotated[str, Field(pattern=AGENT_ID)]


def one_of(values: list[str]) -> Any:
    """A string the rules check against a configured list; the schema names the list as an enum."""
    return Annotated[str, WithJsonSchema({"type": "string", "enum": values})]


class CallsToday(Args):
    # Supervisors and integrations: one agent's calls, or everyone's with agent="" (the default for a
    # token). An agent's own calls otherwise.
    agent: str | None = Field(None, pattern=r"^([0-9]{3,6})?$")


class CallRef(Args):
    call_id: CallId


class Dial(Args):
    number: str = Field(pattern=VN_NUMBER, max_length=32, examples=["0912345678"])


class Transfer(Args):
    call_id: CallId
    target: str = Field(pattern=TRANSFER_TARGET, description="an agent extension or a queue name")
    mode: Literal["blind", "attended"] = "blind"


class Spy(Args):
    agent_id: AgentId
    mode: Literal["listen", "whisper", "barge"] = "listen"


class Search(Args):
    q: str = Field("", max_length=100, description="a name (diacritics optional), a number or an id")


class CustomerRef(Args):
    customer_id: CustomerId


class Unmask(Args):
    customer_id: CustomerId
    reason: str = Field(pattern=REASON, max_length=500, description="written to the audit log")


class ProfileRef(Args):
    customer_id: CustomerId
    reason: str = Field(
        "",
        max_length=500,
        description="needed when the customer is not on one of your calls (written to the audit log)",
    )


class RevokeSessions(Args):
    agent_id: str = Field("", pattern=r"^([0-9]{3,6})?$", description="empty: one's own (supervisors: any)")


class AccessAlerts(Args):
    hours: int = Field(24, ge=1, le=24 * 31, description="how far back")
