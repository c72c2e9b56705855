"""The desktop's sessions, held on the server.

The cookie (HttpOnly, SameSite=Strict, Secure behind HTTPS) carries only an opaque random session id.
The record it names — agent, CSRF token, created, last seen — is kept in Redis when Redis is
configured (shared by every node), else in the database (``desktop_sessions``), under the sha256 of
the id, so reading the store yields no usable cookie. So a session can be revoked (logout, "log out
everywhere"), ends after ``web.session_idle_minutes`` without activity and ``web.session_lifetime_hours``
after login, and the agent's role is read from the current config on every request, never from the
cookie: a demoted supervisor is an agent on their next request, a deleted agent is logged out.

Before login the login form's CSRF token is a double-submit: a random nonce in its own cookie and,
in the form, its HMAC under the session secret (nothing is stored for anonymous visitors).
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import secrets
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, Protocol

from aiohttp import web
from sqlalchemy import delete, select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from agent_desktop.models import DesktopSession
from core.db import unit_of_work
from core.http import CsrfRejected
from core.identity import Who

if TYPE_CHECKING:  # the complete model is the composition root's; typing only, no import cycle
    from redis.asyncio import Redis

    from tongdai.settings import Settings

log = logging.getLogger(__name__)

COOKIE = "tongdai_session"
LOGIN_COOKIE = "tongdai_login"
# A session's last-seen time is written at most this often (seconds): one write per burst of requests.
TOUCH_EVERY = 10.0
_PURGE_EVERY = 600.0


@dataclass(frozen=True)
class SessionRecord:
    agent_id: str
    csrf: str
    created: float  # epoch seconds
    last_seen: float


@dataclass(frozen=True)
class ActiveSession:
    """A valid session of an agent who still exists, with the role of the current config."""

    key: str  # the store's key (sha256 of the cookie's id), never the id itself
    who: Who
    csrf: str


class SessionStore(Protocol):
    async def put(self, key: str, rec: SessionRecord, ttl: float) -> None: ...
    async def get(self, key: str) -> SessionRecord | None: ...
    async def touch(self, key: str, last_seen: float) -> None: ...
    async def delete(self, key: str) -> None: ...
    async def delete_agent(self, agent_id: str) -> list[str]: ...
    async def purge(self, idle_before: float, created_before: float) -> None: ...


def _key(sid: str) -> str:
    return hashlib.sha256(sid.encode()).hexdigest()


def _text(v: bytes | str) -> str:
    return v.decode() if isinstance(v, bytes) else v


class RedisSessionStore:
    """One hash per session (expiring at the absolute lifetime) and a set of each agent's sessions,
    under the deployment's namespace (``redis.channel``: the nodes that share events share sessions)."""

    def __init__(self, redis: Redis, namespace: str = "tongdai") -> None:
        self._r = redis
        self._prefix = f"{namespace}:session:"
        self._of_agent = f"{namespace}:sessions-of:"

    async def put(self, key: str, rec: SessionRecord, ttl: float) -> None:
        fields: dict[bytes | bytearray | memoryview[int] | str | int | float, Any] = {
            "agent": rec.agent_id,
            "csrf": rec.csrf,
            "created": repr(rec.created),
            "seen": repr(rec.last_seen),
        }
        ms = max(int(ttl * 1000), 1)
        async with self._r.pipeline(transaction=True) as p:
            p.hset(self._prefix + key, mapping=fields)
            p.pexpire(self._prefix + key, ms)
            p.sadd(self._of_agent + rec.agent_id, key)
            p.pexpire(self._of_agent + rec.agent_id, ms)
            await p.execute()

    async def get(self, key: str) -> SessionRecord | None:
        raw = {_text(k): _text(v) for k, v in (await self._r.hgetall(self._prefix + key)).items()}
        if "agent" not in raw:
            return None
        return SessionRecord(raw["agent"], raw["csrf"], float(raw["created"]), float(raw["seen"]))

    async def touch(self, key: str, last_seen: float) -> None:
        # XX semantics by hand: never resurrect a session deleted meanwhile as a bare "seen" hash.
        if await self._r.exists(self._prefix + key):
            await self._r.hset(self._prefix + key, "seen", repr(last_seen))

    async def delete(self, key: str) -> None:
        agent = await self._r.hget(self._prefix + key, "agent")
        await self._r.delete(self._prefix + key)
        if agent:
            await self._r.srem(self._of_agent + _text(agent), key)

    async def delete_agent(self, agent_id: str) -> list[str]:
        keys = [_text(k) for k in await self._r.smembers(self._of_agent + agent_id)]
        if keys:
            await self._r.delete(*(self._prefix + k for k in keys))
        await self._r.delete(self._of_agent + agent_id)
        return keys

    async def purge(self, idle_before: float, created_before: float) -> None:
        """Nothing to do: each record expires at its lifetime; an idle one is refused when read."""


