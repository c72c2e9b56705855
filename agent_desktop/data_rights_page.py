"""The data-rights page (supervisors): a customer's export archive, erasure and consent changes, each
with its reason or source (crm_bridge/data_rights_http.py does the work, recorded and audited there)."""

from __future__ import annotations

import aiohttp_jinja2
from aiohttp import web

from agent_desktop import sessions
from agent_desktop.pages import page_ctx


async def data_rights_page(request: web.Request) -> web.StreamResponse:
    who = await sessions.current_agent(request)
    if who is None:
        raise web.HTTPFound("/login")
    if not who.supervisor:
        raise web.HTTPForbidden(text="supervisors only")
    ctx = await page_ctx(request, who.agent_id, who.role)
    return aiohttp_jinja2.render_template("data_rights.html", request, ctx)


def add_data_rights_page(app: web.Application) -> None:
    app.router.add_get("/data-rights", data_rights_page)
