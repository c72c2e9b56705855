"""The desktop softphone's credentials (docs/softphone.md): the agent never types or sees a SIP
password. ``POST /api/softphone/credentials`` (a logged-in ``phone: webrtc`` agent, CSRF-checked)
makes a fresh random password, puts it in Asterisk's memory as the agent's PJSIP auth over ARI and
answers it with the WebSocket URL and SIP URI. The password lives as long as the desktop session
that asked for it: a logout, a revoked or expired session, or another login of the same agent
replaces or deletes it, so a copied cookie or password is useless once the session has ended.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import secrets
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import TYPE_CHECKING, Any, Protocol

from aiohttp import web

from agent_desktop import sessions
from core.ari import AriClient
from core.errors import Conflict, NotFound
from core.http import Access, Args, Call, Route, add_routes

if TYPE_CHECKING:
    from core.config import AgentConfig
    from tongdai.settings import Settings

log = logging.getLogger(__name__)

__all__ = [
    "LINKEDID_HEADER",
    "SoftphoneCredentials",
    "SoftphoneNotConfigured",
    "add_softphone",
    "softphone_origin",
]

LINKEDID_HEADER = "X-Tongdai-Linkedid"  # set on the agent's INVITE by the dialplan (tongdai-predial)
SWEEP_SECONDS = 30.0  # how often passwords of sessions that expired (no logout) are withdrawn


class SoftphoneNotConfigured(NotFound):
    error_id = "softphone.not_configured"


class SoftphoneTaken(Conflict):
    error_id = "softphone.taken"


class CredentialsArgs(Args):
    # The page's retry after Asterisk refused its registration. A first fetch (a page load: the
    # agent chose this window) takes the account; a renewal does not take it back from the login
    # that took it, else two open desktops would steal it from each other at every refresh.
    renew: bool = False


class AuthStore(Protocol):
    """Where Asterisk's PJSIP auth objects can be written (core.ari.AriClient)."""

    async def put_object(
        self, config_class: str, object_type: str, object_id: str, fields: dict[str, str]
    ) -> None: ...

    async def delete_object(self, config_class: str, object_type: str, object_id: str) -> bool: ...


def softphone_origin(settings: Settings, agent: AgentConfig | None) -> str:
    """The WebSocket origin (``wss://host:port``) of ``agent``'s softphone, or "" if it has none."""
    w = settings.asterisk.webrtc
    if agent is None or agent.phone != "webrtc" or w is None:
        return ""
    return w.url.removesuffix("/ws")


def auth_id(agent_id: str) -> str:
    return f"{agent_id}-webrtc"  # the endpoint's "auth =" in pjsip.conf


class SoftphoneCredentials:
    """Issues and withdraws the per-session passwords. ``alive`` says whether a session (by its
    store key) is still valid. Which session holds an agent's password is known to this node only:
    a restarted node withdraws every softphone password first (:meth:`withdraw_all`), and the open
    desktops fetch new ones when their next registration refresh is refused."""

    def __init__(
        self, store: AuthStore, settings: Callable[[], Settings], alive: Callable[[str], Awaitable[bool]]
    ) -> None:
        self._store = store
        self._settings = settings
        self._alive = alive
        self._holder: dict[str, str] = {}  # agent id -> session key of the password in Asterisk
        self._lock = asyncio.Lock()

    async def issue(self, agent_id: str, session_key: str, renew: bool = False) -> dict[str, Any]:
        s = self._settings()
        agent = s.agent(agent_id)
        w = s.asterisk.webrtc
        if agent is None or agent.phone != "webrtc" or w is None:
            raise SoftphoneNotConfigured(f"agent {agent_id} has no desktop softphone (phone: webrtc)")
        password = secrets.token_urlsafe(24)
        async with self._lock:
            holder = self._holder.get(agent_id)
            if renew and holder is not None and holder != session_key:
                raise SoftphoneTaken(f"agent {agent_id}'s softphone is registered from another login")
            fields = {"auth_type": "userpass", "username": agent_id, "password": password}
            await self._store.put_object("res_pjsip", "auth", auth_id(agent_id), fields)
            self._holder[agent_id] = session_key
        log.info("softphone password issued for agent %s", agent_id)
        return {
            "ws_url": w.url,
            "uri": f"sip:{agent_id}@{w.domain}",
            "username": agent_id,
            "password": password,
            "display_name": agent.name,
            "registration_seconds": w.max_registration_seconds,
            "linkedid_header": LINKEDID_HEADER,
        }

    async def _withdraw(self, agent_id: str) -> None:
        self._holder.pop(agent_id, None)
        await self._store.delete_object("res_pjsip", "auth", auth_id(agent_id))
        log.info("softphone password withdrawn for agent %s", agent_id)

    async def revoked(self, keys: list[str]) -> None:
        """Sessions ended (logout, log out everywhere, revoked): their passwords go with them."""
        gone = set(keys)
        async with self._lock:
            for agent_id in [a for a, k in self._holder.items() if k in gone]:
                await self._withdraw(agent_id)

    async def sweep(self) -> None:
        """Withdraw the passwords of sessions that ended without a logout (idle, lifetime, agent removed)."""
        async with self._lock:
            for agent_id, key in list(self._holder.items()):
                if not await self._alive(key):
                    await self._withdraw(agent_id)

    async def withdraw_all(self) -> None:
        async with self._lock:
            for a in self._settings().agents:
                if a.phone == "webrtc":
                    await self._withdraw(a.id)


CREDS_KEY = web.AppKey("softphone_credentials", SoftphoneCredentials)


async def _credentials(c: Call[Any]) -> Any:
    assert c.request is not None  # HTTP only: the password is tied to this request's session
    active = await sessions.current_session(c.request)
    assert active is not None  # the route's authentication found it
    return await c.request.app[CREDS_KEY].issue(c.who.agent_id, active.key, renew=c.args.renew)


def add_softphone(app: web.Application, settings: Settings, web_sessions: sessions.WebSessions) -> None:
    """The credentials route and the passwords' lifecycle, when Asterisk serves softphones."""
    w = settings.asterisk.webrtc
    if w is None:
        return
    ari = AriClient(f"http://127.0.0.1:{w.ari_port}", w.ari_username, w.ari_secret.get_secret_value())

    async def alive(key: str) -> bool:
        return await web_sessions.check_key(key) is not None

    creds = app[CREDS_KEY] = SoftphoneCredentials(ari, lambda: web_sessions.settings, alive)
    web_sessions.on_revoke(creds.revoked)
    route = Route(
        "POST",
        "/api/softphone/credentials",
        "The softphone's SIP account for this session (a fresh password; the previous one stops working)",
        _credentials,
        args=CredentialsArgs,
        access=Access.PEOPLE,
        errors=(404, 409, 503),
        tag="softphone",
    )
    add_routes(app, [route])

    async def lifecycle(app: web.Application) -> AsyncIterator[None]:
        try:
            await creds.withdraw_all()
        except Exception:  # Asterisk may start later: the sweep and the next login retry
            log.warning("softphone: could not withdraw earlier passwords (ARI unreachable?)", exc_info=True)
        task = asyncio.create_task(_sweeper(creds), name="softphone-sweep")
        yield
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
        await ari.close()

    app.cleanup_ctx.append(lifecycle)


async def _sweeper(creds: SoftphoneCredentials) -> None:
    while True:
        await asyncio.sleep(SWEEP_SECONDS)
        try:
            await creds.sweep()
        except Exception:
            log.warning("softphone: sweep failed", exc_info=True)