def _dt(ts: float) -> datetime:
    return datetime.fromtimestamp(ts, UTC)


def _ts(v: datetime) -> float:
    return (v if v.tzinfo else v.replace(tzinfo=UTC)).timestamp()


class DbSessionStore:
    """``desktop_sessions`` rows, for a node without Redis."""

    def __init__(self, sessions: async_sessionmaker[AsyncSession]) -> None:
        self._sessions = sessions

    async def put(self, key: str, rec: SessionRecord, ttl: float) -> None:
        async with unit_of_work(self._sessions) as s:
            s.add(
                DesktopSession(
                    key=key,
                    agent_id=rec.agent_id,
                    csrf=rec.csrf,
                    created_at=_dt(rec.created),
                    last_seen=_dt(rec.last_seen),
                )
            )

    async def get(self, key: str) -> SessionRecord | None:
        async with self._sessions() as s:
            row = await s.get(DesktopSession, key)
        if row is None:
            return None
        return SessionRecord(row.agent_id, row.csrf, _ts(row.created_at), _ts(row.last_seen))

    async def touch(self, key: str, last_seen: float) -> None:
        async with unit_of_work(self._sessions) as s:
            await s.execute(
                update(DesktopSession).where(DesktopSession.key == key).values(last_seen=_dt(last_seen))
            )

    async def delete(self, key: str) -> None:
        async with unit_of_work(self._sessions) as s:
            await s.execute(delete(DesktopSession).where(DesktopSession.key == key))

    async def delete_agent(self, agent_id: str) -> list[str]:
        async with unit_of_work(self._sessions) as s:
            keys = list(
                await s.scalars(select(DesktopSession.key).where(DesktopSession.agent_id == agent_id))
            )
            await s.execute(delete(DesktopSession).where(DesktopSession.agent_id == agent_id))
        return keys

    async def purge(self, idle_before: float, created_before: float) -> None:
        async with unit_of_work(self._sessions) as s:
            await s.execute(
                delete(DesktopSession).where(
                    (DesktopSession.last_seen < _dt(idle_before))
                    | (DesktopSession.created_at < _dt(created_before))
                )
            )


# Called with the store keys of sessions just revoked (the websocket closes their sockets).
RevokeListener = Callable[[list[str]], Awaitable[None]]


