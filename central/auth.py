"""Authentication for the API: bearer tokens from the hub config (users and roles later)."""

from __future__ import annotations

import functools
import hmac
from collections.abc import Callable
from typing import Any, TypeVar

from flask import current_app, g, jsonify, request

F = TypeVar("F", bound=Callable[..., Any])


def token_required(view: F) -> F:
    """Require ``Authorization: Bearer <token>``; sets ``g.actor`` to the token's name."""

    @functools.wraps(view)
    def wrapped(*args: Any, **kwargs: Any) -> Any:
        header = request.headers.get("Authorization", "")
        scheme, _, token = header.partition(" ")
        if scheme.lower() == "bearer" and token:
            for known, actor in current_app.config["API_TOKENS"].items():
                if hmac.compare_digest(known.encode(), token.encode()):
                    g.actor = actor
                    return view(*args, **kwargs)
        resp = jsonify(error="unauthorized", message="a valid bearer token is required")
        resp.status_code = 401
        resp.headers["WWW-Authenticate"] = 'Bearer realm="vigie"'
        return resp

    return wrapped  # type: ignore[return-value]
