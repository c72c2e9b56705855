"""The desktop's web app: the string catalogue and the factory that assembles the pages
(agent_desktop/pages.py), the session (sessions.py), the websocket (ws.py) and the JSON API (api.py).

Security: argon2id-hashed passwords, server-held sessions (the cookie is an opaque id: sessions.py),
a CSRF token on every form and write, the websocket's Origin checked against the configured origins,
each socket bound to the logged-in agent so agent A never receives agent B's pop, security headers
on every response and JSON errors under /api/ (core/http.py).
"""

from __future__ import annotations

import logging
from datetime import UTC, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

import aiohttp_jinja2
import jinja2
from aiohttp import web
from sqlalchemy import select

from acd.exits import is_exit_disposition
from agent_desktop.access import CustomerAccess
from agent_desktop.actions import BridgeView, DesktopActions
from agent_desktop.api import add_api_routes, add_openapi
from agent_desktop.auth import DesktopAuth
from agent_desktop.data_rights_page import add_data_rights_page
from agent_desktop.hub import PopHub
from agent_desktop.i18n import CATALOGUE
from agent_desktop.kpi_board import KpiBoard
from agent_desktop.pages import (
    LOGIN_AUDIT_KEY,
    LOGIN_GUARD_KEY,
    PASSWORDS_KEY,
    TEXT_KEY,
    add_forms,
    add_pages,
)
from agent_desktop.recordings_page import add_recordings_page
from agent_desktop.sessions import SESSIONS_KEY, DbSessionStore, WebSessions, login_cookie
from agent_desktop.softphone import add_softphone
from agent_desktop.wallboard import QueuedCall, Wallboard, today_bounds
from agent_desktop.ws import HUB_KEY, SETTINGS_KEY, SOCKETS_KEY, Sockets, websocket
from core.audit import Audit, AuditTrail
from core.http import json_errors, setup_api, setup_security_headers
from core.login_guard import LoginGuard
from core.models import CallRecord
from core.passwords import PasswordChecker
from reports.http import add_report_routes

if TYPE_CHECKING:  # the complete model is the composition root's; typing only, no import cycle
    from tongdai.settings import Settings

log = logging.getLogger(__name__)

HERE = Path(__file__).parent

# The strings live in agent_desktop/locales/<lang>.json, one catalogue for the pages and their JS.
TEXT: dict[str, dict[str, Any]] = CATALOGUE


BRIDGE_KEY: web.AppKey[BridgeView] = web.AppKey("desktop_bridge")


async def health(request: web.Request) -> web.Response:
    """``up``, or ``degraded`` when the node runs with Asterisk but its AMI link is down. Public, so
    it names no one: the details (agents connected, sockets) are /api/health, for supervisors."""
    bridge = request.app.get(BRIDGE_KEY)
    ami = bridge.ami if bridge is not None else None
    return web.json_response({"status": "degraded" if ami is not None and not ami.connected else "up"})


def make_web_app(
    settings: Settings,
    hub: PopHub,
    bridge: BridgeView | None = None,
    *,
    audit: Audit | None = None,
    access: CustomerAccess | None = None,
    web_sessions: WebSessions | None = None,
) -> web.Application:
    """The desktop app. With ``bridge`` (the running Bridge) it also serves the wallboard, the JSON API
    and websocket commands; without it only login and the screen pop. ``audit`` is the one audit
    trail (default: an :class:`AuditTrail` on the bridge's database); ``web_sessions`` the session
    store (default: the bridge's database)."""
    if audit is None and bridge is not None and bridge.sessions is not None:
        audit = AuditTrail(bridge.sessions)
    if web_sessions is None:
        if bridge is None or bridge.sessions is None:
            raise ValueError("the desktop's sessions need a store: pass web_sessions or a bridge's database")
        current = bridge
        web_sessions = WebSessions(DbSessionStore(bridge.sessions), lambda: current.settings)
    app = web.Application(middlewares=[json_errors, login_cookie])
    app[SETTINGS_KEY] = settings
    app[HUB_KEY] = hub
    app[TEXT_KEY] = TEXT
    app[SESSIONS_KEY] = web_sessions
    sockets = app[SOCKETS_KEY] = Sockets()
    web_sessions.on_revoke(sockets.close_sessions)  # a revoked session's open pages close at once
    setup_security_headers(app, hsts=settings.web.secure_cookies)
    setup_api(app, DesktopAuth(lambda: web_sessions.settings.desktop.api_tokens))
    aiohttp_jinja2.setup(app, loader=jinja2.FileSystemLoader(str(HERE / "templates")), autoescape=True)
    add_pages(app)
    add_recordings_page(app)
    add_data_rights_page(app)
    _add_login_security(app, audit)
    app.router.add_get("/ws", websocket)
    app.router.add_get("/healthz", health)
    app.router.add_static("/static/", HERE / "static")
    add_openapi(app)
    add_softphone(app, settings, web_sessions)
    if bridge is not None:
        app[BRIDGE_KEY] = bridge
        _add_desk(app, settings, hub, bridge, audit=audit, access=access)

    async def close_sockets(app: web.Application) -> None:
        await hub.close_sockets()

    async def finish_pops(app: web.Application) -> None:
        await hub.close()

    app.on_shutdown.append(close_sockets)
    app.on_cleanup.append(finish_pops)
    return app


