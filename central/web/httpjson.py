"""JSON in and out of the hub's HTTP API: total request-body parsing and finite-only responses.

Request bodies go through :func:`json_object`: the wire's total parser (bounded size and depth,
no NaN/Infinity, bounded integers) and an object at the top, or a 400 that says why. Responses
go through :class:`FiniteJSONProvider`: never ``NaN`` or ``Infinity`` in the output (they are not
JSON, and one such value in a stored row would make a browser reject the whole answer).
"""

from __future__ import annotations

import json
import logging
import math
from typing import Any

from flask import abort, request
from flask.json.provider import DefaultJSONProvider

from edge.wire.messages import MessageError, parse_json

log = logging.getLogger(__name__)

MAX_JSON_BODY = 256 * 1024
"""No JSON body of the API comes near this (the largest is a search request of ~2 KB)."""
MAX_JSON_DEPTH = 8
FORM_TYPES = ("application/x-www-form-urlencoded", "multipart/form-data")


def json_object(max_bytes: int = MAX_JSON_BODY, form_ok: bool = False) -> dict[str, Any]:
    """The request body as a JSON object; an empty body is ``{}``. Anything else (a list, a
    number, bad JSON, NaN, too deep, too big) is a 400 (413 for size) with the reason.
    ``form_ok``: a form post (the HTML pages' fallback) is taken as its fields."""
    if form_ok and request.mimetype in FORM_TYPES:
        return request.form.to_dict()
    if request.content_length is not None and request.content_length > max_bytes:
        abort(413, f"a JSON body may be at most {max_bytes} bytes")
    data = request.get_data(cache=True)
    if not data.strip():
        return {}
    try:
        body = parse_json(data, max_bytes=max_bytes, max_depth=MAX_JSON_DEPTH)
    except MessageError as exc:
        abort(400, f"body must be a JSON object: {exc}")
    if not isinstance(body, dict):
        abort(400, f"body must be a JSON object, not {_kind(body)}")
    return body


def _kind(value: Any) -> str:
    if isinstance(value, list):
        return "an array"
    if isinstance(value, str):
        return "a string"
    if value is None:
        return "null"
    return "a boolean" if isinstance(value, bool) else "a number"


def finite(value: Any) -> Any:
    """``value`` with every non-finite float (NaN, ±Infinity) replaced by None."""
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dict):
        return {k: finite(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [finite(v) for v in value]
    return value


class FiniteJSONProvider(DefaultJSONProvider):
    """Flask's JSON provider with ``allow_nan=False``: a non-finite number in a response becomes
    ``null`` (and is logged) instead of producing text that is not JSON."""

    def dumps(self, obj: Any, **kwargs: Any) -> str:
        kwargs.setdefault("default", self.default)
        kwargs.setdefault("ensure_ascii", self.ensure_ascii)
        kwargs.setdefault("sort_keys", self.sort_keys)
        kwargs["allow_nan"] = False
        try:
            return json.dumps(obj, **kwargs)
        except ValueError:
            log.warning("a response held a non-finite number (a bad stored row?); sent as null")
            return json.dumps(finite(obj), **kwargs)
