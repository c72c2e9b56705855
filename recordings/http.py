"""HTTP edge of recordings: search, playback (supervisors any call, agents their own; always audited),
pause/resume during a live call (card numbers must not be recorded) and dispute flags."""

from __future__ import annotations

import logging
from datetime import datetime

from aiohttp import web

from agent_desktop.api import who_of
from core.audit import Audit
from core.calls import CallTracker
from core.errors import NotFound
from recordings import crypto
from recordings.service import AmiAction, RecordingService

log = logging.getLogger(__name__)


def _iso(v: str | None) -> datetime | None:
    if not v:
        return None
    try:
        return datetime.fromisoformat(v)
    except ValueError as err:
        raise web.HTTPBadRequest(text=f"{v!r} is not an ISO date") from err


def add_routes(
    app: web.Application, svc: RecordingService, tracker: CallTracker, ami: AmiAction, audit: Audit
) -> None:
    async def search(request: web.Request) -> web.Response:
        who = await who_of(request, write=False)
        q = request.query
        agent = q.get("agent_id") if who.supervisor or who.role == "integration" else who.agent_id
        rows = await svc.search(
            customer_id=q.get("customer_id"),
            agent_id=agent,
            number=q.get("number"),
            since=_iso(q.get("since")),
            until=_iso(q.get("until")),
        )
        for r in rows:
            if r.customer_id:
                await audit(who.agent_id, "recording.search", "recording", r.call_id)
        return web.json_response(
            [
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
        )

    async def audio(request: web.Request) -> web.StreamResponse:
        who = await who_of(request, write=False)
        role = "supervisor" if who.role == "integration" else who.role
        try:
            path = await svc.open_for(request.match_info["call_id"], who.agent_id, role, audit)
        except NotFound as err:
            raise web.HTTPNotFound(text=str(err)) from err
        except PermissionError as err:
            raise web.HTTPForbidden(text=str(err)) from err
        headers = {"Content-Type": "audio/wav", "Cache-Control": "no-store"}
        if path.suffix != crypto.SUFFIX:
            return web.FileResponse(path, headers=headers)
        # Encrypted at rest: decrypt while streaming; nothing in clear touches the disk.
        chunks = svc.audio_chunks(path)
        try:
            first = await anext(chunks)
        except crypto.RecordingKeyError as err:
            raise web.HTTPServiceUnavailable(text=str(err)) from err
        except crypto.RecordingTampered as err:
            log.error("recording of call %s: %s", request.match_info["call_id"], err)
            raise web.HTTPInternalServerError(text="recording failed its integrity check") from err
        resp = web.StreamResponse(headers=headers)
        await resp.prepare(request)
        await resp.write(first)
        async for chunk in chunks:
            await resp.write(chunk)
        await resp.write_eof()
        return resp

    async def mute(request: web.Request, paused: bool) -> web.Response:
        who = await who_of(request, write=True)
        call_id = request.match_info["call_id"]
        call = tracker.calls.get(call_id)
        if call is None or not call.agent_channel:
            raise web.HTTPNotFound(text=f"no live recorded call {call_id}")
        if not who.supervisor and call.agent_id != who.agent_id:
            raise web.HTTPForbidden(text="only the call's agent or a supervisor may pause its recording")
        await svc.set_paused(
            ami, call.agent_channel, paused=paused, who=who.agent_id, call_id=call_id, audit=audit
        )
        return web.json_response({"call_id": call_id, "recording": "paused" if paused else "recording"})

    async def pause(request: web.Request) -> web.Response:
        return await mute(request, True)

    async def resume(request: web.Request) -> web.Response:
        return await mute(request, False)

    async def dispute(request: web.Request) -> web.Response:
        who = await who_of(request, write=True)
        if not who.supervisor:
            raise web.HTTPForbidden(text="supervisors only")
        call_id = request.match_info["call_id"]
        try:
            await svc.flag_dispute(call_id)
        except NotFound as err:
            raise web.HTTPNotFound(text=str(err)) from err
        await audit(who.agent_id, "recording.dispute", "recording", call_id)
        return web.json_response({"call_id": call_id, "dispute": True})

    app.router.add_get("/api/recordings", search)
    app.router.add_get("/api/recordings/{call_id}/audio", audio)
    app.router.add_post("/api/recordings/{call_id}/pause", pause)
    app.router.add_post("/api/recordings/{call_id}/resume", resume)
    app.router.add_post("/api/recordings/{call_id}/dispute", dispute)
