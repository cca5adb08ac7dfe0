"""Who is asking, and may they: sessions for people, bearer tokens for machines, roles per route.

Every view declares its roles with :func:`roles` (or :func:`public`); a test walks the URL
map so that none is forgotten. Without credentials a page redirects to the login page and
an API route answers 401; with the wrong role, 403. A request authenticated by the session
cookie that changes something must carry the session's CSRF token (form field
``csrf_token`` or header ``X-CSRF-Token``); bearer-token requests carry no ambient
credentials and need none.
"""

from __future__ import annotations

import functools
import hmac
import ipaddress
import logging
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any, TypeVar
from urllib.parse import quote

from flask import abort, current_app, g, redirect, request
from werkzeug.middleware.proxy_fix import ProxyFix

from central.db import get_db
from central.users import ROLES, api_client_for, load_session

log = logging.getLogger(__name__)

F = TypeVar("F", bound=Callable[..., Any])

SESSION_COOKIE = "vigie_session"
UNSAFE_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})
ROLES_ATTR = "_vigie_roles"
PUBLIC: frozenset[str] = frozenset({"*public*"})


@dataclass(frozen=True)
class Identity:
    """The authenticated party of a request."""

    actor: str
    role: str
    via: str  # "session" | "token"
    csrf: str | None = None
    user_id: int | None = None
    language: str | None = None


class TrustedProxies:
    """WSGI middleware: ``X-Forwarded-For`` and ``X-Forwarded-Proto`` are applied (werkzeug's
    ProxyFix, one hop) only when the peer is one of the configured proxies; from anyone else
    they are ignored and the peer's own address is the client's."""

    def __init__(self, app: Any, proxies: Iterable[Any]) -> None:
        self.app = app
        self.fixed = ProxyFix(app, x_for=1, x_proto=1)
        self.networks = [ipaddress.ip_network(str(p), strict=False) for p in proxies]

    def trusted(self, peer: str | None) -> bool:
        try:
            addr = ipaddress.ip_address(peer or "")
        except ValueError:
            return False
        return any(addr in net for net in self.networks)

    def __call__(self, environ: dict[str, Any], start_response: Any) -> Iterable[bytes]:
        if self.networks and self.trusted(environ.get("REMOTE_ADDR")):
            return self.fixed(environ, start_response)
        return self.app(environ, start_response)


def client_address() -> str:
    """The client's address (the proxy's X-Forwarded-For when the peer is a trusted proxy)."""
    return request.remote_addr or "?"


def is_api() -> bool:
    return request.path.startswith("/api/")


def _config_token(token: str) -> tuple[str, str] | None:
    """(actor, role) of a token from the hub config's ``api_tokens``."""
    for known, holder in current_app.config["API_TOKENS"].items():
        if hmac.compare_digest(known.encode(), token.encode()):
            if isinstance(holder, str):
                return holder, "operator"
            return str(holder["actor"]), str(holder["role"])
    return None


def identify() -> Identity | None:
    """The request's identity (bearer token first, then session cookie), cached in ``g``."""
    if "identity" in g:
        return g.identity
    ident: Identity | None = None
    scheme, _, token = request.headers.get("Authorization", "").partition(" ")
    if scheme.lower() == "bearer" and token:
        found = _config_token(token) or api_client_for(get_db(), token)
        if found:
            ident = Identity(actor=found[0], role=found[1], via="token")
    else:
        cookie = request.cookies.get(SESSION_COOKIE, "")
        if cookie:
            sess = load_session(get_db(), cookie)
            if sess is not None:
                ident = Identity(actor=sess.user.username, role=sess.user.role, via="session",
                                 csrf=sess.csrf, user_id=sess.user.id,
                                 language=sess.user.language)
    g.identity = ident
    if ident is not None:
        g.actor = ident.actor
    return ident


def _refuse_unauthenticated() -> Any:
    if is_api():
        from flask import jsonify

        resp = jsonify(error="unauthorized",
                       message="log in, or send Authorization: Bearer <token>")
        resp.status_code = 401
        resp.headers["WWW-Authenticate"] = 'Bearer realm="vigie"'
        return resp
    target = request.full_path if request.query_string else request.path
    return redirect("/login?next=" + quote(target, safe="/"))


def check_csrf(expected: str | None) -> None:
    """Abort 400 unless the request carries the expected CSRF token."""
    sent = request.headers.get("X-CSRF-Token") or request.form.get("csrf_token", "")
    if not expected or not sent or not hmac.compare_digest(sent.encode(), expected.encode()):
        abort(400, "missing or stale CSRF token: reload the page and try again")


def roles(*allowed: str) -> Callable[[F], F]:
    """Declare (and enforce) the roles that may use a view."""
    for r in allowed:
        if r not in ROLES:
            raise ValueError(f"unknown role {r!r}")
    allowed_set = frozenset(allowed)

    def deco(view: F) -> F:
        @functools.wraps(view)
        def wrapped(*args: Any, **kwargs: Any) -> Any:
            ident = identify()
            if ident is None:
                return _refuse_unauthenticated()
            if ident.role not in allowed_set:
                abort(403, f"the {ident.role} role may not use this; it needs one of "
                           f"{', '.join(sorted(allowed_set))}")
            if request.method in UNSAFE_METHODS and ident.via == "session":
                check_csrf(ident.csrf)
            return view(*args, **kwargs)

        setattr(wrapped, ROLES_ATTR, allowed_set)
        return wrapped  # type: ignore[return-value]

    return deco


def public(view: F) -> F:
    """Declare a view open to everyone (login page, OpenAPI document)."""
    setattr(view, ROLES_ATTR, PUBLIC)
    return view


DEVICE: frozenset[str] = frozenset({"*device*"})


def device_only(view: F) -> F:
    """Declare a view for edge boxes only; the view checks the device's credentials itself
    (e.g. clip upload) and people, whatever their role, are refused."""
    setattr(view, ROLES_ATTR, DEVICE)
    return view


def declared_roles(view: Callable[..., Any]) -> frozenset[str] | None:
    """The roles a view declared, ``PUBLIC``, or None when it declared nothing."""
    return getattr(view, ROLES_ATTR, None)


token_required = roles(*ROLES)
"""Any authenticated party (kept for the spine's routes and machine clients)."""
