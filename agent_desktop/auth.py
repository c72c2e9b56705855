"""Who calls the desktop's API: the session cookie (CSRF checked on writes) or ``Authorization:
Bearer <token>`` for an integration in ``desktop.api_tokens`` (read-only)."""

from __future__ import annotations

import hmac

from aiohttp import web

from agent_desktop.config import ApiToken
from agent_desktop.sessions import check_csrf, current_agent
from core.http import BadToken, LoginRequired, ReadOnlyToken
from core.identity import INTEGRATION, Who

_FORMS = ("application/x-www-form-urlencoded", "multipart/form-data")


class DesktopAuth:
    """The desktop's :class:`core.http.Authenticator`."""

    def __init__(self, tokens: list[ApiToken]) -> None:
        self._tokens = tokens

    async def __call__(self, request: web.Request, *, write: bool) -> Who:
        auth = request.headers.get("Authorization", "")
        if auth.startswith("Bearer "):
            return self._token(auth.removeprefix("Bearer ").strip(), write=write)
        who = await current_agent(request)
        if who is None:
            raise LoginRequired("log in first")
        if write:
            given = request.headers.get("X-CSRF-Token", "")
            if not given and request.content_type in _FORMS:
                given = str((await request.post()).get("csrf", ""))
            await check_csrf(request, given)
        return who

    def _token(self, given: str, *, write: bool) -> Who:
        for t in self._tokens:
            if hmac.compare_digest(given.encode(), t.token.get_secret_value().encode()):
                if write:
                    raise ReadOnlyToken("integration tokens are read-only")
                return Who(f"api:{t.name}", INTEGRATION)
        raise BadToken("bad token")
