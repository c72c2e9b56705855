"""Who is asking: an agent, a supervisor, or an integration token, as every edge and rule sees it."""

from __future__ import annotations

from dataclasses import dataclass

SUPERVISOR_ROLES = ("supervisor", "admin")
INTEGRATION = "integration"  # the role of a bearer token (desktop.api_tokens): reads only


@dataclass(frozen=True)
class Who:
    agent_id: str  # an agent id, or "api:<token name>" for an integration
    role: str

    @property
    def supervisor(self) -> bool:
        return self.role in SUPERVISOR_ROLES

    @property
    def integration(self) -> bool:
        return self.role == INTEGRATION

    def reader(self) -> Who:
        """An integration reads like a supervisor (every call), under its own name in the audit log."""
        return Who(self.agent_id, "supervisor") if self.integration else self
