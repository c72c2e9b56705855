"""The HTTP kit every package's thin HTTP edge uses, so no package imports another's edge.

A :class:`Route` is declared once: method, path, a pydantic model of its arguments (path parameters
plus the query of a GET or the body of a POST), who may call it (:class:`Access`) and the statuses
its rules can answer. :class:`Registry` mounts routes on the aiohttp router (a parameter never
swallows a literal sibling: ``GET /api/calls/dial`` cannot reach ``/api/calls/{call_id}``), serves
them as JSON, runs them for other channels (the desktop's websocket commands) and is what
``core/openapi.py`` describes. :func:`json_errors` answers every error under ``/api/`` as
``{"error": {"code": <stable error id>, "message": ...}}``, whatever raised it.
"""

from __future__ import annotations

import enum
import json
import logging
import math
import re
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass, field
from typing import Any, Generic, Protocol, TypeVar

from aiohttp import web
from pydantic import BaseModel, ConfigDict, ValidationError

from core.errors import (
    AmiError,
    BadRequest,
    Conflict,
    ExternalServiceError,
    Forbidden,
    NotFound,
    TongdaiError,
    TooManyRequests,
    Unauthorized,
    Unavailable,
    UnsafeValue,
)
from core.identity import Who

log = logging.getLogger(__name__)

API_PREFIX = "/api/"


# --- errors the kit itself raises --------------------------------------------------------------


class LoginRequired(Unauthorized):
    error_id = "auth.login_required"


class BadToken(Unauthorized):
    error_id = "auth.bad_token"


class ReadOnlyToken(Forbidden):
    error_id = "auth.read_only_token"


class CsrfRejected(Forbidden):
    error_id = "auth.csrf"


class SupervisorsOnly(Forbidden):
    error_id = "access.supervisors_only"


class PeopleOnly(Forbidden):
    error_id = "access.people_only"


class PayloadTooLarge(TongdaiError):
    error_id = "request.too_large"


class RouteShadowed(TongdaiError, ValueError):
    """A route registered after another cannot be told apart from it (a programming error)."""

    error_id = "http.route_shadowed"


# First match wins: subclasses before the classes they extend.
_STATUS: tuple[tuple[type[BaseException], int], ...] = (
    (Unauthorized, 401),
    (Forbidden, 403),
    (PermissionError, 403),
    (NotFound, 404),
    (Conflict, 409),
    (PayloadTooLarge, 413),
    (TooManyRequests, 429),
    (Unavailable, 503),
    (AmiError, 503),
    (ExternalServiceError, 503),
    (BadRequest, 400),
    (UnsafeValue, 400),
    (ValueError, 400),
)

# aiohttp's own refusals (router, body reader), named like ours.
_HTTP_IDS = {
    400: "request.invalid",
    404: "http.not_found",
    405: "http.method_not_allowed",
    413: "request.too_large",
    415: "request.unsupported_media_type",
}


def status_for(err: BaseException) -> int:
    return next((status for kind, status in _STATUS if isinstance(err, kind)), 500)


def error_id_of(err: BaseException) -> str:
    if isinstance(err, TongdaiError):
        return err.error_id
    if isinstance(err, PermissionError):
        return "access.forbidden"
    return "request.invalid" if isinstance(err, ValueError) else "internal"


def error_body(err: BaseException) -> dict[str, str]:
    return {"code": error_id_of(err), "message": str(err)}


def error_response(
    status: int, code: str, message: str, headers: dict[str, str] | None = None
) -> web.Response:
    return web.json_response({"error": {"code": code, "message": message}}, status=status, headers=headers)


@web.middleware
async def json_errors(
    request: web.Request, handler: Callable[[web.Request], Awaitable[web.StreamResponse]]
) -> web.StreamResponse:
    """Every error under ``/api/`` as JSON with a stable id: ours, aiohttp's (404, 405, 413) and bugs."""
    if not request.path.startswith(API_PREFIX):
        return await handler(request)
    try:
        return await handler(request)
    except web.HTTPException as exc:
        if exc.status < 400:
            raise
        allow = {"Allow": exc.headers["Allow"]} if "Allow" in exc.headers else None
        code = _HTTP_IDS.get(exc.status, f"http.{exc.status}")
        return error_response(exc.status, code, exc.reason, allow)
    except TooManyRequests as err:
        wait = {"Retry-After": str(max(1, math.ceil(err.retry_after)))}
        return error_response(429, err.error_id, str(err), wait)
    except (TongdaiError, ValueError, PermissionError) as err:
        return error_response(status_for(err), error_id_of(err), str(err))
    except Exception:
        log.exception("%s %s failed", request.method, request.path)
        return error_response(500, "internal", "internal error: see the server log")


# --- security headers --------------------------------------------------------------------------

# The pages run with nothing inline (no inline script, handler or style attribute: templates/_base.html)
# and may not be framed (clickjacking).
CONTENT_SECURITY_POLICY = (
    "default-src 'self'; script-src 'self'; style-src 'self'; connect-src 'self'; img-src 'self' data:; "
    "object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
)
SERVER_HEADER = "tongdai"  # no product version for a scanner to match against advisories
HSTS = "max-age=31536000; includeSubDomains"


