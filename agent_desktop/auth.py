"""Who calls the desktop's API: the server-held session (CSRF checked on writes) or ``Authorization:
Bearer <token>`` for an integration in ``desktop.api_tokens`` (only within its scopes).

A token's scopes are checked here, by path, for every route any package mounts: a path no scope
names is refused to tokens (deny by default), and recording audio needs ``recordings:audio`` on top
of ``recordings:read``. Tokens only read, except where a write scope names the path
(:data:`WRITE_SCOPE_OF_PATH`: the network operations team posting outage notices); a write scope
also grants its reads (``outages:write`` reads ``/api/outages``).
"""

from __future__ import annotations

import hmac
import re
from collections.abc import Callable

from aiohttp import web

from agent_desktop.config import ApiToken
from agent_desktop.sessions import check_csrf, current_agent
from core.errors import Forbidden
from core.http import API_PREFIX, BadToken, LoginRequired, ReadOnlyToken
from core.identity import INTEGRATION, Who

_FORMS = ("application/x-www-form-urlencoded", "multipart/form-data")

# First match wins: the audio before the rest of /api/recordings.
SCOPE_OF_PATH: tuple[tuple[re.Pattern[str], str], ...] = (
    (re.compile(r"^/api/recordings/[^/]+/audio$"), "recordings:audio"),
    (re.compile(r"^/api/recordings(/|$)"), "recordings:read"),
    (re.compile(r"^/api/customers(/|$)"), "customers:read"),
    (re.compile(r"^/api/(calls|dispositions)(/|$)"), "calls:read"),
    (re.compile(r"^/api/reports(/|$)"), "reports:read"),
    (re.compile(r"^/api/(queues|agents|wallboard|health)(/|$)"), "stats:read"),
    (re.compile(r"^/api/outages(/|$)"), "outages:read"),
)
# The only paths a token may write to.
WRITE_SCOPE_OF_PATH: tuple[tuple[re.Pattern[str], str], ...] = (
    (re.compile(r"^/api/outages(/|$)"), "outages:write"),
)


class ScopeMissing(Forbidden):
    error_id = "auth.scope_missing"


def scope_for(path: str, *, write: bool = False) -> str | None:
    table = WRITE_SCOPE_OF_PATH if write else SCOPE_OF_PATH
    return next((scope for pattern, scope in table if pattern.match(path)), None)


def granted(scopes: list[str]) -> set[str]:
    """The scopes a token holds, with the reads its write scopes imply."""
    return {*scopes, *(s.removesuffix(":write") + ":read" for s in scopes if s.endswith(":write"))}


class DesktopAuth:
    """The desktop's :class:`core.http.Authenticator`. ``tokens`` is read on every request (the
    current config)."""

    def __init__(self, tokens: Callable[[], list[ApiToken]]) -> None:
        self._tokens = tokens

    async def __call__(self, request: web.Request, *, write: bool) -> Who:
        auth = request.headers.get("Authorization", "")
        if auth.startswith("Bearer "):
            return self._token(auth.removeprefix("Bearer ").strip(), request.path, write=write)
        who = await current_agent(request)
        if who is None:
            raise LoginRequired("log in first")
        if write:
            given = request.headers.get("X-CSRF-Token", "")
            if not given and request.content_type in _FORMS:
                given = str((await request.post()).get("csrf", ""))
            await check_csrf(request, given)
        return who

    def _token(self, given: str, path: str, *, write: bool) -> Who:
        for t in self._tokens():
            if hmac.compare_digest(given.encode(), t.token.get_secret_value().encode()):
                need = scope_for(path, write=write) if path.startswith(API_PREFIX) else None
                if write and need is None:
                    raise ReadOnlyToken("integration tokens are read-only")
                if need is None or need not in granted(list(t.scopes)):
                    raise ScopeMissing(f"token {t.name!r} lacks the scope {need or 'for this path'!s}")
                return Who(f"api:{t.name}", INTEGRATION)
        raise BadToken("bad token")
