"""The OpenAPI 3.1 document of an app, generated from its :class:`core.http.Registry`: every route,
its arguments' JSON schemas (required fields, formats, patterns, enums), who may call it, and every
status it can answer, each error with the one JSON error shape."""

from __future__ import annotations

import copy
import re
from typing import Any

from core.http import Access, Registry, Route

_REASONS = {
    400: "Bad input: a missing, malformed or out-of-range argument",
    401: "Not logged in, or an unknown token",
    403: "Not allowed: CSRF token missing or wrong, read-only token or one without the scope, or not this "
    "caller's to see or do (a customer not on the agent's call needs a reason)",
    404: "No such object",
    409: "Conflicts with the object's current state",
    413: "The body is too large",
    429: "Over a rate limit: retry after the seconds in Retry-After",
    500: "The server failed (see its log)",
    503: "A service the request needs (database, Asterisk) is not running",
}

ERROR_SCHEMA: dict[str, Any] = {
    "type": "object",
    "required": ["error"],
    "properties": {
        "error": {
            "type": "object",
            "required": ["code", "message"],
            "properties": {
                "code": {"type": "string", "description": "stable error id, e.g. desktop.forbidden"},
                "message": {"type": "string"},
            },
        }
    },
}


def _no_null(schema: dict[str, Any]) -> dict[str, Any]:
    """A parameter is absent rather than null: drop the ``null`` branch pydantic writes for Optional."""
    if schema.get("default", "") is None:
        schema = {k: v for k, v in schema.items() if k != "default"}
    alts = [s for s in schema.get("anyOf", []) if s.get("type") != "null"]
    if len(alts) == 1 and "anyOf" in schema:
        rest = {k: v for k, v in schema.items() if k != "anyOf"}
        return {**alts[0], **rest}
    return schema


def _allowed(schema: dict[str, Any], value: str) -> bool:
    pattern = schema.get("pattern")
    return pattern is None or re.search(pattern, value) is not None


class _Builder:
    def __init__(self, registry: Registry) -> None:
        self.registry = registry
        self.schemas: dict[str, Any] = {"Error": ERROR_SCHEMA}

    def args_schema(self, route: Route) -> dict[str, Any]:
        schema = route.args.model_json_schema(ref_template="#/components/schemas/{model}")
        self.schemas.update(schema.pop("$defs", {}))
        return schema

    def parameters(self, route: Route, schema: dict[str, Any]) -> list[dict[str, Any]]:
        props: dict[str, Any] = schema.get("properties", {})
        required = set(schema.get("required", []))
        out = []
        for name in route.path_params:
            p = _no_null(copy.deepcopy(props.get(name, {"type": "string"})))
            # Values that name a sibling route, when the parameter's own pattern does not exclude them.
            taken = [t for t in self.registry.reserved.get((route.path, name), []) if _allowed(p, t)]
            if taken:
                p["not"] = {"enum": taken}
            out.append({"name": name, "in": "path", "required": True, "schema": p})
        if route.method == "GET":
            for name, prop in props.items():
                if name not in route.path_params:
                    q = {"name": name, "in": "query", "required": name in required, "schema": _no_null(prop)}
                    out.append(q)
        if route.write:
            out.append({"$ref": "#/components/parameters/Csrf"})
        return out

    def body(self, route: Route, schema: dict[str, Any]) -> dict[str, Any] | None:
        props = {k: v for k, v in schema.get("properties", {}).items() if k not in route.path_params}
        if route.method == "GET" or not props:
            return None
        required = [r for r in schema.get("required", []) if r in props]
        body: dict[str, Any] = {"type": "object", "properties": props}
        if required:
            body["required"] = required
        # Rules between fields that the model states in JSON Schema (e.g. a pause needs a reason).
        body.update({k: schema[k] for k in ("if", "then", "else") if k in schema})
        return {"required": bool(required), "content": {"application/json": {"schema": body}}}

    def responses(self, route: Route, has_args: bool) -> dict[str, Any]:
        if route.media:
            ok: dict[str, Any] = {route.media: {"schema": {"type": "string", "format": "binary"}}}
        else:
            result = route.result
            if route.wrap:
                result = {
                    "type": "object",
                    "required": [route.wrap],
                    "properties": {route.wrap: {"type": "array", "items": route.result}},
                }
            ok = {"application/json": {"schema": result}}
        out: dict[str, Any] = {"200": {"description": "OK", "content": ok}}
        statuses = set(route.errors)
        if route.access is not Access.PUBLIC:
            statuses |= {401, 403}
        if has_args or route.write:
            statuses.add(400)
        if route.write:
            statuses.add(413)
        for status in sorted(statuses):
            out[str(status)] = {
                "description": _REASONS[status],
                "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}},
            }
        return out

    def operation(self, route: Route) -> dict[str, Any]:
        schema = self.args_schema(route)
        op: dict[str, Any] = {
            "operationId": route.name or route.key.replace(" ", "_"),
            "summary": route.summary,
            "tags": [route.tag],
            "security": _security(route),
        }
        if route.name:
            op["description"] = f"Also a websocket command: {{id, type: {route.name!r}, ...arguments}}."
        params = self.parameters(route, schema)
        if params:
            op["parameters"] = params
        body = self.body(route, schema)
        if body:
            op["requestBody"] = body
        op["responses"] = self.responses(route, bool(schema.get("properties")))
        return op


def _security(route: Route) -> list[dict[str, list[str]]]:
    if route.access is Access.PUBLIC:
        return []
    if route.write or route.access is Access.PEOPLE:
        return [{"session": []}]
    return [{"session": []}, {"bearer": []}]


def build_openapi(registry: Registry, *, title: str, description: str, version: str = "1") -> dict[str, Any]:
    b = _Builder(registry)
    paths: dict[str, dict[str, Any]] = {}
    for route in registry.routes:
        paths.setdefault(route.path, {})[route.method.lower()] = b.operation(route)
    return {
        "openapi": "3.1.0",
        "info": {"title": title, "version": version, "description": description},
        "paths": paths,
        "components": {
            "schemas": b.schemas,
            "securitySchemes": {
                "session": {"type": "apiKey", "in": "cookie", "name": "tongdai_session"},
                "bearer": {"type": "http", "scheme": "bearer"},
            },
            "parameters": {
                "Csrf": {
                    "name": "X-CSRF-Token",
                    "in": "header",
                    "required": True,
                    "description": "the session's CSRF token (the page's data-csrf)",
                    "schema": {"type": "string"},
                }
            },
        },
    }