def _cacheable(path: str) -> bool:
    # Only the static assets (scripts, styles, fonts) carry no personal data; every page and API
    # answer may, so no browser or proxy keeps a copy.
    return path.startswith("/static/")


def setup_security_headers(app: web.Application, *, hsts: bool) -> None:
    """Security headers on every response of ``app``. A response-prepare signal rather than a
    middleware: it also sees redirects and errors raised as exceptions, static files and the
    websocket's handshake. ``hsts`` only behind HTTPS (``web.secure_cookies``): over plain HTTP the
    header would be ignored at best, and pin a test host to HTTPS at worst."""

    async def add(request: web.Request, response: web.StreamResponse) -> None:
        h = response.headers
        h["Server"] = SERVER_HEADER
        h.setdefault("Content-Security-Policy", CONTENT_SECURITY_POLICY)
        h["X-Content-Type-Options"] = "nosniff"
        h["X-Frame-Options"] = "DENY"
        h["Referrer-Policy"] = "no-referrer"
        if hsts:
            h["Strict-Transport-Security"] = HSTS
        if not _cacheable(request.path):
            h["Cache-Control"] = "no-store"

    app.on_response_prepare.append(add)


# --- who is asking ------------------------------------------------------------------------------


class Authenticator(Protocol):
    """Names the caller of a request (session or token); ``write`` also checks the CSRF token and
    refuses read-only credentials. Raises :class:`Unauthorized` or :class:`Forbidden`."""

    async def __call__(self, request: web.Request, *, write: bool) -> Who: ...


AUTH_KEY: web.AppKey[Authenticator] = web.AppKey("http_authenticator")


async def who_of(request: web.Request, *, write: bool) -> Who:
    """The caller of ``request``, by the app's :class:`Authenticator`."""
    return await request.app[AUTH_KEY](request, write=write)


class Access(enum.Enum):
    PUBLIC = "public"  # no credentials (the OpenAPI document itself)
    ANYONE = "anyone"  # agents and supervisors; integration tokens on reads
    SUPERVISOR = "supervisor"  # supervisors; integration tokens on reads
    PEOPLE = "people"  # agents and supervisors only: work that a person does


def check_access(access: Access, who: Who) -> None:
    if access is Access.PEOPLE and who.integration:
        raise PeopleOnly("this is for agents and supervisors, not integration tokens")
    if access is Access.SUPERVISOR and not (who.supervisor or who.integration):
        raise SupervisorsOnly("supervisors only")


# --- arguments ----------------------------------------------------------------------------------


class Args(BaseModel):
    """A route's arguments. Unknown fields are ignored (a form carries its ``csrf`` field). Patterns
    use Python's ``re``, the engine that also generates the OpenAPI examples in the tests."""

    model_config = ConfigDict(extra="ignore", frozen=True, regex_engine="python-re")


class NoArgs(Args):
    pass


A = TypeVar("A", bound=Args)


@dataclass(frozen=True)
class Call(Generic[A]):
    """One invocation of a route: who asked, the validated arguments, and the HTTP request
    (``None`` when the command came over the websocket)."""

    who: Who
    args: A
    request: web.Request | None = None


Handler = Callable[[Call[Any]], Awaitable[Any]]


@dataclass(frozen=True)
class Route:
    method: str
    path: str
    summary: str
    handler: Handler
    args: type[Args] = NoArgs
    access: Access = Access.ANYONE
    errors: tuple[int, ...] = ()  # statuses the rules can answer (404, 409, 503...), beyond the kit's
    result: dict[str, Any] = field(default_factory=lambda: {"type": "object"})  # JSON schema of a 200
    name: str | None = None  # the websocket command's type; None: HTTP only
    wrap: str | None = None  # the handler returns a list; HTTP answers {wrap: [...]}
    media: str | None = None  # the handler answers its own web.StreamResponse of this media type
    tag: str = "desktop"

    @property
    def write(self) -> bool:
        return self.method != "GET"

    @property
    def path_params(self) -> list[str]:
        return re.findall(r"\{(\w+)\}", self.path)

    @property
    def key(self) -> str:
        return f"{self.method} {self.path}"


async def read_body(request: web.Request) -> dict[str, Any]:
    """A JSON object or a form, as a dict (no body: no fields); anything else is a clear 400 (too
    large: 413)."""
    if not request.body_exists:
        return {}
    try:
        if request.content_type == "application/json":
            try:
                data = await request.json()
            except json.JSONDecodeError as err:
                raise BadRequest("the body is not valid JSON") from err
            if not isinstance(data, dict):
                raise BadRequest("the body must be a JSON object")
            return data
        return {k: str(v) for k, v in (await request.post()).items()}
    except web.HTTPRequestEntityTooLarge as err:
        raise PayloadTooLarge(f"the body is larger than {request.client_max_size} bytes") from err
    except UnicodeDecodeError as err:
        raise BadRequest("the body is not UTF-8") from err


