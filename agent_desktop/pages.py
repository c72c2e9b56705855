"""The desktop's HTML pages (login, agent desk, wallboard, campaigns; reports, quality and audit in
report_pages.py) and its one-click forms, in Vietnamese or English from the string catalogue; every
form carries the session's CSRF token."""

from __future__ import annotations

import time
from typing import Any, get_args

import aiohttp_jinja2
from aiohttp import web

from agent_desktop import sessions
from agent_desktop.actions import DesktopActions
from agent_desktop.softphone import softphone_origin
from agent_desktop.ws import SETTINGS_KEY
from campaigns.crm_lists_http import Segment, Service, Tier  # the CRM query's filters, kept in step
from core.audit import Audit
from core.errors import TongdaiError
from core.http import CONTENT_SECURITY_POLICY, error_body
from core.identity import SUPERVISOR_ROLES
from core.login_guard import LoginGuard
from core.passwords import LoginBusy, PasswordChecker
from core.secrets_policy import demo_password

TEXT_KEY = web.AppKey("text", dict)  # the string catalogue: language -> key -> text
ACTIONS_KEY = web.AppKey("desktop_actions", DesktopActions)
LOGIN_GUARD_KEY = web.AppKey("login_guard", LoginGuard)
PASSWORDS_KEY = web.AppKey("passwords", PasswordChecker)
LOGIN_AUDIT_KEY: web.AppKey[Audit] = web.AppKey("login_audit")


def _lang(request: web.Request) -> str:
    q = request.query.get("lang")
    if q and q in request.app[TEXT_KEY]:
        return q
    return request.app[SETTINGS_KEY].web.language


def _text(request: web.Request, lang: str) -> dict[str, Any]:
    t: dict[str, Any] = request.app[TEXT_KEY][lang]
    return t


async def login_page(request: web.Request) -> web.StreamResponse:
    lang = _lang(request)
    ctx = {"t": _text(request, lang), "lang": lang, "csrf": await sessions.csrf_token(request), "error": ""}
    return aiohttp_jinja2.render_template("login.html", request, ctx)


async def _login_refused(request: web.Request, key: str, status: int, **fmt: Any) -> web.StreamResponse:
    lang = _lang(request)
    t = _text(request, lang)
    ctx = {"t": t, "lang": lang, "csrf": await sessions.csrf_token(request), "error": t[key].format(**fmt)}
    response = aiohttp_jinja2.render_template("login.html", request, ctx, status=status)
    if "seconds" in fmt:
        response.headers["Retry-After"] = str(fmt["seconds"])
    return response


async def login_submit(request: web.Request) -> web.StreamResponse:
    """Log in: throttled per agent id and per address (core/login_guard.py), the password checked off
    the event loop (core/passwords.py), the same work for an unknown id; lockouts are audited."""
    form = await request.post()
    try:
        sessions.check_login_csrf(request, form)
    except TongdaiError as err:
        raise web.HTTPForbidden(text=str(err)) from err
    settings = request.app[sessions.SESSIONS_KEY].settings  # the current config's agents
    guard, checker = request.app[LOGIN_GUARD_KEY], request.app[PASSWORDS_KEY]
    agent_id, address = str(form.get("agent", ""))[:64], request.remote or ""
    now = time.monotonic()
    verdict = guard.check(agent_id, address, now)
    if not verdict.allowed:
        return await _login_refused(request, "login_locked", 429, seconds=int(verdict.retry_after) + 1)
    agent = settings.agent(agent_id)
    hashed = agent.password_hash.get_secret_value() if agent is not None else None
    try:
        ok = await checker.check(str(form.get("password", "")), hashed)
    except LoginBusy:
        return await _login_refused(request, "login_busy", 503, seconds=2)
    if agent is None or not ok:
        for key in guard.failed(agent_id, address, now):
            kind, _, who = key.partition(":")
            await request.app[LOGIN_AUDIT_KEY]("system", "auth.lockout", kind, who)
        return await _login_refused(request, "bad_login", 401)
    guard.succeeded(agent_id, now)
    if not settings.demo and demo_password(str(form.get("password", "")), agent.id):
        # The right password, but a demo one (perhaps re-hashed): anyone who read the README knows it.
        await request.app[LOGIN_AUDIT_KEY]("system", "auth.demo_password", "agent", agent.id)
        return await _login_refused(request, "login_demo_password", 403)
    response = web.Response(status=302, headers={"Location": "/"})
    await sessions.start(request, response, agent.id)
    return response


async def logout(request: web.Request) -> web.StreamResponse:
    """Revoke this session (a copied cookie is refused from now on) and clear the cookie."""
    form = await request.post()
    try:
        await sessions.check_form_csrf(request, form)
    except TongdaiError as err:
        raise web.HTTPForbidden(text=str(err)) from err
    response = web.Response(status=302, headers={"Location": "/login"})
    await sessions.end(request, response)
    return response


