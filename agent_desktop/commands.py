"""The desktop's commands: each one route of the registry, served over HTTP and the websocket alike.

A command's name is its websocket ``type``; its arguments model is the HTTP query (GET) or body
(POST) plus the path parameters, and the websocket frame's other fields.
"""

from __future__ import annotations

from typing import Any, ClassVar, Literal

from pydantic import ConfigDict, Field, create_model

from agent_desktop.actions import DesktopActions, Forbidden
from agent_desktop.schemas import (
    CUSTOMER_ID,
    CallId,
    CallRef,
    CallsToday,
    CustomerRef,
    Dial,
    Search,
    Spy,
    Transfer,
    Unmask,
    one_of,
)
from agent_desktop.wallboard import Wallboard
from core.http import Access, Args, Call, Route

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
        call_id=(CallId, ...),
        code=(one_of(codes), ...),
        note=(str, Field("", max_length=4000)),
        customer_id=(str, Field("", pattern=f"^$|{CUSTOMER_ID}", max_length=32)),
    )


def desktop_routes(acts: DesktopActions, wallboard: Wallboard) -> list[Route]:
    """Every desktop command, bound to the desktop's rules and the wallboard."""
    settings = acts.settings
    StateArgs = state_args(acts.pause_reasons())
    DispositionArgs = disposition_args([d.code for d in settings.desktop.dispositions])

    async def calls_today(c: Call[CallsToday]) -> Any:
        agent = c.args.agent
        if c.who.integration and agent is None:
            agent = ""  # a token has no calls of its own: every agent's
        return await acts.calls_today(c.who.reader(), agent)

    async def call_get(c: Call[CallRef]) -> Any:
        return await acts.call(c.who.reader(), c.args.call_id)

    async def dial(c: Call[Dial]) -> Any:
        return await acts.dial(c.who, c.args.number)

    async def transfer(c: Call[Transfer]) -> Any:
        return await acts.transfer(c.who, c.args.call_id, c.args.target, c.args.mode)

    async def queue_stats(c: Call[Args]) -> Any:
        snap = wallboard.snapshot()
        return {k: snap[k] for k in ("at", "day", "definitions", "queues", "tiers", "halfhours")}

    async def agent_states(c: Call[Args]) -> Any:
        return {"agents": wallboard.snapshot()["agents"], "state_service": acts.agent_states_available()}

    async def wallboard_snapshot(c: Call[Args]) -> Any:
        if not c.who.supervisor and not c.who.integration:
            raise Forbidden("supervisors only")
        return wallboard.snapshot()

    async def set_state(c: Call[Any]) -> Any:
        return {"state": await acts.set_state(c.who, c.args.state, c.args.reason)}

    async def spy(c: Call[Spy]) -> Any:
        return await acts.spy(c.who, c.args.agent_id, c.args.mode)

    async def search(c: Call[Search]) -> Any:
        return await acts.search(c.who, c.args.q)

    async def profile(c: Call[CustomerRef]) -> Any:
        return await acts.profile(c.who, c.args.customer_id)

    async def unmask(c: Call[Unmask]) -> Any:
        return {"id_number": await acts.unmask_id_number(c.who, c.args.customer_id, c.args.reason)}

    async def dispositions(c: Call[Args]) -> Any:
        return [d.model_dump() for d in settings.desktop.dispositions]

    async def save_disposition(c: Call[Any]) -> Any:
        a = c.args
        return await acts.save_disposition(c.who, a.call_id, a.code, a.note, a.customer_id)

    listed = {"type": "object", "properties": {"call_id": {"type": "string"}}}
    return [
        Route(
            "GET",
            "/api/calls/today",
            "Today's calls of the agent (supervisors and tokens: ?agent=, empty = every agent)",
            calls_today,
            CallsToday,
            name="calls.today",
            wrap="calls",
            result=listed,
            errors=(503,),
        ),
        Route(
            "GET",
            "/api/calls/{call_id}",
            "One call, live or stored (agents: their own calls)",
            call_get,
            CallRef,
            name="call.get",
            errors=(404, 503),
        ),
        Route(
            "POST",
            "/api/calls/dial",
            "Click-to-call: ring the agent's own phone, then dial the number",
            dial,
            Dial,
            name="call.dial",
            errors=(404, 503),
        ),
        Route(
            "POST",
            "/api/calls/{call_id}/transfer",
            "Blind (Redirect) or attended (Atxfer) transfer to a queue or an agent extension",
            transfer,
            Transfer,
            name="call.transfer",
            errors=(404, 503),
        ),
        Route(
            "GET",
            "/api/queues/stats",
            "Per queue, tier and half-hour: waiting, longest wait, SL, abandoned, ASA, AHT",
            queue_stats,
            access=Access.SUPERVISOR,
            name="queues.stats",
        ),
        Route(
            "GET",
            "/api/agents/states",
            "Agents by state with time in state and pause reason",
            agent_states,
            access=Access.SUPERVISOR,
            name="agents.states",
        ),
        Route(
            "GET",
            "/api/wallboard",
            "The wallboard's whole snapshot (also pushed on the websocket)",
            wallboard_snapshot,
            access=Access.SUPERVISOR,
            name="wallboard.snapshot",
        ),
        Route(
            "POST",
            "/api/agent/state",
            "Set one's own state: ready | pause (with a reason) | wrapup | login | logout",
            set_state,
            StateArgs,
            name="agent.state",
            errors=(404, 409, 503),
        ),
        Route(
            "POST",
            "/api/spy",
            "Supervisor listen / whisper / barge on an agent's call",
            spy,
            Spy,
            access=Access.SUPERVISOR,
            name="spy.start",
            errors=(404, 503),
        ),
        Route(
            "GET",
            "/api/customers/search",
            "Customer search by name (diacritics ignored), number or id (audited)",
            search,
            Search,
            name="customer.search",
            wrap="results",
            errors=(503,),
        ),
        Route(
            "GET",
            "/api/customers/{customer_id}",
            "Customer profile (audited)",
            profile,
            CustomerRef,
            name="customer.profile",
            errors=(404, 503),
        ),
        Route(
            "POST",
            "/api/customers/{customer_id}/unmask",
            "The full identity number, for a stated reason (audited)",
            unmask,
            Unmask,
            name="customer.unmask",
            errors=(404, 503),
        ),
        Route(
            "GET",
            "/api/dispositions",
            "Disposition codes",
            dispositions,
            name="dispositions.list",
            wrap="dispositions",
        ),
        Route(
            "POST",
            "/api/dispositions",
            "Save a disposition and note to the customer's history, linked to the call",
            save_disposition,
            DispositionArgs,
            name="disposition.save",
            errors=(404, 503),
        ),
    ]
