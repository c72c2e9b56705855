"""The recordings page: search, play with seeking, download, legal hold (recordings/http.py does the
work, access-checked and audited there). Agents find their own calls; supervisors every call."""

from __future__ import annotations

import aiohttp_jinja2
from aiohttp import web

from agent_desktop import sessions
from agent_desktop.pages import page_ctx


async def recordings_page(request: web.Request) -> web.StreamResponse:
    who = await sessions.current_agent(request)
    if who is None:
        raise web.HTTPFound("/login")
    ctx = await page_ctx(request, who.agent_id, who.role)
    ctx["supervisor"] = who.supervisor
    return aiohttp_jinja2.render_template("recordings.html", request, ctx)


def add_recordings_page(app: web.Application) -> None:
    app.router.add_get("/recordings", recordings_page)
