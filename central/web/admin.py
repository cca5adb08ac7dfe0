"""The administrator's users page: list, add and disable users; register API clients."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, g, render_template, request

from central import audit
from central.db import get_db
from central.users import (
    ROLES,
    UserError,
    add_api_client,
    add_user,
    list_api_clients,
    list_users,
    revoke_api_client,
    set_disabled,
)
from central.web.auth import roles

bp = Blueprint("admin", __name__)


def _render(message: str | None = None, error: str | None = None, token: str | None = None,
            status: int = 200) -> Any:
    return render_template("admin/users.html", users=list_users(get_db()), clients=list_api_clients(get_db()),
                           roles=ROLES,
                           message=message, error=error, token=token), status


@bp.get("/admin/users")
@roles("admin")
def page() -> Any:
    """Users and API clients."""
    return _render()


@bp.post("/admin/users")
@roles("admin")
def change() -> Any:
    """Add a user, disable or enable one, register an API client or revoke its token (one form
    per action)."""
    db = get_db()
    action = request.form.get("action", "")
    name = request.form.get("username", "").strip().lower()
    try:
        if action == "add":
            user = add_user(db, name, request.form.get("password", ""), request.form.get("role", ""))
            audit.record(db, g.actor, "user.add", user.username, user.role)
            return _render(message=f"user {user.username} added ({user.role})")
        if action == "disable" and name == g.actor:
            return _render(error="you cannot disable your own account; ask another admin",
                           status=400)
        if action in ("disable", "enable"):
            set_disabled(db, name, action == "disable")
            audit.record(db, g.actor, f"user.{action}", name)
            return _render(message=f"user {name} {action}d")
        if action == "client":
            role = request.form.get("role", "")
            token = add_api_client(db, name, role)
            audit.record(db, g.actor, "api_client.add", name, role)
            return _render(message=f"API client {name} registered ({role}); copy its token now",
                           token=token)
        if action == "revoke":
            revoke_api_client(db, name)
            audit.record(db, g.actor, "api_client.revoke", name)
            return _render(message=f"token of API client {name} revoked")
    except UserError as exc:
        return _render(error=str(exc), status=400)
    return _render(error="unknown action; use the forms on this page", status=400)
