"""HTTP edge of the callback worklist (ivr/callbacks.py), for agents and supervisors.

``GET /api/callbacks`` lists the caller's claims (a supervisor: every claim) then the pending requests in
working order; ``POST /api/callbacks/{id}/claim|complete|release`` act on one request (session cookie
+ CSRF, like every desktop write) and are audited. Errors are the HTTP kit's JSON errors: 400 bad
input, 404 unknown request, 409 claimed by someone else / not claimed / already done.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Annotated, Any

from aiohttp import web
from pydantic import Field, WithJsonSchema, model_validator

from core.http import Access, Args, Call, Route
from core.http import add_routes as register
from ivr.callbacks import OUTCOMES, CallbackStore

Audit = Callable[[str, str, str, str], Awaitable[None]]

_ONE_OF = f"one of: {', '.join(OUTCOMES)}"


class RequestRef(Args):
    id: int = Field(ge=1, lt=10**18, description="a callback request id")


class Complete(RequestRef):
    # The store checks the outcome (its message names the bad one); the schema lists them.
    outcome: Annotated[str, WithJsonSchema({"type": "string", "enum": list(OUTCOMES)})]

    @model_validator(mode="before")
    @classmethod
    def _given(cls, data: Any) -> Any:
        if isinstance(data, dict) and not str(data.get("outcome") or "").strip():
            raise ValueError(f"give an outcome: {_ONE_OF}")
        return data


_CALLBACK: dict[str, Any] = {
    "type": "object",
    "required": ["id", "status", "attempts"],
    "properties": {
        "id": {"type": "integer"},
        "status": {"enum": ["pending", "claimed", "done"]},
        "attempts": {"type": "integer"},
        "claimed_by": {"type": ["string", "null"]},
        "outcome": {"type": ["string", "null"]},
    },
}
_WORKLIST: dict[str, Any] = {
    "type": "object",
    "required": ["callbacks", "outcomes"],
    "properties": {"callbacks": {"type": "array", "items": _CALLBACK}, "outcomes": {"type": "array"}},
}


def add_routes(app: web.Application, store: CallbackStore, audit: Audit) -> None:
    async def worklist(c: Call[Args]) -> Any:
        rows = await store.worklist(c.who.agent_id, every_claim=c.who.supervisor)
        return {"callbacks": [r.to_json() for r in rows], "outcomes": list(OUTCOMES)}

    async def claim(c: Call[RequestRef]) -> Any:
        rid = c.args.id
        view = await store.claim(rid, c.who.agent_id)
        await audit(c.who.agent_id, "callback.claim", "callback", str(rid))
        return view.to_json()

    async def complete(c: Call[Complete]) -> Any:
        rid, outcome = c.args.id, c.args.outcome.strip()
        view = await store.complete(rid, c.who.agent_id, outcome)
        # Each attempt's outcome is in the audit log; the row keeps only the last.
        await audit(c.who.agent_id, f"callback.complete.{outcome}", "callback", str(rid))
        return view.to_json()

    async def release(c: Call[RequestRef]) -> Any:
        rid = c.args.id
        view = await store.release(rid, c.who.agent_id, any_claim=c.who.supervisor)
        await audit(c.who.agent_id, "callback.release", "callback", str(rid))
        return view.to_json()

    # Working callbacks is a person's job: integration tokens are refused.
    people, tag, errs = Access.PEOPLE, "callbacks", (404, 409, 503)
    register(
        app,
        [
            Route(
                "GET",
                "/api/callbacks",
                "Callback worklist: own claims (supervisors: all), then pending by tier and age",
                worklist,
                access=people,
                name="callbacks.list",
                result=_WORKLIST,
                tag=tag,
                errors=(503,),
            ),
            Route(
                "POST",
                "/api/callbacks/{id}/claim",
                "Claim a pending callback request (audited)",
                claim,
                RequestRef,
                access=people,
                result=_CALLBACK,
                name="callback.claim",
                tag=tag,
                errors=errs,
            ),
            Route(
                "POST",
                "/api/callbacks/{id}/complete",
                f"Record an attempt's outcome ({_ONE_OF}; audited)",
                complete,
                Complete,
                access=people,
                result=_CALLBACK,
                name="callback.complete",
                tag=tag,
                errors=errs,
            ),
            Route(
                "POST",
                "/api/callbacks/{id}/release",
                "Give a claimed request back, its place kept (audited)",
                release,
                RequestRef,
                access=people,
                result=_CALLBACK,
                name="callback.release",
                tag=tag,
                errors=errs,
            ),
        ],
    )
