"""HTTP edge of outbound campaigns, for supervisors (session cookie + CSRF; no integration token
scope covers these paths).

``POST /api/campaigns`` creates a campaign (a draft); ``POST /api/campaigns/{id}/contacts`` imports a
CSV list into it (all or nothing: each bad row named with its row number); ``POST
/api/campaigns/{id}/start|pause|stop`` controls it; ``GET /api/campaigns``, ``GET
/api/campaigns/{id}`` and ``GET /api/campaigns/{id}/stats`` read them. Every change writes an audit
row (``campaign.create``, ``campaign.import``, ``campaign.start``…).

Errors are the HTTP kit's JSON errors: 400 ``request.invalid`` (a field missing or malformed), 400
``campaign.invalid`` (rules the law forbids for advertising, a period that ends before it starts),
400 ``campaign.unknown_queue``, 400 ``campaign.list_rejected``, 404 ``campaign.not_found``, 409
``campaign.exists`` / ``campaign.bad_transition``.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Awaitable, Callable, Set
from typing import Any, Literal

from aiohttp import web
from pydantic import Field, field_validator

from campaigns.amd import AmdSettings
from campaigns.config import CampaignsConfig
from campaigns.crm_lists import TierAndDebt
from campaigns.dispositions import Dispositions
from campaigns.importer import CustomerOf, import_csv
from campaigns.report import CurrentPeriods
from campaigns.store import Action, CallOutcome, CampaignStore, NewCampaign
from core.audit import Audit
from core.errors import BadRequest
from core.http import Access, Args, Call, Route
from core.http import add_routes as register
from core.vietnam import VN_TZ

_TEXT = r"^[^\x00-\x09\x0b-\x1f\x7f]*$"  # no control characters but line breaks
_LINE = r"^[^\x00-\x1f\x7f]*$"
_HHMM = r"^([01][0-9]|2[0-3]):[0-5][0-9]$"
_YEARS = (2000, 2100)
Outcome = Literal["busy", "no_answer", "wrong_number", "machine"]
Effect = Literal["done", "callback", "wrong_number", "no_answer", "busy", "machine"]

# A campaign call's disposition into the customer's history: (customer_id, summary, agent_id,
# call_id, disposition). crm_bridge's directory.add_interaction, wired by the component.
History = Callable[[str, str, str, str, str], Awaitable[None]]


class UnknownQueue(BadRequest):
    error_id = "campaign.unknown_queue"


def _when(v: dt.datetime | None) -> dt.datetime | None:
    if v is None:
        return None
    if not _YEARS[0] <= v.year <= _YEARS[1]:
        raise ValueError(f"must be a time between the years {_YEARS[0]} and {_YEARS[1]}")
    return v.replace(tzinfo=VN_TZ) if v.tzinfo is None else v  # no zone: Việt Nam's


def _default_retries() -> dict[Outcome, float]:
    return {"no_answer": 60.0, "busy": 15.0}


class NewCampaignArgs(Args):
    name: str = Field(min_length=1, max_length=80, pattern=_LINE)
    queue: str = Field(min_length=1, max_length=40, pattern=_LINE, description="a configured queue")
    purpose: Literal["care", "advertising"] = Field(
        description="care: service calls to the operator's customers; advertising: Decree 91/2020 applies"
    )
    mode: Literal["preview", "progressive", "predictive"] = "progressive"
    script: str = Field("", max_length=4000, pattern=_TEXT, description="shown on the agent's pop")
    dispositions: list[str] = Field(
        default_factory=list, max_length=30, description="what an agent may record for the call"
    )
    window_start: str = Field("08:00", pattern=_HHMM, description="Việt Nam time")
    window_end: str = Field("17:00", pattern=_HHMM, description="Việt Nam time, after window_start")
    min_gap_hours: float | None = Field(
        None, ge=0, le=720, description="between two calls to one number; default 24 (advertising), 0 (care)"
    )
    max_attempts_per_day: int = Field(3, ge=1, le=20)
    max_attempts: int = Field(3, ge=1, le=20, description="dials per contact over the campaign")
    retry_minutes: dict[Outcome, float] = Field(
        default_factory=_default_retries,
        description="minutes before a contact is tried again, by outcome; an outcome absent is final",
    )
    starts_at: dt.datetime | None = Field(None, description="ISO 8601; no zone: Việt Nam")
    ends_at: dt.datetime | None = Field(None, description="ISO 8601; no zone: Việt Nam")
    disposition_rules: dict[str, Effect] = Field(
        default_factory=dict,
        max_length=30,
        description="what a disposition does to the contact: done (default), callback (at the time the "
        "agent gives), or the outcome the call turned out to have (wrong_number…: its retry rule applies)",
    )
    amd: AmdSettings | None = Field(
        None, description="answering-machine detection (Asterisk AMD() parameters; {} = its defaults)"
    )

    @field_validator("name", "queue")
    @classmethod
    def _given(cls, v: str) -> str:
        v = v.strip()
        if not v:
            raise ValueError("must not be blank")
        return v

    @field_validator("dispositions")
    @classmethod
    def _dispositions(cls, v: list[str]) -> list[str]:
        out = []
        for raw in v:
            d = raw.strip()
            if not d or len(d) > 40 or any(ord(ch) < 32 or ord(ch) == 127 for ch in d):
                raise ValueError("each disposition: 1 to 40 characters, no control characters")
            out.append(d)
        return out

    @field_validator("retry_minutes")
    @classmethod
    def _minutes(cls, v: dict[str, float]) -> dict[str, float]:
        for k, m in v.items():
            if not 1 <= m <= 14 * 24 * 60:
                raise ValueError(f"{k}: between 1 minute and 14 days")
        return v

    @field_validator("starts_at", "ends_at")
    @classmethod
    def _sane(cls, v: dt.datetime | None) -> dt.datetime | None:
        return _when(v)


class CampaignRef(Args):
    id: int = Field(ge=1, lt=10**18, description="a campaign id")


class DispositionArgs(CampaignRef):
    contact_id: int = Field(ge=1, lt=10**18)
    disposition: str | None = Field(
        None, min_length=1, max_length=40, pattern=_LINE, description="one of the campaign's dispositions"
    )
    note: str = Field("", max_length=4000, pattern=_TEXT)
    callback_at: dt.datetime | None = Field(
        None, description="for a callback disposition: when to call back (ISO 8601; no zone: Việt Nam)"
    )
    outcome: CallOutcome | None = Field(
        None, description="preview calls only (dialled by the agent): what became of the call"
    )

    @field_validator("callback_at")
    @classmethod
    def _sane(cls, v: dt.datetime | None) -> dt.datetime | None:
        return _when(v)


class ListArgs(CampaignRef):
    csv: str = Field(
        min_length=1,
        max_length=8_000_000,
        description="CSV text with a header: number (required), priority, name, customer_id",
    )


_CAMPAIGN: dict[str, Any] = {
    "type": "object",
    "required": ["id", "name", "queue", "purpose", "mode", "state"],
    "properties": {
        "id": {"type": "integer"},
        "name": {"type": "string"},
        "queue": {"type": "string"},
        "purpose": {"enum": ["care", "advertising"]},
        "mode": {"enum": ["preview", "progressive", "predictive"]},
        "state": {"enum": ["draft", "running", "paused", "stopped"]},
        "script": {"type": "string"},
        "dispositions": {"type": "array", "items": {"type": "string"}},
        "disposition_rules": {"type": "object", "additionalProperties": {"type": "string"}},
        "window_start": {"type": "string"},
        "window_end": {"type": "string"},
        "min_gap_hours": {"type": "number"},
        "max_attempts_per_day": {"type": "integer"},
        "max_attempts": {"type": "integer"},
        "retry_minutes": {"type": "object"},
        "starts_at": {"type": ["string", "null"]},
        "ends_at": {"type": ["string", "null"]},
        "created_by": {"type": "string"},
        "created_at": {"type": "string"},
    },
}
_COUNTS = {"type": "object", "additionalProperties": {"type": "integer"}}
_STATS: dict[str, Any] = {
    "type": "object",
    "required": ["dialled", "answered", "connected", "abandoned", "machines", "refusals"],
    "properties": {
        "campaign_id": {"type": "integer"},
        "dialled": {"type": "integer"},
        "answered": {"type": "integer"},
        "connected": {"type": "integer"},
        "abandoned": {"type": "integer"},
        "abandon_rate": {"type": "number"},
        "machines": {"type": "integer"},
        "outcomes": _COUNTS,
        "refusals": _COUNTS,
        "contacts": _COUNTS,
    },
}
_ONE: dict[str, Any] = {
    "type": "object",
    "required": ["campaign", "stats"],
    "properties": {"campaign": _CAMPAIGN, "stats": _STATS},
}
_LIST: dict[str, Any] = {
    "type": "object",
    "required": ["campaigns"],
    "properties": {"campaigns": {"type": "array", "items": _CAMPAIGN}},
}
_IMPORTED: dict[str, Any] = {
    "type": "object",
    "required": ["added", "merged", "linked"],
    "properties": {
        "added": {"type": "integer"},
        "merged": {"type": "integer"},
        "linked": {"type": "integer"},
    },
}


_SAVED: dict[str, Any] = {
    "type": "object",
    "required": ["campaign_id", "contact_id", "attempt_id", "outcome", "state"],
    "properties": {
        "campaign_id": {"type": "integer"},
        "contact_id": {"type": "integer"},
        "attempt_id": {"type": "integer"},
        "outcome": {"type": "string"},
        "disposition": {"type": ["string", "null"]},
        "state": {"type": "string"},
        "next_attempt_at": {"type": ["string", "null"]},
    },
}


async def _no_profiles(customer_id: str) -> tuple[str, int] | None:
    return None  # no CRM wired: a tier or debt filter matches no one


def add_routes(
    app: web.Application,
    store: CampaignStore,
    customer_of: CustomerOf,
    audit: Audit,
    *,
    queues: Set[str],
    config: CampaignsConfig,
    dispositions: Dispositions | None = None,
    history: History | None = None,
    tier_and_debt: TierAndDebt | None = None,
    current_periods: CurrentPeriods | None = None,
) -> None:
    dispositions = dispositions or Dispositions(store.sessions)

    async def listing(c: Call[CampaignRef]) -> Any:
        return {"campaigns": [v.to_json() for v in await store.listing()]}

    async def create(c: Call[NewCampaignArgs]) -> Any:
        a = c.args
        if a.queue not in queues:
            raise UnknownQueue(f"no queue {a.queue!r} (configured: {sorted(queues)})")
        v = await store.create(
            NewCampaign(
                name=a.name, queue=a.queue, purpose=a.purpose, mode=a.mode, script=a.script,
                dispositions=a.dispositions, window_start=dt.time.fromisoformat(a.window_start),
                window_end=dt.time.fromisoformat(a.window_end), min_gap_hours=a.min_gap_hours,
                max_attempts_per_day=a.max_attempts_per_day, max_attempts=a.max_attempts,
                retry_minutes={str(k): m for k, m in a.retry_minutes.items()},
                starts_at=a.starts_at, ends_at=a.ends_at, amd=a.amd,
                disposition_rules={k: str(v) for k, v in a.disposition_rules.items()},
            ),
            c.who.agent_id,
        )  # fmt: skip
        await audit(
            c.who.agent_id, "campaign.create", "campaign", str(v.id), detail=f"{v.name} ({v.purpose})"
        )
        return v.to_json()

    async def one(c: Call[CampaignRef]) -> Any:
        v = await store.get(c.args.id)
        return {"campaign": v.to_json(), "stats": await store.stats(v.id)}

    async def stats(c: Call[CampaignRef]) -> Any:
        return await store.stats(c.args.id)

    async def import_list(c: Call[ListArgs]) -> Any:
        r = await import_csv(store, customer_of, c.args.id, c.args.csv, max_rows=config.max_list_rows)
        detail = f"{r.added} added, {r.merged} merged, {r.linked} linked"
        await audit(c.who.agent_id, "campaign.import", "campaign", str(c.args.id), detail=detail)
        return r.to_json()

    async def save_disposition(c: Call[DispositionArgs]) -> Any:
        a = c.args
        saved = await dispositions.save(
            a.id, a.contact_id, agent_id=c.who.agent_id, supervisor=c.who.supervisor,
            disposition=a.disposition, note=a.note, callback_at=a.callback_at, outcome=a.outcome,
        )  # fmt: skip
        when = f" at {saved.next_attempt_at.isoformat()}" if saved.next_attempt_at else ""
        what = saved.disposition or saved.outcome
        detail = f"campaign {a.id}: {what} → {saved.state}{when}"
        await audit(
            c.who.agent_id, "campaign.disposition", "campaign_contact", str(a.contact_id), detail=detail
        )
        if history is not None and saved.customer_id and saved.disposition is not None:
            name = (await store.get(a.id)).name
            summary = f"{name}: {saved.disposition}" + (f" · {a.note}" if a.note else "")
            await history(saved.customer_id, summary, c.who.agent_id, saved.call_id, saved.disposition)
        return saved.to_json()

    def control(action: Action) -> Any:
        async def handler(c: Call[CampaignRef]) -> Any:
            before, v = await store.control(c.args.id, action)
            await audit(
                c.who.agent_id, f"campaign.{action}", "campaign", str(v.id), detail=f"{before} → {v.state}"
            )
            return v.to_json()

        return handler

    tag, sup = "campaigns", Access.SUPERVISOR
    routes = [
        Route("GET", "/api/campaigns", "Outbound campaigns", listing, access=sup, result=_LIST, tag=tag),
        Route(
            "POST", "/api/campaigns", "Create an outbound campaign (a draft; audited)", create,
            NewCampaignArgs, access=sup, result=_CAMPAIGN, tag=tag, errors=(409,),
        ),
        Route(
            "GET", "/api/campaigns/{id}", "A campaign and its counts", one, CampaignRef,
            access=sup, result=_ONE, tag=tag, errors=(404,),
        ),
        Route(
            "GET", "/api/campaigns/{id}/stats",
            "A campaign's counts: dialled, answered, connected, abandoned, machines, refusals by rule",
            stats, CampaignRef, access=sup, result=_STATS, tag=tag, errors=(404,),
        ),
        Route(
            "POST", "/api/campaigns/{id}/contacts",
            "Import a CSV contact list into a campaign (all or nothing; audited)", import_list, ListArgs,
            access=sup, result=_IMPORTED, tag=tag, errors=(404, 409),
        ),
        Route(
            "POST", "/api/campaigns/{id}/contacts/{contact_id}/disposition",
            "Save the agent's disposition of a campaign call (the agent who took it, or a supervisor; "
            "preview calls also take their outcome); the campaign's rules schedule the contact (audited)",
            save_disposition, DispositionArgs, access=Access.PEOPLE, result=_SAVED, tag=tag,
            errors=(403, 404, 409), name="campaign.disposition",
        ),
    ]  # fmt: skip
    from campaigns.crm_lists_http import crm_list_routes  # they build on this module's models
    from campaigns.report_http import report_routes

    routes += report_routes(store, audit, config, current_periods)
    profiles = tier_and_debt or _no_profiles
    routes += crm_list_routes(store, store.sessions, profiles, audit, max_rows=config.max_list_rows)
    controls: tuple[tuple[Action, str], ...] = (
        ("start", "Start (or resume) a campaign's dialling (audited)"),
        ("pause", "Pause a running campaign: calls in progress finish (audited)"),
        ("stop", "Stop a campaign for good (audited)"),
    )
    for action, doc in controls:
        routes.append(
            Route(
                "POST",
                f"/api/campaigns/{{id}}/{action}",
                doc,
                control(action),
                CampaignRef,
                access=sup,
                result=_CAMPAIGN,
                tag=tag,
                errors=(404, 409),
            )
        )
    register(app, routes)
