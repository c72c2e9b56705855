"""The desktop's commands: each one route of the registry, served over HTTP and the websocket alike.

A command's name is its websocket ``type``; its arguments model is the HTTP query (GET) or body
(POST) plus the path parameters, and the websocket frame's other fields.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from typing import Any, ClassVar, Literal

from pydantic import ConfigDict, Field, create_model

from agent_desktop.actions import DesktopActions, Forbidden, Unavailable
from agent_desktop.schemas import (
    CUSTOMER_ID,
    AccessAlerts,
    BodyCallId,
    CallRef,
    CallsToday,
    Dial,
    ProfileRef,
    RevokeSessions,
    Search,
    Spy,
    Transfer,
    Unmask,
    one_of,
)
from agent_desktop.wallboard import Wallboard
from core.http import Access, Args, Call, Route

# Revokes every session of an agent, returning how many (agent_desktop.sessions.WebSessions.end_agent).
RevokeAll = Callable[[str], Awaitable[int]]
HealthDetails = Callable[[], dict[str, Any]]

_OBJ: dict[str, Any] = {"type": "object"}


def _pause_needs_reason(schema: dict[str, Any], cls: type[Any]) -> None:
    schema["if"] = {"properties": {"state": {"const": "pause"}}, "required": ["state"]}
    schema["then"] = {"required": ["reason"], "properties": {"reason": {"enum": cls.pause_reasons}}}


class _StateArgs(Args):
    model_config = ConfigDict(json_schema_extra=_pause_needs_reason)
    pause_reasons: ClassVar[list[str]] = []


State = Literal["ready", "pause", "wrapup", "login", "logout"]


def state_args(reasons: list[str]) -> type[Args]:
    """``state`` and, when pausing, one of the configured pause ``reasons`` (the rules check it)."""
    model = create_model(
        "AgentState", __base__=_StateArgs, state=(State, ...), reason=(one_of([*reasons, ""]), "")
    )
    model.pause_reasons = reasons
    return model


def disposition_args(codes: list[str]) -> type[Args]:
    return create_model(
        "SaveDisposition",
        __base__=Args,
        call_id=(BodyCallId, ...),
        code=(one_of(codes), ...),
        note=(str, Field("", max_length=4000)),
        customer_id=(str, Field("", pattern=f"^$|{CUSTOMER_ID}", max_length=32)),
    )


class DesktopCommands:
    """The handlers of the desktop's commands, bound to its rules and the wallboard."""

    def __init__(
        self,
        acts: DesktopActions,
        wallboard: Wallboard,
        revoke_all: RevokeAll | None = None,
        health: HealthDetails | None = None,
    ) -> None:
        self.acts, self.wallboard = acts, wallboard
        self.revoke_all, self.health_details = revoke_all, health

    async def calls_today(self, c: Call[CallsToday]) -> Any:
        agent = c.args.agent
        if c.who.integration and agent is None:
            agent = ""  # a token has no calls of its own: every agent's
        return await self.acts.calls_today(c.who.reader(), agent)

    async def call_get(self, c: Call[CallRef]) -> Any:
        return await self.acts.call(c.who.reader(), c.args.call_id)

    async def dial(self, c: Call[Dial]) -> Any:
        return await self.acts.dial(c.who, c.args.number)

    async def transfer(self, c: Call[Transfer]) -> Any:
        return await self.acts.transfer(c.who, c.args.call_id, c.args.target, c.args.mode)

    async def queue_stats(self, c: Call[Args]) -> Any:
        snap = self.wallboard.snapshot()
        return {k: snap[k] for k in ("at", "day", "definitions", "queues", "tiers", "halfhours")}

    async def agent_states(self, c: Call[Args]) -> Any:
        agents = self.wallboard.snapshot()["agents"]
        return {"agents": agents, "state_service": self.acts.agent_states_available()}

    async def wallboard_snapshot(self, c: Call[Args]) -> Any:
        return self.wallboard.snapshot()

    async def set_state(self, c: Call[Any]) -> Any:
        return {"state": await self.acts.set_state(c.who, c.args.state, c.args.reason)}

    async def spy(self, c: Call[Spy]) -> Any:
        return await self.acts.spy(c.who, c.args.agent_id, c.args.mode)

    async def search(self, c: Call[Search]) -> Any:
        return await self.acts.search(c.who, c.args.q)

    async def profile(self, c: Call[ProfileRef]) -> Any:
        return await self.acts.profile(c.who, c.args.customer_id, c.args.reason)

    async def revoke_sessions(self, c: Call[RevokeSessions]) -> Any:
        """Log out everywhere: one's own sessions, or (supervisors, admins) an agent's."""
        target = c.args.agent_id or c.who.agent_id
        if target != c.who.agent_id and not c.who.supervisor:
            raise Forbidden("only a supervisor may log another agent out")
        if self.revoke_all is None:
            raise Unavailable("sessions are not served here")
        revoked = await self.revoke_all(target)
        await self.acts.audit(
            c.who.agent_id, "auth.revoke_all", "agent", target, detail=f"{revoked} sessions"
        )
        return {"agent_id": target, "revoked": revoked}

    async def access_alerts(self, c: Call[AccessAlerts]) -> Any:
        since = datetime.now(UTC) - timedelta(hours=c.args.hours)
        return await self.acts.access_alerts(since)

    async def health(self, c: Call[Args]) -> Any:
        if self.health_details is None:
            raise Unavailable("health details are not served here")
        return self.health_details()

    async def unmask(self, c: Call[Unmask]) -> Any:
        return {"id_number": await self.acts.unmask_id_number(c.who, c.args.customer_id, c.args.reason)}

    async def dispositions(self, c: Call[Args]) -> Any:
        return [d.model_dump() for d in self.acts.settings.desktop.dispositions]

    async def save_disposition(self, c: Call[Any]) -> Any:
        a = c.args
        return await self.acts.save_disposition(c.who, a.call_id, a.code, a.note, a.customer_id)


