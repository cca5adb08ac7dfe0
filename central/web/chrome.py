"""The people's side of the hub: login and logout, page chrome, errors (HTML or JSON), security
headers."""

from __future__ import annotations

import hmac
import logging
import re
import secrets
from typing import Any
from urllib.parse import urlsplit

from flask import (
    Blueprint,
    Flask,
    abort,
    current_app,
    g,
    jsonify,
    make_response,
    redirect,
    render_template,
    request,
)
from flask_babel import gettext, ngettext
from werkzeug.exceptions import HTTPException, InternalServerError

from central import audit
from central.db import get_db
from central.i18n import N_
from central.users import ROLES, User, attempt_login, close_session, open_session
from central.web.auth import SESSION_COOKIE, client_address, identify, is_api, public, roles

log = logging.getLogger(__name__)

bp = Blueprint("web", __name__)

LOGIN_CSRF_COOKIE = "vigie_login_csrf"
NAV = (  # labels are catalogue strings, translated where shown (base.html)
    (N_("Alerts"), "/", ("operator", "supervisor")),
    (N_("Shift"), "/shift", ("operator", "supervisor")),
    (N_("Plan"), "/plan", ("operator", "supervisor", "admin")),
    (N_("Procedures"), "/procedures", ("operator", "supervisor")),
    (N_("Cameras"), "/cameras", ("operator", "supervisor", "admin")),
    (N_("Search"), "/search", ("operator", "supervisor", "privacy_officer")),
    (N_("Statistics"), "/stats", ("supervisor", "admin")),
    (N_("Suppressions"), "/suppressions", ("supervisor", "admin")),
    (N_("Audit log"), "/privacy/audit", ("privacy_officer", "admin")),
    (N_("Egress"), "/privacy/egress", ("privacy_officer", "admin")),
    (N_("Quarantine"), "/privacy/quarantine", ("privacy_officer", "admin")),
    (N_("Data inventory"), "/privacy/inventory", ("privacy_officer", "admin")),
    (N_("Processing register"), "/privacy/register", ("privacy_officer", "admin")),
    (N_("Subject access"), "/privacy/access", ("privacy_officer",)),
    (N_("Users"), "/admin/users", ("admin",)),
    (N_("Investigate"), "/investigate", ("investigator",)),
    (N_("Searches"), "/privacy/searches", ("privacy_officer", "admin")),
)
HOME = {"operator": "/", "supervisor": "/", "privacy_officer": "/privacy/audit", "admin": "/cameras",
        "investigator": "/investigate"}


def wants_html() -> bool:
    return not is_api()


def error_page(exc: HTTPException) -> Any:
    code = exc.code or 500
    return render_template("error.html", code=code, name=exc.name,
                           message=exc.description), code


_UNSAFE_IN_NEXT = re.compile(r"[\x00-\x1f\x7f\\]")
"""Control characters and backslashes: browsers read ``/\\host`` as ``//host``, and a
CR/LF would split the Location header."""
THROTTLED_AUDIT_EVERY_S = 60.0
"""A throttled flood writes one audit row per name and address a minute, not one per request."""
ANONYMOUS = "anonymous"


def _safe_next(target: str | None, role: str) -> str:
    """``next=`` when it is a path on this hub, else the role's home page."""
    if (target and target.startswith("/") and not target.startswith("//")
            and not _UNSAFE_IN_NEXT.search(target)):
        parts = urlsplit(target)
        if not parts.scheme and not parts.netloc:
            return target
    return HOME.get(role, "/")


def _audit_refused(db: Any, username: str, ip: str, throttled: bool) -> None:
    """Audit a failed or throttled login: the name tried and the address, never the password."""
    if throttled:
        audit.record_once(db, ANONYMOUS, "login.throttled", username, f"from {ip}",
                          THROTTLED_AUDIT_EVERY_S)
    else:
        audit.record(db, ANONYMOUS, "login.failed", username, f"from {ip}")


def _cookie_args() -> dict[str, Any]:
    return {"secure": bool(current_app.config.get("COOKIE_SECURE", True)), "httponly": True,
            "samesite": "Strict", "path": "/"}


@bp.route("/login", methods=["GET", "POST"])
@public
def login() -> Any:
    """Log in with a user name and password (double-submit CSRF token, throttled)."""
    error = None
    status = 200
    username = ""
    if request.method == "POST":
        sent = request.form.get("csrf_token", "")
        cookie = request.cookies.get(LOGIN_CSRF_COOKIE, "")
        if not sent or not cookie or not hmac.compare_digest(sent.encode(), cookie.encode()):
            abort(400, gettext("Missing or stale CSRF token: reload the login page and try "
                               "again."))
        username = request.form.get("username", "").strip().lower()[:64]
        password = request.form.get("password", "")[:1024]
        if not username or not password:
            error, status = gettext("Enter your user name and password."), 400
        else:
            user, error, status = _check_login(username, password)
            if user is not None:
                return _logged_in(user)
    csrf = secrets.token_urlsafe(24)
    resp = make_response(render_template("login.html", csrf=csrf, error=error, username=username),
                         status)
    resp.set_cookie(LOGIN_CSRF_COOKIE, csrf, max_age=3600, **_cookie_args())
    return resp