async def logout_everywhere(request: web.Request) -> web.StreamResponse:
    """Revoke every session of the logged-in agent (every browser, every node) and audit it."""
    form = await request.post()
    try:
        await sessions.check_form_csrf(request, form)
    except TongdaiError as err:
        raise web.HTTPForbidden(text=str(err)) from err
    who = await sessions.current_agent(request)
    assert who is not None  # check_form_csrf passed: there is a session
    revoked = await request.app[sessions.SESSIONS_KEY].end_agent(who.agent_id)
    await request.app[LOGIN_AUDIT_KEY](
        who.agent_id, "auth.revoke_all", "agent", who.agent_id, f"{revoked} sessions"
    )
    response = web.Response(status=302, headers={"Location": "/login"})
    await sessions.end(request, response)
    return response


async def page_ctx(request: web.Request, agent_id: str, role: str) -> dict[str, Any]:
    settings = request.app[sessions.SESSIONS_KEY].settings
    acts = request.app.get(ACTIONS_KEY)
    agent = settings.agent(agent_id)
    lang = _lang(request)
    return {
        "t": _text(request, lang),
        "lang": lang,
        "agent_id": agent_id,
        "agent_name": agent.name if agent else agent_id,
        "role": role,
        "csrf": await sessions.csrf_token(request),
        "dispositions": settings.desktop.dispositions,
        "pause_reasons": acts.pause_reasons() if acts else [],
        "queues": settings.queues,
        "agents": settings.agents,
        "state_service": bool(acts and acts.agent_states_available()),
        "state_result": request.query.get("state", ""),
        # The page carries a softphone (agent_desktop/softphone.py) for a "phone: webrtc" agent: its
        # WebSocket's origin is the one the page may connect to beside its own.
        "softphone": softphone_origin(settings, agent),
        # Who reads the audit trail (agent_desktop/report_pages.py): supervisors, data-protection officers.
        "audit_viewer": role in SUPERVISOR_ROLES or agent_id in settings.reports.audit_viewers,
    }


async def desktop(request: web.Request) -> web.StreamResponse:
    who = await sessions.current_agent(request)
    if who is None:
        raise web.HTTPFound("/login")
    ctx = await page_ctx(request, who.agent_id, who.role)
    response = aiohttp_jinja2.render_template("agent.html", request, ctx)
    if ctx["softphone"]:
        response.headers["Content-Security-Policy"] = CONTENT_SECURITY_POLICY.replace(
            "connect-src 'self'", f"connect-src 'self' {ctx['softphone']}"
        )
    return response


async def wallboard_page(request: web.Request) -> web.StreamResponse:
    who = await sessions.current_agent(request)
    if who is None:
        raise web.HTTPFound("/login")
    if not who.supervisor:
        raise web.HTTPForbidden(text="supervisors only")
    settings = request.app[sessions.SESSIONS_KEY].settings
    ctx = await page_ctx(request, who.agent_id, who.role)
    t = ctx["t"]
    tiers = ", ".join(f"{x.name} {x.target_seconds:g} {t['seconds']}" for x in settings.acd.tiers)
    # The service level's definition and targets, stated on the page itself.
    ctx["def_sl"] = str(t["def_sl"]).format(queue=f"{settings.desktop.queue_sl_seconds:g}", tiers=tiers)
    return aiohttp_jinja2.render_template("wallboard.html", request, ctx)


async def campaigns_page(request: web.Request) -> web.StreamResponse:
    """The supervisors' outbound campaigns (campaigns/http.py's API does the work, audited there)."""
    who = await sessions.current_agent(request)
    if who is None:
        raise web.HTTPFound("/login")
    if not who.supervisor:
        raise web.HTTPForbidden(text="supervisors only")
    ctx = await page_ctx(request, who.agent_id, who.role)
    ctx["crm"] = {"tiers": get_args(Tier), "services": get_args(Service), "segments": get_args(Segment)}
    return aiohttp_jinja2.render_template("campaigns.html", request, ctx)


async def form_state(request: web.Request) -> web.StreamResponse:
    """The one-click state form (no JS needed): back to the desk with the outcome in ``?state=``."""
    who = await sessions.current_agent(request)
    if who is None:
        raise web.HTTPUnauthorized(text="log in first")
    form = await request.post()
    try:
        await sessions.check_csrf(request, request.headers.get("X-CSRF-Token") or str(form.get("csrf", "")))
    except TongdaiError as err:
        raise web.HTTPForbidden(text=str(err)) from err
    lang = request.query.get("lang", "")
    try:
        await request.app[ACTIONS_KEY].set_state(who, str(form.get("state", "")), str(form.get("reason", "")))
        msg = "ok"
    except (TongdaiError, ValueError) as err:
        msg = error_body(err)["code"]
    raise web.HTTPSeeOther(f"/?state={msg}" + (f"&lang={lang}" if lang in request.app[TEXT_KEY] else ""))


def add_pages(app: web.Application) -> None:
    app.router.add_get("/login", login_page)
    app.router.add_post("/login", login_submit)
    app.router.add_post("/logout", logout)
    app.router.add_post("/logout/all", logout_everywhere)
    app.router.add_get("/", desktop)
    app.router.add_get("/wallboard", wallboard_page)
    app.router.add_get("/campaigns", campaigns_page)
    from agent_desktop.report_pages import add_report_pages  # they build on page_ctx above

    add_report_pages(app)


def add_forms(app: web.Application) -> None:
    app.router.add_post("/agent/state", form_state)