def _obj(required: dict[str, Any], **optional: Any) -> dict[str, Any]:
    """A JSON schema object: ``required`` properties (name -> schema) plus optional ones."""
    return {"type": "object", "required": list(required), "properties": {**required, **optional}}


_STR, _BOOL, _INT = {"type": "string"}, {"type": "boolean"}, {"type": "integer"}
_OPT_STR = {"type": ["string", "null"]}
_TIME = {"type": ["string", "null"], "format": "date-time"}
_CALL = _obj(
    {"call_id": _STR},
    caller_number=_OPT_STR,
    customer_id=_OPT_STR,
    queue=_OPT_STR,
    agent_id=_OPT_STR,
    started_at=_TIME,
    answered_at=_TIME,
    ended_at=_TIME,
    live=_BOOL,
)
_ONE_CALL = {**_CALL, "required": ["call_id", "live"]}
_CUSTOMER = _obj({"customer_id": _STR, "name": _STR, "kind": _STR}, province=_OPT_STR, segment=_OPT_STR)
_PROFILE = _obj(
    {"customer_id": _STR, "name": _STR, "tier": _STR},
    id_number_masked=_OPT_STR,
    services={"type": "array", "items": {"type": "object"}},
    recent_interactions={"type": "array", "items": {"type": "object"}},
    stale=_BOOL,
)
_DIALLING = _obj({"dialling": {"type": "string", "pattern": "^0[0-9]{9,10}$"}, "interface": _STR})
_TRANSFER = _obj({"mode": {"enum": ["blind", "attended"]}, "channel": _STR, "target": _STR})
_STATE = _obj({"state": {"enum": ["ready", "pause", "wrapup", "login", "logout"]}})
_SPY = _obj({"mode": {"enum": ["listen", "whisper", "barge"]}, "target": _STR})
_UNMASK = _obj({"id_number": _STR})
_DISPOSITION = _obj({"code": _STR, "vi": _STR, "en": _STR})
_SAVED = _obj({"customer_id": _STR})
_STATS = _obj({k: {} for k in ("at", "day", "definitions", "queues", "tiers", "halfhours")})
_AGENTS = _obj({"agents": {"type": "array", "items": {"type": "object"}}, "state_service": _BOOL})
_BOARD = _obj({"type": {"const": "wallboard"}, "queues": {"type": "array"}, "agents": {"type": "array"}})


_REVOKED = _obj({"agent_id": _STR, "revoked": _INT})
_ALERT = _obj({"at": _STR, "agent_id": _STR, "detail": _STR})
_HEALTH = _obj({"status": {"enum": ["up", "degraded"]}}, agents_connected={"type": "array"})


