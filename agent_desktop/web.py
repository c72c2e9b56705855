"""The desktop's HTTP and websocket edge (thin: rules live in the hub and the packages).

Security: scrypt-hashed passwords, an encrypted session cookie (HttpOnly, SameSite=Strict, Secure
behind HTTPS), a CSRF token on every form, the websocket's Origin checked against the configured
origins, and each socket bound to the logged-in agent so agent A never receives agent B's pop.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import secrets
from pathlib import Path
from typing import TYPE_CHECKING, Any

import aiohttp_jinja2
import jinja2
from aiohttp import WSMsgType, web
from aiohttp_session import get_session, new_session
from aiohttp_session import setup as setup_session
from aiohttp_session.cookie_storage import EncryptedCookieStorage

from agent_desktop.actions import BridgeView, DesktopActions, Who
from agent_desktop.api import ACTIONS_KEY, WALLBOARD_KEY, add_api_routes, ws_command
from agent_desktop.hub import PopHub
from agent_desktop.i18n import CATALOGUE
from agent_desktop.wallboard import QueuedCall, Wallboard
from core.passwords import verify_password

if TYPE_CHECKING:  # the complete model is the composition root's; typing only, no import cycle
    from tongdai.settings import Settings

log = logging.getLogger(__name__)

HERE = Path(__file__).parent
SETTINGS_KEY: web.AppKey[Settings] = web.AppKey("settings")
HUB_KEY = web.AppKey("hub", PopHub)

# The strings live in agent_desktop/locales/<lang>.json, one catalogue for the pages and their JS.
TEXT: dict[str, dict[str, Any]] = CATALOGUE


def _cookie_key(settings: Settings) -> bytes:
    secret = settings.web.session_secret.get_secret_value().encode()
    # Raw 32 bytes: the storage base64-encodes them into a Fernet key itself.
    return hashlib.sha256(b"tongdai-session\0" + secret).digest()


async def _csrf_token(request: web.Request) -> str:
    session = await get_session(request)
    token = session.get("csrf")
    if not token:
        token = session["csrf"] = secrets.token_urlsafe(32)
    return str(token)


async def check_csrf(request: web.Request, form: Any) -> None:
    session = await get_session(request)
    want = session.get("csrf") or ""
    got = form.get("csrf", "") if form is not None else ""
    if not want or not hmac.compare_digest(str(want), str(got)):
        raise web.HTTPForbidden(text="CSRF token missing or wrong")


async def current_agent(request: web.Request) -> tuple[str, str] | None:
    session = await get_session(request)
    agent, role = session.get("agent"), session.get("role")
    if not agent or not role:
        return None
    return str(agent), str(role)


def _lang(request: web.Request) -> str:
    q = request.query.get("lang")
    if q in TEXT:
        return q
    return request.app[SETTINGS_KEY].web.language


@aiohttp_jinja2.template("login.html")
async def login_page(request: web.Request) -> dict[str, Any]:
    lang = _lang(request)
    return {"t": TEXT[lang], "lang": lang, "csrf": await _csrf_token(request), "error": ""}


async def login_submit(request: web.Request) -> web.StreamResponse:
    form = await request.post()
    await check_csrf(request, form)
    settings = request.app[SETTINGS_KEY]
    agent = settings.agent(str(form.get("agent", "")))
    password = str(form.get("password", ""))
    if agent is None or not verify_password(password, agent.password_hash.get_secret_value()):
        lang = _lang(request)
        ctx = {
            "t": TEXT[lang],
            "lang": lang,
            "csrf": await _csrf_token(request),
            "error": TEXT[lang]["bad_login"],
        }
        return aiohttp_jinja2.render_template("login.html", request, ctx, status=401)
    session = await new_session(request)  # fresh session: no fixation
    session["agent"], session["role"] = agent.id, agent.role
    session["csrf"] = secrets.token_urlsafe(32)
    raise web.HTTPFound("/")


async def logout(request: web.Request) -> web.StreamResponse:
    form = await request.post()
    await check_csrf(request, form)
    session = await get_session(request)
    session.invalidate()
    raise web.HTTPFound("/login")


async def desktop(request: web.Request) -> web.StreamResponse:
    who = await current_agent(request)
    if who is None:
        raise web.HTTPFound("/login")
    settings = request.app[SETTINGS_KEY]
    agent = settings.agent(who[0])
    lang = _lang(request)
    ctx = {
        "t": TEXT[lang],
        "lang": lang,
        "agent_id": who[0],
        "agent_name": agent.name if agent else who[0],
        "role": who[1],
        "csrf": await _csrf_token(request),
        **_desk_ctx(request),
    }
    return aiohttp_jinja2.render_template("agent.html", request, ctx)


def _desk_ctx(request: web.Request) -> dict[str, Any]:
    settings = request.app[SETTINGS_KEY]
    acts = request.app.get(ACTIONS_KEY)
    return {
        "dispositions": settings.desktop.dispositions,
        "pause_reasons": acts.pause_reasons() if acts else [],
        "queues": settings.queues,
        "agents": settings.agents,
        "state_service": bool(acts and acts.agent_states_available()),
        "state_result": request.query.get("state", ""),
    }


async def wallboard_page(request: web.Request) -> web.StreamResponse:
    who = await current_agent(request)
    if who is None:
        raise web.HTTPFound("/login")
    if who[1] not in ("supervisor", "admin"):
        raise web.HTTPForbidden(text="supervisors only")
    settings = request.app[SETTINGS_KEY]
    agent = settings.agent(who[0])
    lang = _lang(request)
    t = TEXT[lang]
    tiers = ", ".join(f"{x.name} {x.target_seconds:g} {t['seconds']}" for x in settings.acd.tiers)
    ctx = {
        "t": t,
        "lang": lang,
        "agent_id": who[0],
        "agent_name": agent.name if agent else who[0],
        "role": who[1],
        "csrf": await _csrf_token(request),
        # The service level's definition and targets, stated on the page itself.
        "def_sl": str(t["def_sl"]).format(queue=f"{settings.desktop.queue_sl_seconds:g}", tiers=tiers),
        **_desk_ctx(request),
    }
    return aiohttp_jinja2.render_template("wallboard.html", request, ctx)


async def websocket(request: web.Request) -> web.StreamResponse:
    settings = request.app[SETTINGS_KEY]
    origin = request.headers.get("Origin", "")
    if origin not in settings.web.allowed_origins:
        log.warning("websocket from foreign origin %r refused", origin)
        raise web.HTTPForbidden(text="origin not allowed")
    who = await current_agent(request)
    if who is None:
        raise web.HTTPUnauthorized(text="log in first")
    ws = web.WebSocketResponse(heartbeat=20)
    await ws.prepare(request)
    await ws.send_json({"type": "hello", "agent_id": who[0], "role": who[1]})
    wallboard = request.app.get(WALLBOARD_KEY)
    if wallboard is not None and who[1] in ("supervisor", "admin"):
        await ws.send_json(wallboard.snapshot())
    disconnect = await request.app[HUB_KEY].connect(who[0], who[1], ws)
    try:
        async for msg in ws:
            if msg.type == WSMsgType.TEXT and msg.data == "ping":
                await ws.send_str('{"type":"pong"}')
            elif msg.type == WSMsgType.TEXT and ACTIONS_KEY in request.app:
                # Commands {id, type, ...}; each answered by {id, type: "result", success, ...}.
                try:
                    cmd = json.loads(msg.data)
                except ValueError:
                    cmd = None
                if not isinstance(cmd, dict):
                    await ws.send_json(
                        {
                            "type": "result",
                            "success": False,
                            "error": {"code": "desktop.bad_request", "message": "not a JSON object"},
                        }
                    )
                    continue
                reply = await ws_command(request.app, Who(who[0], who[1]), cmd)
                await ws.send_str(json.dumps(reply, ensure_ascii=False, default=str))
            elif msg.type == WSMsgType.ERROR:
                break
    finally:
        disconnect()
    return ws


async def health(request: web.Request) -> web.Response:
    return web.json_response({"status": "ok", "agents_connected": request.app[HUB_KEY].connected_agents()})


def make_web_app(settings: Settings, hub: PopHub, bridge: BridgeView | None = None) -> web.Application:
    """The desktop app. With ``bridge`` (the running Bridge) it also serves the wallboard, the JSON API
    and websocket commands; without it only login and the screen pop."""
    app = web.Application()
    app[SETTINGS_KEY] = settings
    app[HUB_KEY] = hub
    if bridge is not None:
        _add_desk(app, settings, hub, bridge)
    storage = EncryptedCookieStorage(
        _cookie_key(settings),
        cookie_name="tongdai_session",
        httponly=True,
        secure=settings.web.secure_cookies,
        samesite="Strict",
        max_age=12 * 3600,
    )
    setup_session(app, storage)
    aiohttp_jinja2.setup(app, loader=jinja2.FileSystemLoader(str(HERE / "templates")), autoescape=True)
    app.router.add_get("/login", login_page)
    app.router.add_post("/login", login_submit)
    app.router.add_post("/logout", logout)
    app.router.add_get("/", desktop)
    app.router.add_get("/ws", websocket)
    app.router.add_get("/wallboard", wallboard_page)
    app.router.add_get("/healthz", health)
    app.router.add_static("/static/", HERE / "static")

    async def close_sockets(app: web.Application) -> None:
        await hub.close_sockets()

    async def finish_pops(app: web.Application) -> None:
        await hub.close()

    app.on_shutdown.append(close_sockets)
    app.on_cleanup.append(finish_pops)
    return app


def _add_desk(app: web.Application, settings: Settings, hub: PopHub, bridge: BridgeView) -> None:
    app[ACTIONS_KEY] = DesktopActions(bridge)
    wallboard = Wallboard(
        hub.send_supervisors,
        queues={q.name: q.label or q.name for q in settings.queues},
        agents={a.id: a.name for a in settings.agents},
        queue_sl=settings.desktop.queue_sl_seconds,
        tier_sl={t.name: t.target_seconds for t in settings.acd.tiers},
        coalesce=settings.desktop.wallboard_coalesce,
    )
    app[WALLBOARD_KEY] = wallboard
    wallboard.attach(bridge.bus)
    add_api_routes(app)

    async def seed(app: web.Application) -> None:
        from sqlalchemy import select

        from agent_desktop.wallboard import today_bounds
        from core.models import CallRecord

        agents = getattr(bridge, "agents", None)
        if agents is not None:
            for st in await agents.states():
                wallboard.set_agent(st.to_json())
        if bridge.sessions is None:
            return
        start, end = today_bounds()
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
                )
                for r in rows
            )

    async def close(app: web.Application) -> None:
        wallboard.close()

    app.on_startup.append(seed)
    app.on_cleanup.append(close)


def _ts(v: Any) -> float:
    from datetime import UTC

    return float((v if v.tzinfo else v.replace(tzinfo=UTC)).timestamp())