def _add_login_security(app: web.Application, audit: Audit | None) -> None:
    """Login throttling and off-loop password checks; lockouts go to the audit trail (or the log)."""
    app[LOGIN_GUARD_KEY] = LoginGuard()
    checker = app[PASSWORDS_KEY] = PasswordChecker()

    async def log_only(actor: str, action: str, subject_type: str, subject_id: str, detail: str = "") -> None:
        log.warning("%s by %s on %s %s %s", action, actor, subject_type, subject_id, detail)

    app[LOGIN_AUDIT_KEY] = audit if audit is not None else log_only

    async def close(app: web.Application) -> None:
        checker.close()

    app.on_cleanup.append(close)


def _add_desk(
    app: web.Application,
    settings: Settings,
    hub: PopHub,
    bridge: BridgeView,
    *,
    audit: Audit | None,
    access: CustomerAccess | None,
) -> None:
    if audit is None:
        if bridge.sessions is None:
            raise ValueError("the desktop's audit trail needs the bridge's database")
        audit = AuditTrail(bridge.sessions)
    wallboard = Wallboard(
        hub.send_supervisors,
        queues={q.name: q.label or q.name for q in settings.queues},
        agents={a.id: a.name for a in settings.agents},
        queue_sl=settings.desktop.queue_sl_seconds,
        tier_sl={t.name: t.target_seconds for t in settings.acd.tiers},
        coalesce=settings.desktop.wallboard_coalesce,
        now=bridge.tracker.now,  # the clock that stamps the calls decides which day they belong to
    )
    wallboard.attach(bridge.bus)
    kpis = _kpi_board(settings, bridge, wallboard)
    acts = DesktopActions(bridge, audit, access)
    if acts.access.alert is None:
        acts.access.alert = hub.send_supervisors
    web_sessions, sockets = app[SESSIONS_KEY], app[SOCKETS_KEY]

    def health_details() -> dict[str, Any]:
        ami = bridge.ami
        return {
            "status": "degraded" if ami is not None and not ami.connected else "up",
            "ami": "absent" if ami is None else ("connected" if ami.connected else "disconnected"),
            "agents_connected": hub.connected_agents(),
            "sockets": sockets.total(),
        }

    add_api_routes(app, acts, wallboard, web_sessions.end_agent, health_details)
    add_forms(app)
    _add_reports(app, settings, bridge, audit)

    async def seed(app: web.Application) -> None:
        await _seed_wallboard(wallboard, bridge)
        if kpis is not None:
            kpis.start()

    async def close(app: web.Application) -> None:
        wallboard.close()
        if kpis is not None:
            await kpis.stop()

    app.on_startup.append(seed)
    app.on_cleanup.append(close)


def _kpi_board(settings: Settings, bridge: BridgeView, wallboard: Wallboard) -> KpiBoard | None:
    """The wallboard's satisfaction block, from the database (none without one)."""
    if bridge.sessions is None:
        return None
    board = KpiBoard(
        bridge.sessions,
        window=timedelta(days=settings.reports.repeat_window_days),
        changed=wallboard.schedule,
        now=wallboard.now,
    )
    board.attach(bridge.bus)
    wallboard.kpis = board.snapshot
    return board


def _add_reports(app: web.Application, settings: Settings, bridge: BridgeView, audit: Audit) -> None:
    add_report_routes(app, lambda: bridge.sessions, settings.reports, audit)


async def _seed_wallboard(wallboard: Wallboard, bridge: BridgeView) -> None:
    """Today's calls and the agents' states, so a restarted bridge shows the whole day."""
    agents = bridge.agents
    if agents is not None:
        for st in await agents.states():
            wallboard.set_agent(st.to_json())
    if bridge.sessions is None:
        return
    start, end = today_bounds(wallboard.now())
    async with bridge.sessions() as s:
        rows = await s.scalars(
            select(CallRecord).where(CallRecord.queued_at >= start, CallRecord.queued_at < end)
        )
        wallboard.seed(
            QueuedCall(
                r.call_id,
                r.queue,
                r.acd_tier,
                _ts(r.queued_at),
                _ts(r.answered_at) if r.answered_at else None,
                _ts(r.ended_at) if r.ended_at else _ts(r.queued_at),
                r.agent_id,
                exited=is_exit_disposition(r.disposition),
            )
            for r in rows
        )


def _ts(v: Any) -> float:
    return float((v if v.tzinfo else v.replace(tzinfo=UTC)).timestamp())