def desktop_routes(
    acts: DesktopActions,
    wallboard: Wallboard,
    revoke_all: RevokeAll | None = None,
    health: HealthDetails | None = None,
) -> list[Route]:
    """Every desktop command as a route of the registry."""
    h = DesktopCommands(acts, wallboard, revoke_all, health)
    state = state_args(acts.pause_reasons())
    disposition = disposition_args([d.code for d in acts.settings.desktop.dispositions])
    sup = Access.SUPERVISOR
    return [
        Route(
            "GET",
            "/api/calls/today",
            "Today's calls of the agent (supervisors and tokens: ?agent=, empty = every agent)",
            h.calls_today,
            CallsToday,
            name="calls.today",
            result=_CALL,
            wrap="calls",
            errors=(503,),
        ),
        Route(
            "GET",
            "/api/calls/{call_id}",
            "One call, live or stored (agents: their own calls)",
            h.call_get,
            CallRef,
            name="call.get",
            result=_ONE_CALL,
            errors=(404, 503),
        ),
        Route(
            "POST",
            "/api/calls/dial",
            "Click-to-call: ring the agent's own phone, then dial the number",
            h.dial,
            Dial,
            name="call.dial",
            result=_DIALLING,
            errors=(404, 503),
        ),
        Route(
            "POST",
            "/api/calls/{call_id}/transfer",
            "Blind (Redirect) or attended (Atxfer) transfer to a queue or an agent extension",
            h.transfer,
            Transfer,
            name="call.transfer",
            result=_TRANSFER,
            errors=(404, 503),
        ),
        Route(
            "GET",
            "/api/queues/stats",
            "Per queue, tier and half-hour: waiting, longest wait, SL, abandoned, ASA, AHT",
            h.queue_stats,
            access=sup,
            name="queues.stats",
            result=_STATS,
        ),
        Route(
            "GET",
            "/api/agents/states",
            "Agents by state with time in state and pause reason",
            h.agent_states,
            access=sup,
            name="agents.states",
            result=_AGENTS,
        ),
        Route(
            "GET",
            "/api/wallboard",
            "The wallboard's whole snapshot (also pushed on the websocket)",
            h.wallboard_snapshot,
            access=sup,
            name="wallboard.snapshot",
            result=_BOARD,
        ),
        Route(
            "POST",
            "/api/agent/state",
            "Set one's own state: ready | pause (with a reason) | wrapup | login | logout",
            h.set_state,
            state,
            name="agent.state",
            result=_STATE,
            errors=(404, 409, 503),
        ),
        Route(
            "POST",
            "/api/spy",
            "Supervisor listen / whisper / barge on an agent's call",
            h.spy,
            Spy,
            access=sup,
            name="spy.start",
            result=_SPY,
            errors=(404, 503),
        ),
        Route(
            "GET",
            "/api/customers/search",
            "Customer search by name (diacritics ignored), number or id (audited)",
            h.search,
            Search,
            name="customer.search",
            result=_CUSTOMER,
            wrap="results",
            errors=(429, 503),
        ),
        Route(
            "GET",
            "/api/customers/{customer_id}",
            "Customer profile: on one of your calls (current, or ended within "
            "desktop.access.recent_call_minutes), else with a stated reason (audited, rate-limited)",
            h.profile,
            ProfileRef,
            name="customer.profile",
            result=_PROFILE,
            errors=(403, 404, 429, 503),
        ),
        Route(
            "POST",
            "/api/customers/{customer_id}/unmask",
            "The full identity number, for a stated reason (audited): agents for the customer on their "
            "current call, supervisors for any",
            h.unmask,
            Unmask,
            name="customer.unmask",
            result=_UNMASK,
            errors=(403, 404, 429, 503),
        ),
        Route(
            "GET",
            "/api/dispositions",
            "Disposition codes",
            h.dispositions,
            name="dispositions.list",
            result=_DISPOSITION,
            wrap="dispositions",
        ),
        Route(
            "POST",
            "/api/dispositions",
            "Save a disposition and note to the customer's history, linked to the call",
            h.save_disposition,
            disposition,
            name="disposition.save",
            result=_SAVED,
            errors=(404, 503),
        ),
        Route(
            "POST",
            "/api/sessions/revoke",
            "Log out everywhere: every session of oneself, or (supervisors) of an agent (audited)",
            h.revoke_sessions,
            RevokeSessions,
            access=Access.PEOPLE,
            name="sessions.revoke",
            result=_REVOKED,
            errors=(503,),
        ),
        Route(
            "GET",
            "/api/access/alerts",
            "Bulk-access alerts (access.bulk_alert): people who opened unusually many customers",
            h.access_alerts,
            AccessAlerts,
            access=sup,
            name="access.alerts",
            result=_ALERT,
            wrap="alerts",
            errors=(503,),
        ),
        Route(
            "GET",
            "/api/health",
            "Health details: up or degraded, the AMI link, connected agents and sockets",
            h.health,
            access=sup,
            name="health.details",
            result=_HEALTH,
            errors=(503,),
        ),
    ]
