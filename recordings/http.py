"""HTTP edge of recordings: search, playback (supervisors any call, agents their own; always audited),
pause/resume during a live call (card numbers must not be recorded) and dispute flags."""

from __future__ import annotations

import asyncio
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
from recordings.ranges import RangeNotSatisfiable, parse_range
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
    queue: str | None = Field(None, pattern=r"^[A-Za-z0-9_-]{1,40}$")
    disposition: str | None = Field(None, pattern=r"^[A-Za-z0-9_.-]{1,64}$", description="wrap-up code")

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


class AudioArgs(CallRef):
    download: bool = Field(False, description="as a file to save (audited as a download)")


class HoldArgs(CallRef):
    reason: str = Field(min_length=3, max_length=200, description="the order or case behind the hold")


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
        "legal_hold": {"type": "boolean"},
        "legal_hold_reason": {"type": "string"},
        "disposition": {"type": ["string", "null"]},
        "encrypted": {"type": "boolean"},
        "pauses": {
            "type": "array",
            "description": "spans muted for card or ID numbers: [start, end] seconds into the file",
            "items": {"type": "array", "items": {"type": ["number", "null"]}},
        },
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
            queue=q.queue,
            disposition=q.disposition,
        )
        codes = await self.svc.dispositions_of([r.call_id for r in rows])
        pauses = await self.svc.pauses_of(rows)
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
                "legal_hold": r.legal_hold,
                "legal_hold_reason": r.legal_hold_reason,
                "disposition": codes.get(r.call_id),
                "encrypted": r.path.endswith(crypto.SUFFIX),
                "pauses": [list(p) for p in pauses.get(r.call_id, [])],
            }
            for r in rows
        ]

    async def audio(self, c: Call[AudioArgs]) -> Any:
        """The audio, whole or one byte range (seeking), decrypted while streamed when encrypted at
        rest; each request is audited, a range with the bytes it asked for."""
        request = c.request
        assert request is not None  # HTTP only: a websocket frame cannot carry audio
        call_id, rng = c.args.call_id, request.headers.get("Range")
        action = "download" if c.args.download else "play"
        path = await self.svc.open_for(
            call_id, c.who.agent_id, _role(c.who), self.audit, action=action, detail=(rng or "")[:64]
        )
        headers = {"Content-Type": "audio/wav", "Cache-Control": "no-store", "Accept-Ranges": "bytes"}
        if c.args.download:
            headers["Content-Disposition"] = f'attachment; filename="{call_id}.wav"'
        if path.suffix != crypto.SUFFIX:
            return web.FileResponse(path, headers=headers)  # aiohttp serves Range on a plain file
        try:
            size = await asyncio.to_thread(crypto.plain_size, path)
            span = parse_range(rng, size)
        except crypto.RecordingTampered as err:
            log.error("recording of call %s: %s", call_id, err)
            raise crypto.RecordingTampered("recording failed its integrity check") from err
        except RangeNotSatisfiable:
            return web.Response(status=416, headers={"Content-Range": f"bytes */{size}"})
        first, last = span if span is not None else (0, size - 1)
        # Encrypted at rest: decrypt while streaming; nothing in clear touches the disk.
        chunks = self.svc.audio_range(path, first, last)
        try:
            head = await anext(chunks)
        except crypto.RecordingKeyError as err:
            raise Unavailable(str(err)) from err
        except crypto.RecordingTampered as err:
            log.error("recording of call %s: %s", call_id, err)
            raise crypto.RecordingTampered("recording failed its integrity check") from err
        resp = web.StreamResponse(status=200 if span is None else 206, headers=headers)
        resp.content_length = last - first + 1
        if span is not None:
            resp.headers["Content-Range"] = f"bytes {first}-{last}/{size}"
        await resp.prepare(request)
        await resp.write(head)
        async for chunk in chunks:
            await resp.write(chunk)
        await resp.write_eof()
        return resp

    async def hold(self, c: Call[HoldArgs]) -> Any:
        rec = await self.svc.set_legal_hold(c.args.call_id, True, c.args.reason)
        await self.audit(c.who.agent_id, "recording.hold", "recording", rec.call_id, c.args.reason)
        return {"call_id": rec.call_id, "legal_hold": True, "legal_hold_reason": rec.legal_hold_reason}

    async def release(self, c: Call[HoldArgs]) -> Any:
        rec = await self.svc.set_legal_hold(c.args.call_id, False)
        await self.audit(c.who.agent_id, "recording.release", "recording", rec.call_id, c.args.reason)
        return {"call_id": rec.call_id, "legal_hold": False, "legal_hold_reason": ""}

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
    held = {
        "type": "object",
        "required": ["call_id", "legal_hold"],
        "properties": {
            "call_id": {"type": "string"},
            "legal_hold": {"type": "boolean"},
            "legal_hold_reason": {"type": "string"},
        },
    }
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
                "Play a recording, whole or a byte range (Range: seeking), or download it (audited;"
                " agents: their own calls)",
                h.audio,
                AudioArgs,
                media="audio/wav",
                errors=(404, 500, 503),  # and 416 for a range outside the file
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
            Route(
                "POST",
                "/api/recordings/{call_id}/hold",
                "Place a legal hold: kept past retention and a customer's erasure (supervisors; audited)",
                h.hold,
                HoldArgs,
                access=Access.SUPERVISOR,
                result=held,
                name="recordings.hold",
                errors=(404, 503),
                tag="recordings",
            ),
            Route(
                "POST",
                "/api/recordings/{call_id}/release",
                "Release a legal hold; retention applies again (supervisors; audited with the reason)",
                h.release,
                HoldArgs,
                access=Access.SUPERVISOR,
                result=held,
                name="recordings.release",
                errors=(404, 503),
                tag="recordings",
            ),
        ],
    )