class WebSessions:
    """Creates, checks and revokes sessions. ``settings`` is read on every check (the current config:
    agents and roles, timeouts); ``clock`` is injectable so tests move time instead of sleeping."""

    def __init__(
        self,
        store: SessionStore,
        settings: Callable[[], Settings],
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.store = store
        self._settings = settings
        self.clock = clock
        self._listeners: list[RevokeListener] = []
        self._last_purge = 0.0

    @property
    def settings(self) -> Settings:
        return self._settings()

    def _limits(self) -> tuple[float, float]:
        web_cfg = self.settings.web
        return web_cfg.session_idle_minutes * 60, web_cfg.session_lifetime_hours * 3600

    def on_revoke(self, listener: RevokeListener) -> None:
        self._listeners.append(listener)

    async def start(self, agent_id: str) -> str:
        """A new session for ``agent_id``; returns the cookie's value (the only copy of the id)."""
        now = self.clock()
        idle, lifetime = self._limits()
        if now - self._last_purge > _PURGE_EVERY:
            self._last_purge = now
            await self.store.purge(now - idle, now - lifetime)
        sid = secrets.token_urlsafe(32)
        await self.store.put(
            _key(sid), SessionRecord(agent_id, secrets.token_urlsafe(32), now, now), lifetime
        )
        return sid

    async def check(self, sid: str) -> ActiveSession | None:
        return await self.check_key(_key(sid)) if sid else None

    async def check_key(self, key: str) -> ActiveSession | None:
        rec = await self.store.get(key)
        if rec is None:
            return None
        now = self.clock()
        idle, lifetime = self._limits()
        if now - rec.created > lifetime or now - rec.last_seen > idle:
            await self.store.delete(key)
            return None
        agent = self.settings.agent(rec.agent_id)
        if agent is None:  # removed from the config: no session survives it
            await self.store.delete(key)
            return None
        if now - rec.last_seen >= TOUCH_EVERY:
            await self.store.touch(key, now)
        return ActiveSession(key, Who(agent.id, agent.role), rec.csrf)

    async def end(self, key: str) -> None:
        await self.store.delete(key)
        await self._revoked([key])

    async def end_agent(self, agent_id: str) -> int:
        """Every session of ``agent_id`` (log out everywhere); returns how many there were."""
        keys = await self.store.delete_agent(agent_id)
        await self._revoked(keys)
        return len(keys)

    async def _revoked(self, keys: list[str]) -> None:
        for listener in self._listeners:
            try:
                await listener(keys)
            except Exception:
                log.exception("session revocation listener failed")


SESSIONS_KEY = web.AppKey("web_sessions", WebSessions)
_REQUEST_KEY: web.RequestKey[ActiveSession | None] = web.RequestKey("desktop_session")
_NEW_NONCE = web.RequestKey("desktop_login_nonce", str)


def cookie_options(settings: Settings) -> dict[str, Any]:
    return {"httponly": True, "secure": settings.web.secure_cookies, "samesite": "Strict", "path": "/"}


async def current_session(request: web.Request) -> ActiveSession | None:
    """The request's valid session, checked once per request."""
    if _REQUEST_KEY in request:
        return request[_REQUEST_KEY]
    found = await request.app[SESSIONS_KEY].check(request.cookies.get(COOKIE, ""))
    request[_REQUEST_KEY] = found
    return found


async def current_agent(request: web.Request) -> Who | None:
    active = await current_session(request)
    return active.who if active is not None else None


# --- CSRF --------------------------------------------------------------------------------------


def _login_key(settings: Settings) -> bytes:
    secret = settings.web.session_secret.get_secret_value().encode()
    return hashlib.sha256(b"tongdai-login-csrf\0" + secret).digest()


def _login_token(request: web.Request, nonce: str) -> str:
    key = _login_key(request.app[SESSIONS_KEY].settings)
    return hmac.new(key, nonce.encode(), hashlib.sha256).hexdigest()


async def csrf_token(request: web.Request) -> str:
    """The session's CSRF token; before login, the login form's (its nonce cookie set on the way out)."""
    active = await current_session(request)
    if active is not None:
        return active.csrf
    nonce = request.cookies.get(LOGIN_COOKIE, "")
    if len(nonce) < 32:
        nonce = request[_NEW_NONCE] = secrets.token_urlsafe(32)
    return _login_token(request, nonce)


@web.middleware
async def login_cookie(
    request: web.Request, handler: Callable[[web.Request], Awaitable[web.StreamResponse]]
) -> web.StreamResponse:
    """Sets the login nonce made while rendering this response, if any (the login form's CSRF)."""
    response = await handler(request)
    nonce = request.get(_NEW_NONCE)
    if nonce and not response.prepared:
        opts = cookie_options(request.app[SESSIONS_KEY].settings)
        response.set_cookie(LOGIN_COOKIE, nonce, max_age=3600, **opts)
    return response


async def check_csrf(request: web.Request, given: str) -> None:
    """A logged-in request's write: the session's own token must be echoed."""
    active = await current_session(request)
    want = active.csrf if active is not None else ""
    if not want or not given or not hmac.compare_digest(want, given):
        raise CsrfRejected("CSRF token missing or wrong")


async def check_form_csrf(request: web.Request, form: Any) -> None:
    await check_csrf(request, str(form.get("csrf", "")) if form is not None else "")


def check_login_csrf(request: web.Request, form: Any) -> None:
    """The login form's token must be the HMAC of this browser's nonce cookie."""
    nonce = request.cookies.get(LOGIN_COOKIE, "")
    given = str(form.get("csrf", "")) if form is not None else ""
    if len(nonce) < 32 or not given or not hmac.compare_digest(_login_token(request, nonce), given):
        raise CsrfRejected("CSRF token missing or wrong")


# --- login and logout --------------------------------------------------------------------------


async def start(request: web.Request, response: web.StreamResponse, agent_id: str) -> None:
    """A fresh session for a logged-in agent (a new id: no fixation), its cookie set on ``response``."""
    sessions = request.app[SESSIONS_KEY]
    sid = await sessions.start(agent_id)
    opts = cookie_options(sessions.settings)
    response.set_cookie(COOKIE, sid, max_age=int(sessions.settings.web.session_lifetime_hours * 3600), **opts)
    response.del_cookie(LOGIN_COOKIE, path="/")


async def end(request: web.Request, response: web.StreamResponse) -> None:
    """Revoke this request's session (a copied cookie is worthless after) and clear the cookie."""
    active = await current_session(request)
    if active is not None:
        await request.app[SESSIONS_KEY].end(active.key)
    request[_REQUEST_KEY] = None
    response.del_cookie(COOKIE, path="/")


def make_store(
    redis: Redis | None, db: async_sessionmaker[AsyncSession] | None, namespace: str = "tongdai"
) -> RedisSessionStore | DbSessionStore:
    """Redis when the node has it (every node sees every session), else the database."""
    if redis is not None:
        return RedisSessionStore(redis, namespace)
    if db is None:
        raise ValueError("the desktop's sessions need Redis or the database")
    return DbSessionStore(db)
