"""HTTP edge of the outage notices (ivr/outage_store.py), for the network operations team.

``POST /api/outages`` posts a notice (area, Vietnamese text, optional English text, ``starts_at``
(default now), ``ends_at``; a time without a zone is Việt Nam's); ``POST /api/outages/{id}/expire``
and ``DELETE /api/outages/{id}`` expire one (the row stays, with who and when). Supervisors (session
cookie + CSRF) and integration tokens with the ``outages:write`` scope may write; ``GET /api/outages``
(``state=active`` (default), ``upcoming`` or ``all``) is open to agents too and to tokens with
``outages:read`` or ``outages:write``. Each post and expiry writes an audit row (``outage.create``,
``outage.expire``) and tells every node's IVR at once (``outage.changed``).

Errors are the HTTP kit's JSON errors: 400 ``request.invalid`` (a field missing, too long, a control
character), 400 ``outage.unknown_area`` / ``outage.bad_period``, 404 ``outage.not_found``, 409
``outage.already_over``.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime
from typing import Any, Literal

from aiohttp import web
from pydantic import Field, field_validator

from core.audit import Audit
from core.bus import BusEvent, LocalBus
from core.http import Access, Args, Call, Route
from core.http import add_routes as register
from ivr.outage_board import CHANGED, OutageBoard
from ivr.outage_store import NoticeView, OutageStore, State

# Text a caller will hear and a person will read: no control characters but line breaks.
_TEXT = r"^[^\x00-\x09\x0b-\x1f\x7f]*$"
_YEARS = (2000, 2100)
log = logging.getLogger(__name__)


def _time(v: datetime | None) -> datetime | None:
    if v is not None and not _YEARS[0] <= v.year <= _YEARS[1]:
        raise ValueError(f"must be a time between the years {_YEARS[0]} and {_YEARS[1]}")
    return v


class NewNotice(Args):
    area: str = Field(
        min_length=1,
        max_length=64,
        pattern=_TEXT,
        description="a province as the customers' addresses hold it (compared without diacritics)",
    )
    message_vi: str = Field(min_length=1, max_length=500, pattern=_TEXT, description="read to callers")
    message_en: str | None = Field(None, max_length=500, pattern=_TEXT, description="read to English callers")
    starts_at: datetime | None = Field(None, description="ISO 8601; default now; no zone: Việt Nam")
    ends_at: datetime = Field(description="ISO 8601, after starts_at and now; no zone: Việt Nam")

    @field_validator("area", "message_vi", "message_en")
    @classmethod
    def _given(cls, v: str | None) -> str | None:
        if v is None:
            return None
        v = v.strip()
        if not v:
            raise ValueError("must not be blank")
        return v

    @field_validator("starts_at", "ends_at")
    @classmethod
    def _sane(cls, v: datetime | None) -> datetime | None:
        return _time(v)


class NoticeRef(Args):
    id: int = Field(ge=1, lt=10**18, description="an outage notice id")


class Listing(Args):
    state: Literal["active", "upcoming", "all"] = "active"


_NOTICE: dict[str, Any] = {
    "type": "object",
    "required": ["id", "area", "message_vi", "starts_at", "ends_at", "state", "heard"],
    "properties": {
        "id": {"type": "integer"},
        "area": {"type": "string"},
        "area_key": {"type": "string"},
        "message_vi": {"type": "string"},
        "message_en": {"type": ["string", "null"]},
        "starts_at": {"type": "string"},
        "ends_at": {"type": "string"},
        "state": {"enum": ["active", "upcoming", "ended", "expired"]},
        "created_by": {"type": "string"},
        "created_at": {"type": "string"},
        "expired_at": {"type": ["string", "null"]},
        "expired_by": {"type": ["string", "null"]},
        "heard": {"type": "integer"},
        "audio": {"type": "array", "items": {"type": "string"}},
    },
}
_LIST: dict[str, Any] = {
    "type": "object",
    "required": ["outages"],
    "properties": {"outages": {"type": "array", "items": _NOTICE}},
}


def add_routes(
    app: web.Application, store: OutageStore, board: OutageBoard, audit: Audit, bus: LocalBus
) -> None:
    def view(v: NoticeView) -> dict[str, Any]:
        return {**v.to_json(datetime.now(UTC)), "audio": board.audio_of(v.id)}

    async def changed(v: NoticeView, action: str, by: str) -> None:
        detail = f"{v.area}: {v.starts_at.isoformat()} – {v.ends_at.isoformat()}"
        await audit(by, f"outage.{action}", "outage", str(v.id), detail=detail)
        bus.publish(BusEvent(CHANGED, "", {"id": v.id, "action": action}))  # every node's IVR
        try:
            await board.refresh()  # this node's, with the audio made, before the answer
        except Exception:  # stored and audited: the board's own loop tries again
            log.exception("outage notice %d: refresh after %s failed", v.id, action)

    async def listing(c: Call[Listing]) -> Any:
        state: State = c.args.state
        await board.flush()  # this node's callers counted so far
        return {"outages": [view(v) for v in await store.listing(state)]}

    async def create(c: Call[NewNotice]) -> Any:
        a = c.args
        v = await store.create(
            a.area,
            a.message_vi,
            message_en=a.message_en,
            starts_at=a.starts_at,
            ends_at=a.ends_at,
            by=c.who.agent_id,
        )
        await changed(v, "create", c.who.agent_id)
        return view(v)

    async def expire(c: Call[NoticeRef]) -> Any:
        v = await store.expire(c.args.id, c.who.agent_id)
        await changed(v, "expire", c.who.agent_id)
        return view(v)

    tag, errs = "outages", (404, 409, 503)
    expire_doc = "Expire an outage notice now: callers stop hearing it (audited)"
    register(
        app,
        [
            Route(
                "GET",
                "/api/outages",
                "Outage notices: active (in force now; default), upcoming or all; callers who heard each",
                listing,
                Listing,
                access=Access.ANYONE,
                result=_LIST,
                tag=tag,
                errors=(503,),
            ),
            Route(
                "POST",
                "/api/outages",
                "Post an outage notice for an area, read to its callers before the menu (audited)",
                create,
                NewNotice,
                access=Access.SUPERVISOR,
                result=_NOTICE,
                tag=tag,
                errors=(503,),
            ),
            Route(
                "POST",
                "/api/outages/{id}/expire",
                expire_doc,
                expire,
                NoticeRef,
                access=Access.SUPERVISOR,
                result=_NOTICE,
                tag=tag,
                errors=errs,
            ),
            Route(
                "DELETE",
                "/api/outages/{id}",
                expire_doc + " (the notice is kept, expired)",
                expire,
                NoticeRef,
                access=Access.SUPERVISOR,
                result=_NOTICE,
                tag=tag,
                errors=errs,
            ),
        ],
    )