def _check_login(username: str, password: str) -> tuple[User | None, str | None, int]:
    """(user, error shown on the form, status) of one throttled, audited login attempt."""
    ip = client_address()
    db = get_db()
    result = attempt_login(db, username, password, ip)
    if result.user is not None:
        return result.user, None, 200
    _audit_refused(db, username, ip, throttled=result.wait_s > 0)
    if result.wait_s > 0:
        minutes = int(result.wait_s // 60) + 1
        return None, ngettext("Too many failed attempts. Try again in %(num)d minute.",
                              "Too many failed attempts. Try again in %(num)d minutes.",
                              minutes), 429
    return None, gettext("Wrong user name or password, or the account is disabled."), 401


def _logged_in(user: User) -> Any:
    """Open the session and go to ``next=`` (a local path only) or the role's home page."""
    db = get_db()
    ip = client_address()
    token = open_session(db, user, ip)
    audit.record(db, user.username, "login", user.username, ip)
    resp = redirect(_safe_next(request.args.get("next"), user.role))
    resp.set_cookie(SESSION_COOKIE, token, **_cookie_args())
    resp.delete_cookie(LOGIN_CSRF_COOKIE, path="/")
    return resp


@bp.post("/logout")
@roles(*ROLES)
def logout() -> Any:
    """End the session."""
    db = get_db()
    close_session(db, request.cookies.get(SESSION_COOKIE, ""))
    audit.record(db, g.actor, "logout", g.actor)
    resp = redirect("/login")
    resp.delete_cookie(SESSION_COOKIE, path="/")
    return resp


@bp.post("/me/language")
@roles(*ROLES)
def choose_language() -> Any:
    """The person's language for pages and reports (kept with their account)."""
    from central.users import UserError, set_language
    from central.web.auth import check_csrf

    ident = identify()
    assert ident is not None
    check_csrf(ident.csrf)
    if ident.via != "session":
        abort(400, gettext("Only people with an account choose a language."))
    try:
        set_language(get_db(), ident.actor, request.form.get("language") or None)
    except UserError as exc:
        abort(400, str(exc))
    return redirect(_safe_next(request.referrer and urlsplit(request.referrer).path, ident.role))


@bp.get("/api/v1/me")
@roles(*ROLES)
def me() -> Any:
    """Who the caller is and with which role."""
    ident = identify()
    assert ident is not None
    return jsonify(actor=ident.actor, role=ident.role, via=ident.via)


def _ts(value: float | None) -> str:
    from edge.wire.messages import utc_iso

    return utc_iso(value)[:19].replace("T", " ") if value else "—"


def _pageurl(args: Any, page: int) -> str:
    from urllib.parse import urlencode

    items = [(k, v) for k, v in args.items(multi=True) if k != "page"]
    return urlencode([*items, ("page", str(page))])


def install(app: Flask) -> None:
    """Page context, template filters, error handling and security headers (no blueprints:
    :func:`central.create_app` registers every one)."""
    app.jinja_env.filters["ts"] = _ts
    app.jinja_env.filters["pageurl"] = _pageurl

    @app.context_processor
    def _chrome() -> dict[str, Any]:
        ident = g.get("identity")
        nav = [(label, href) for label, href, allowed in NAV if ident and ident.role in allowed]
        return {"me": ident, "nav": nav, "csrf": ident.csrf if ident else ""}

    @app.errorhandler(HTTPException)
    def _http_error(exc: HTTPException) -> Any:
        if wants_html():
            return error_page(exc)
        resp = jsonify(error=(exc.name or "error").lower().replace(" ", "_"),
                       message=exc.description)
        resp.status_code = exc.code or 500
        return resp

    @app.errorhandler(Exception)
    def _unexpected(exc: Exception) -> Any:
        if isinstance(exc, HTTPException):
            return exc
        log.exception("internal error on %s %s", request.method, request.path)
        err = InternalServerError(gettext("Internal error; the hub log has the details."))
        if wants_html():
            return error_page(err)
        resp = jsonify(error="internal_server_error", message=err.description)
        resp.status_code = 500
        return resp

    @app.after_request
    def _headers(resp: Any) -> Any:
        resp.headers.setdefault("X-Content-Type-Options", "nosniff")
        resp.headers.setdefault("X-Frame-Options", "DENY")
        resp.headers.setdefault("Referrer-Policy", "same-origin")
        resp.headers.setdefault(
            "Content-Security-Policy",
            "default-src 'self'; img-src 'self' data:; media-src 'self' blob:; "
            "style-src 'self' 'unsafe-inline'; script-src 'self'; "
            "frame-ancestors 'none'; base-uri 'none'; form-action 'self'")
        if g.get("identity") is not None and resp.mimetype == "text/html":
            resp.headers.setdefault("Cache-Control", "no-store")
        return resp
