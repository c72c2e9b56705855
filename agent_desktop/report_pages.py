"""The supervisors' and quality team's pages: reports (service level with charts, drill-down and
exports), quality evaluations (analysts fill them, agents read theirs) and the audit viewer
(supervisors and ``reports.audit_viewers``). Each page is a frame; its JS reads the JSON API
(reports/http.py, quality/http.py), where the access rules and the audit live."""

from __future__ import annotations

from typing import Any

import aiohttp_jinja2
from aiohttp import web

from agent_desktop import sessions
from agent_desktop.pages import page_ctx


def _settings(request: web.Request) -> Any:
    return request.app[sessions.SESSIONS_KEY].settings


async def reports_page(request: web.Request) -> web.StreamResponse:
    who = await sessions.current_agent(request)
    if who is None:
        raise web.HTTPFound("/login")
    if not who.supervisor:
        raise web.HTTPForbidden(text="supervisors only")
    ctx = await page_ctx(request, who.agent_id, who.role)
    cfg = _settings(request).reports
    ctx["sl_threshold"], ctx["sl_target"] = f"{cfg.sl_threshold_seconds:g}", f"{cfg.sl_target:.0%}"
    return aiohttp_jinja2.render_template("reports.html", request, ctx)


async def quality_page(request: web.Request) -> web.StreamResponse:
    """Everyone: an analyst (supervisors, ``quality.analysts``) evaluates; an agent reads their own."""
    who = await sessions.current_agent(request)
    if who is None:
        raise web.HTTPFound("/login")
    ctx = await page_ctx(request, who.agent_id, who.role)
    ctx["analyst"] = who.supervisor or who.agent_id in _settings(request).quality.analysts
    ctx["call_id"] = request.query.get("call", "")[:64]
    return aiohttp_jinja2.render_template("quality.html", request, ctx)


async def audit_page(request: web.Request) -> web.StreamResponse:
    who = await sessions.current_agent(request)
    if who is None:
        raise web.HTTPFound("/login")
    ctx = await page_ctx(request, who.agent_id, who.role)
    if not ctx["audit_viewer"]:
        raise web.HTTPForbidden(text="supervisors and data-protection officers only")
    return aiohttp_jinja2.render_template("audit.html", request, ctx)


def add_report_pages(app: web.Application) -> None:
    app.router.add_get("/reports", reports_page)
    app.router.add_get("/quality", quality_page)
    app.router.add_get("/audit", audit_page)