def _explain(err: ValidationError) -> str:
    parts = []
    for e in err.errors(include_url=False):
        where = ".".join(str(p) for p in e["loc"])
        msg = str(e["msg"]).removeprefix("Value error, ")
        got = e.get("input")
        seen = f" (got {got!r:.60})" if isinstance(got, str | int | float) and e["type"] != "missing" else ""
        parts.append(f"{where}: {msg}{seen}" if where else msg)
    return "; ".join(parts)


def parse_args(model: type[A], data: dict[str, Any]) -> A:
    try:
        return model.model_validate(data)
    except ValidationError as err:
        raise BadRequest(_explain(err)) from err


async def invoke(route: Route, who: Who, data: dict[str, Any], request: web.Request | None = None) -> Any:
    """Run ``route`` for ``who`` with raw arguments: access first, then validation, then the rules."""
    check_access(route.access, who)
    return await route.handler(Call(who, parse_args(route.args, data), request))


def _dumps(o: Any) -> str:
    return json.dumps(o, ensure_ascii=False, default=str)


# --- the registry -------------------------------------------------------------------------------


def _segments(path: str) -> list[str]:
    return path.strip("/").split("/")


def _is_param(segment: str) -> bool:
    return segment.startswith("{")


def _covers(template: str, path: str) -> bool:
    """Whether the parameters of ``template`` could match every segment of ``path``."""
    t, p = _segments(template), _segments(path)
    return len(t) == len(p) and all(_is_param(a) or a == b for a, b in zip(t, p, strict=True))


class Registry:
    """Every JSON route of the app: mounted on the router, run by other channels, described by OpenAPI."""

    def __init__(self) -> None:
        self.routes: list[Route] = []
        # (path template, parameter) -> literal values that belong to a sibling route instead.
        self.reserved: dict[tuple[str, str], list[str]] = {}

    def add(self, app: web.Application, routes: Iterable[Route]) -> None:
        batch = sorted(routes, key=lambda r: any(_is_param(s) for s in _segments(r.path)))
        for route in batch:
            self._refuse_shadowed(route)
            self.routes.append(route)
        for route in batch:
            app.router.add_route(route.method, self._router_path(route), self._http(route))

    def commands(self) -> dict[str, Route]:
        return {r.name: r for r in self.routes if r.name}

    def _refuse_shadowed(self, route: Route) -> None:
        for other in self.routes:
            if route.key == other.key:
                raise RouteShadowed(f"{route.key} is registered twice")
            if route.name and route.name == other.name:
                raise RouteShadowed(f"command {route.name!r} names both {other.key} and {route.key}")
            if other.path != route.path and _covers(other.path, route.path):
                raise RouteShadowed(f"{route.key} would be reached through {other.path}: add it first")

    def _router_path(self, route: Route) -> str:
        """The aiohttp path: each parameter refuses the literal segments of its siblings' paths."""
        segs = _segments(route.path)
        out = []
        for i, seg in enumerate(segs):
            if not _is_param(seg):
                out.append(seg)
                continue
            name = seg.strip("{}")
            taken = sorted(
                {
                    _segments(r.path)[i]
                    for r in self.routes
                    if r.path != route.path
                    and _covers(route.path, r.path)
                    and not _is_param(_segments(r.path)[i])
                }
            )
            if taken:
                self.reserved[(route.path, name)] = taken
                alts = "|".join(re.escape(t) for t in taken)
                out.append(f"{{{name}:(?!(?:{alts})$)[^/]+}}")
            else:
                out.append(seg)
        return "/" + "/".join(out)

    def _http(self, route: Route) -> Callable[[web.Request], Awaitable[web.StreamResponse]]:
        async def handler(request: web.Request) -> web.StreamResponse:
            if route.access is Access.PUBLIC:
                who = Who("anonymous", "public")
            else:
                who = await who_of(request, write=route.write)
            data: dict[str, Any] = {} if route.method == "GET" else await read_body(request)
            if route.method == "GET":
                data.update(request.query)
            data.update(request.match_info)
            result = await invoke(route, who, data, request)
            if isinstance(result, web.StreamResponse):
                return result
            return web.json_response({route.wrap: result} if route.wrap else result, dumps=_dumps)

        return handler


REGISTRY_KEY = web.AppKey("http_registry", Registry)


def setup_api(app: web.Application, auth: Authenticator) -> Registry:
    """Give ``app`` its authenticator and an empty registry (the JSON error middleware is
    :func:`json_errors`, passed to ``web.Application(middlewares=...)``)."""
    app[AUTH_KEY] = auth
    registry = app[REGISTRY_KEY] = Registry()
    return registry


def add_routes(app: web.Application, routes: Iterable[Route]) -> None:
    """Register a package's routes on the app's registry (and so on its router and its OpenAPI)."""
    app[REGISTRY_KEY].add(app, routes)
