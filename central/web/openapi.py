"""The OpenAPI 3.1 document of ``/api/v1``, generated from the app's routes and their ``@doc``.

Each API view states its summary, query parameters and JSON body with :func:`doc`; its
roles come from :func:`central.web.auth.roles`. The document is built by walking the URL map,
so a route cannot be served without being described.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any, TypeVar

from flask import Blueprint, Flask, current_app, jsonify

from central.web.auth import DEVICE, PUBLIC, declared_roles, public

bp = Blueprint("openapi", __name__)

F = TypeVar("F", bound=Callable[..., Any])
DOC_ATTR = "_vigie_doc"
API_PREFIX = "/api/v1"

ERROR_SCHEMA = {
    "type": "object",
    "required": ["error", "message"],
    "properties": {"error": {"type": "string"}, "message": {"type": "string"}},
}


def doc(summary: str, query: dict[str, dict[str, Any]] | None = None,
        body: dict[str, dict[str, Any]] | None = None, required: list[str] | None = None,
        produces: str = "application/json") -> Callable[[F], F]:
    """Describe an API view for the OpenAPI document."""

    def deco(view: F) -> F:
        setattr(view, DOC_ATTR, {"summary": summary, "query": query or {}, "body": body,
                                 "required": required or [], "produces": produces})
        return view

    return deco


_PARAM = re.compile(r"<(?:(\w+):)?(\w+)>")

MAX_STRING = 1000
"""Strings a view's @doc leaves unbounded are documented as at most this long."""
MAX_INTEGER = 2**31 - 1
MAX_ITEMS = 2000
MAX_PATH_PARAM = 200


def bounded(schema: dict[str, Any]) -> dict[str, Any]:
    """A copy of ``schema`` where every string, integer and array has an upper bound (the
    view's own when it states one): clients know the limits, and a fuzzer generates values at
    them (the longest string, the largest integer) instead of only small ones."""
    out = dict(schema)
    kind = out.get("type")
    if kind == "string" and "enum" not in out:
        out.setdefault("maxLength", MAX_STRING)
    elif kind == "integer":
        out.setdefault("maximum", MAX_INTEGER)
        out.setdefault("minimum", -MAX_INTEGER)
    elif kind == "number":
        out.setdefault("maximum", 1e9)
        out.setdefault("minimum", -1e9)
    elif kind == "array":
        out.setdefault("maxItems", MAX_ITEMS)
        if isinstance(out.get("items"), dict):
            out["items"] = bounded(out["items"])
    elif kind == "object":
        if isinstance(out.get("properties"), dict):
            out["properties"] = {k: bounded(v) for k, v in out["properties"].items()}
        if isinstance(out.get("additionalProperties"), dict):
            out["additionalProperties"] = bounded(out["additionalProperties"])
        out.setdefault("maxProperties", 100)
    return out


def _operation(rule_path: str, method: str, view: Callable[..., Any], endpoint: str) -> dict[str, Any]:
    meta = getattr(view, DOC_ATTR, None) or {"summary": endpoint, "query": {}, "body": None,
                                             "required": [], "produces": "application/json"}
    params: list[dict[str, Any]] = []
    for conv, name in _PARAM.findall(rule_path):
        params.append({"name": name, "in": "path", "required": True,
                       "schema": bounded({"type": "integer"}) if conv == "int" else
                       {"type": "string", "minLength": 1, "maxLength": MAX_PATH_PARAM,
                        "pattern": "^[^/]+$"}})
    for name, schema in meta["query"].items():
        params.append({"name": name, "in": "query", "required": False, "schema": bounded(schema)})
    allowed = declared_roles(view)
    op: dict[str, Any] = {
        "operationId": f"{endpoint}_{method}".replace(".", "_"),
        "summary": meta["summary"],
        "parameters": params,
        "responses": {
            "200": {"description": "OK", "content": {meta["produces"]: {"schema": {}}}},
            "default": {"description": "Error",
                        "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}},
        },
    }
    if allowed == PUBLIC:
        op["security"] = []
    elif allowed == DEVICE:
        op["x-roles"] = ["device"]
    elif allowed:
        op["x-roles"] = sorted(allowed)
    if meta["body"] is not None:
        op["requestBody"] = {"required": bool(meta["required"]), "content": {"application/json": {
            "schema": bounded({"type": "object", "properties": meta["body"],
                               "required": meta["required"]})}}}
    return op


def build(app: Flask) -> dict[str, Any]:
    """The OpenAPI document for every ``/api/v1`` route of ``app``."""
    paths: dict[str, dict[str, Any]] = {}
    for rule in sorted(app.url_map.iter_rules(), key=lambda r: r.rule):
        if not rule.rule.startswith(API_PREFIX):
            continue
        view = app.view_functions[rule.endpoint]
        path = _PARAM.sub(lambda m: "{" + m.group(2) + "}", rule.rule)
        for method in sorted((rule.methods or set()) - {"HEAD", "OPTIONS"}):
            paths.setdefault(path, {})[method.lower()] = _operation(rule.rule, method, view,
                                                                    rule.endpoint)
    return {
        "openapi": "3.1.0",
        "info": {"title": "Vigie hub API", "version": "1",
                 "description": "Alerts, cameras, search, export and statistics of the Vigie hub. "
                                "Errors are JSON objects {error, message}."},
        "servers": [{"url": "/"}],
        "paths": paths,
        "components": {
            "schemas": {"Error": ERROR_SCHEMA},
            "securitySchemes": {
                "bearer": {"type": "http", "scheme": "bearer"},
                "session": {"type": "apiKey", "in": "cookie", "name": "vigie_session"},
            },
        },
        "security": [{"bearer": []}, {"session": []}],
    }


@bp.get("/api/v1/openapi.json")
@public
@doc("This document")
def openapi_json() -> Any:
    return jsonify(build(current_app))
