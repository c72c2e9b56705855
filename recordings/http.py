"""HTTP edge of recordings: search, playback (supervisors any call, agents their own; always audited),
pause/resume during a live call (card numbers must not be recorded) and dispute flags."""

from __future__ import annotations

import logging
from datetime import datetime
from typing import Any

from aiohttp import web
from pydantic import Field, field_validator

from core.audit import Audit
from core.calls import CallTracker
from core.errors import Forbidden, NotFound, Unavailable
from core.http import Access, Args, Call, Route
from core.http import add_routes as register
from core.identity import Who
from recordings import crypto
from recordings.service import AmiAction, RecordingService

log = logging.getLogger(__name__)

# A call id holds a digit (Asterisk's Linkedid 1700000000.123), as on the desktop's routes.
_CALL_ID = r"^(?:[0-9]|[A-Za-z_-][A-Za-z._-]*[0-9])[A-Za-z0-9._-]*$"
_ISO = "an ISO 8601 date-time, e.g. 2026-11-23T08:00:00+07:00"


class SearchArgs(Args):
    customer_id: str | None = Field(None, pattern=r"^[A-Za-z_-]*[0-9][A-Za-z0-9_-]*$", max_length=32)
    agent_id: str | None = Field(None, pattern=r"^[0-9]{3,6}$", description="supervisors and tokens only")
    number: str | None = Field(None, pattern=r"^\+?[0-9]{3,15}$", description="the caller's number as stored")
    since: str | None = Field(None, json_schema_extra={"format": "date-time"}, description=_ISO)
    until: str | None = Field(None, json_schema_extra={"format": "date-time"}, description=_ISO)

    @field_validator("since", "until")
    @classmethod
    def _iso(cls, v: str | None) -> str | None:
        if v is not None:
            try:
                datetime.fromisoformat(v)
            except ValueError as err:
                raise ValueError(f"{v!r} is not {_ISO}") from err
        return v


class CallRef(Args):
    call_id: str = Field(pattern=_CALL_ID, max_length=64)


_RECORDING = {
    "type": "object",
    "required": ["call_id", "started_at", "status"],
    "properties": {
        "call_id": {"type": "string"},
        "customer_id": {"type": ["string", "null"]},
        "caller_number": {"type": ["string", "null"]},
        "agent_id": {"type": ["string", "null"]},
        "queue": {"type": ["string", "null"]},
        "started_at": {"type": "string", "format": "date-time"},
        "duration_seconds": {"type": "number"},
        "size_bytes": {"type": ["integer", "null"]},
        "sha256": {"type": ["string", "null"]},
        "status": {"type": "string"},
        "dispute": {"type": "boolean"},
    },
}


def _when(v: str | None) -> datetime | None:
    return datetime.fromisoformat(v) if v else None


def _role(who: Who) -> str:
    return "supervisor" if who.integration else who.role


