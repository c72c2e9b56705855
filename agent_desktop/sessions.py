"""The desktop's session: an encrypted cookie (HttpOnly, SameSite=Strict, Secure behind HTTPS)
holding the agent, the role and the CSRF token that every state-changing request must echo."""

from __future__ import annotations

import hashlib
import hmac
import secrets
from typing import TYPE_CHECKING, Any

from aiohttp import web
from aiohttp_session import get_session, new_session
from aiohttp_session import setup as setup_session
from aiohttp_session.cookie_storage import EncryptedCookieStorage

from core.http import CsrfRejected
from core.identity import Who

if TYPE_CHECKING:  # the complete model is the composition root's; typing only, no import cycle
    from tongdai.settings import Settings


COOKIE = "tongdai_session"
LIFETIME = 12 * 3600


def _cookie_key(settings: Settings) -> bytes:
    secret = settings.web.session_secret.get_secret_value().encode()
    # Raw 32 bytes: the storage base64-encodes them into a Fernet key itself.
    return hashlib.sha256(b"tongdai-session\0" + secret).digest()


def setup_sessions(app: web.Application, settings: Settings) -> None:
    storage = EncryptedCookieStorage(
        _cookie_key(settings),
        cookie_name=COOKIE,
        httponly=True,
        secure=settings.web.secure_cookies,
        samesite="Strict",
        max_age=LIFETIME,
    )
    setup_session(app, storage)


async def csrf_token(request: web.Request) -> str:
    """The session's CSRF token, made on first use (the login page has one before any login)."""
    session = await get_session(request)
    token = session.get("csrf")
    if not token:
        token = session["csrf"] = secrets.token_urlsafe(32)
    return str(token)


async def check_csrf(request: web.Request, given: str) -> None:
    session = await get_session(request)
    want = str(session.get("csrf") or "")
    if not want or not hmac.compare_digest(want, given):
        raise CsrfRejected("CSRF token missing or wrong")


async def check_form_csrf(request: web.Request, form: Any) -> None:
    await check_csrf(request, str(form.get("csrf", "")) if form is not None else "")


async def current_agent(request: web.Request) -> Who | None:
    session = await get_session(request)
    agent, role = session.get("agent"), session.get("role")
    if not agent or not role:
        return None
    return Who(str(agent), str(role))


async def start(request: web.Request, agent_id: str, role: str) -> None:
    """A fresh session for a logged-in agent (never the pre-login one: no fixation)."""
    session = await new_session(request)
    session["agent"], session["role"] = agent_id, role
    session["csrf"] = secrets.token_urlsafe(32)


async def end(request: web.Request) -> None:
    (await get_session(request)).invalidate()
