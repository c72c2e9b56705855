"""The route registry without a server: a parameter never takes a literal sibling's segment, the
OpenAPI document says so where the parameter's pattern does not, and argument errors name the field."""

from __future__ import annotations

from typing import Any

import pytest
from aiohttp import web
from aiohttp.test_utils import make_mocked_request
from pydantic import Field

from core.errors import BadRequest
from core.http import Args, Call, Registry, Route, RouteShadowed, parse_args
from core.openapi import build_openapi


async def nothing(c: Call[Any]) -> Any:
    return {}


class AnyId(Args):
    thing_id: str = Field(pattern=r"^[a-z0-9]+$")


class DigitId(Args):
    thing_id: str = Field(pattern=r"^[a-z]*[0-9][a-z0-9]*$")


def registry_of(*routes: Route) -> tuple[web.Application, Registry]:
    app, registry = web.Application(), Registry()
    registry.add(app, routes)
    return app, registry


async def handler_for(app: web.Application, method: str, path: str) -> Any:
    match = await app.router.resolve(make_mocked_request(method, path, app=app))
    return match.route.handler if match.http_exception is None else match.http_exception.status


async def test_a_parameter_never_takes_a_literal_siblings_segment() -> None:
    one = Route("GET", "/things/{thing_id}", "one", nothing, AnyId)
    new = Route("POST", "/things/new", "make one", nothing)
    app, registry = registry_of(one, new)  # in any order: literal paths are mounted first
    assert await handler_for(app, "GET", "/things/new") == 405  # not "no thing 'new'"
    assert await handler_for(app, "GET", "/things/abc") not in (404, 405)
    assert registry.reserved == {("/things/{thing_id}", "thing_id"): ["new"]}
    spec = build_openapi(registry, title="t", description="d")
    param = spec["paths"]["/things/{thing_id}"]["get"]["parameters"][0]
    assert param["schema"]["not"] == {"enum": ["new"]} and param["required"] is True
    # A pattern that cannot match the literal needs no "not" in the document.
    _, registry = registry_of(Route("GET", "/things/{thing_id}", "one", nothing, DigitId), new)
    param = build_openapi(registry, title="t", description="d")["paths"]["/things/{thing_id}"]["get"]
    assert "not" not in param["parameters"][0]["schema"]


def test_a_literal_path_after_its_shadowing_parameter_is_refused() -> None:
    app, registry = registry_of(Route("GET", "/things/{thing_id}", "one", nothing, AnyId))
    with pytest.raises(RouteShadowed, match="/things/new"):
        registry.add(app, [Route("GET", "/things/new", "new", nothing)])
    with pytest.raises(RouteShadowed, match="twice"):
        registry.add(app, [Route("GET", "/things/{thing_id}", "again", nothing, AnyId)])


def test_argument_errors_name_the_field_and_the_value() -> None:
    with pytest.raises(BadRequest) as err:
        parse_args(AnyId, {"thing_id": "A B"})
    assert err.value.error_id == "request.invalid"
    assert "thing_id:" in str(err.value) and "'A B'" in str(err.value)
    with pytest.raises(BadRequest, match="thing_id: Field required"):
        parse_args(AnyId, {})