class RecordingRoutes:
    """The handlers, bound to the recording service, the live calls, AMI and the audit trail."""

    def __init__(self, svc: RecordingService, tracker: CallTracker, ami: AmiAction, audit: Audit) -> None:
        self.svc, self.tracker, self.ami, self.audit = svc, tracker, ami, audit

    async def search(self, c: Call[SearchArgs]) -> Any:
        who, q = c.who, c.args
        agent = q.agent_id if who.supervisor or who.integration else who.agent_id
        rows = await self.svc.search(
            customer_id=q.customer_id,
            agent_id=agent,
            number=q.number,
            since=_when(q.since),
            until=_when(q.until),
        )
        for r in rows:
            if r.customer_id:
                await self.audit(who.agent_id, "recording.search", "recording", r.call_id)
        return [
            {
                "call_id": r.call_id,
                "customer_id": r.customer_id,
                "caller_number": r.caller_number,
                "agent_id": r.agent_id,
                "queue": r.queue,
                "started_at": r.started_at.isoformat(),
                "duration_seconds": round(r.duration_seconds, 2),
                "size_bytes": r.size_bytes,
                "sha256": r.sha256,
                "status": r.status,
                "dispute": r.dispute,
            }
            for r in rows
        ]

    async def audio(self, c: Call[CallRef]) -> Any:
        request = c.request
        assert request is not None  # HTTP only: a websocket frame cannot carry audio
        path = await self.svc.open_for(c.args.call_id, c.who.agent_id, _role(c.who), self.audit)
        headers = {"Content-Type": "audio/wav", "Cache-Control": "no-store"}
        if path.suffix != crypto.SUFFIX:
            return web.FileResponse(path, headers=headers)
        # Encrypted at rest: decrypt while streaming; nothing in clear touches the disk.
        chunks = self.svc.audio_chunks(path)
        try:
            first = await anext(chunks)
        except crypto.RecordingKeyError as err:
            raise Unavailable(str(err)) from err
        except crypto.RecordingTampered as err:
            log.error("recording of call %s: %s", c.args.call_id, err)
            raise crypto.RecordingTampered("recording failed its integrity check") from err
        resp = web.StreamResponse(headers=headers)
        await resp.prepare(request)
        await resp.write(first)
        async for chunk in chunks:
            await resp.write(chunk)
        await resp.write_eof()
        return resp

    async def _mute(self, c: Call[CallRef], paused: bool) -> Any:
        who, call_id = c.who, c.args.call_id
        call = self.tracker.calls.get(call_id)
        if call is None or not call.agent_channel:
            raise NotFound(f"no live recorded call {call_id}")
        if not who.supervisor and call.agent_id != who.agent_id:
            raise Forbidden("only the call's agent or a supervisor may pause its recording")
        await self.svc.set_paused(
            self.ami, call.agent_channel, paused=paused, who=who.agent_id, call_id=call_id, audit=self.audit
        )
        return {"call_id": call_id, "recording": "paused" if paused else "recording"}

    async def pause(self, c: Call[CallRef]) -> Any:
        return await self._mute(c, True)

    async def resume(self, c: Call[CallRef]) -> Any:
        return await self._mute(c, False)

    async def dispute(self, c: Call[CallRef]) -> Any:
        call_id = c.args.call_id
        await self.svc.flag_dispute(call_id)
        await self.audit(c.who.agent_id, "recording.dispute", "recording", call_id)
        return {"call_id": call_id, "dispute": True}


def add_routes(
    app: web.Application, svc: RecordingService, tracker: CallTracker, ami: AmiAction, audit: Audit
) -> None:
    h = RecordingRoutes(svc, tracker, ami, audit)
    mark = {"type": "object", "required": ["call_id"], "properties": {"call_id": {"type": "string"}}}
    register(
        app,
        [
            Route(
                "GET",
                "/api/recordings",
                "Search recordings (agents: their own calls)",
                h.search,
                SearchArgs,
                result={"type": "array", "items": _RECORDING},
                name="recordings.search",
                errors=(503,),
                tag="recordings",
            ),
            Route(
                "GET",
                "/api/recordings/{call_id}/audio",
                "Play a recording (audited; agents: their own calls)",
                h.audio,
                CallRef,
                media="audio/wav",
                errors=(404, 500, 503),
                tag="recordings",
            ),
            Route(
                "POST",
                "/api/recordings/{call_id}/pause",
                "Pause the recording of a live call (audited)",
                h.pause,
                CallRef,
                access=Access.PEOPLE,
                result=mark,
                name="recordings.pause",
                errors=(404, 503),
                tag="recordings",
            ),
            Route(
                "POST",
                "/api/recordings/{call_id}/resume",
                "Resume the recording of a live call (audited)",
                h.resume,
                CallRef,
                access=Access.PEOPLE,
                result=mark,
                name="recordings.resume",
                errors=(404, 503),
                tag="recordings",
            ),
            Route(
                "POST",
                "/api/recordings/{call_id}/dispute",
                "Flag a recording for a dispute: kept past retention (supervisors; audited)",
                h.dispute,
                CallRef,
                access=Access.SUPERVISOR,
                result=mark,
                name="recordings.dispute",
                errors=(404, 503),
                tag="recordings",
            ),
        ],
    )
