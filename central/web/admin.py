"""The administrator's users page: list, add and disable users, set their language; register
API clients."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, current_app, g, render_template, request
from flask_babel import gettext as _

from central import audit
from central.db import get_db
from central.i18n import LANGUAGES
from central.users import (
    ROLES,
    UserError,
    add_api_client,
    add_user,
    list_api_clients,
    list_users,
    revoke_api_client,
    set_disabled,
    set_language,
)
from central.web.auth import roles

bp = Blueprint("admin", __name__)


def _render(message: str | None = None, error: str | None = None, token: str | None = None,
            status: int = 200) -> Any:
    return render_template("admin/users.html", users=list_users(get_db()),
                           clients=list_api_clients(get_db()), roles=ROLES, languages=LANGUAGES,
                           default_language=current_app.config.get("BABEL_DEFAULT_LOCALE", "fr"),
                           message=message, error=error, token=token), status


@bp.get("/admin/users")
@roles("admin")
def page() -> Any:
    """Users and API clients."""
    return _render()


def _add(db: Any, name: str) -> Any:
    language = request.form.get("language") or None
    user = add_user(db, name, request.form.get("password", ""), request.form.get("role", ""))
    audit.record(db, g.actor, "user.add", user.username, user.role)
    if language:
        set_language(db, user.username, language)
        audit.record(db, g.actor, "user.language", user.username, language)
    return _render(message=_("User %(name)s added (%(role)s).", name=user.username,
                             role=_role(user.role)))


def _role(role: str) -> str:
    from central.i18n import label

    return label("role", role)


@bp.post("/admin/users")
@roles("admin")
def change() -> Any:
    """Add a user, disable or enable one, set their language, register an API client or revoke
    its token (one form per action)."""
    db = get_db()
    action = request.form.get("action", "")
    name = request.form.get("username", "").strip().lower()
    try:
        if action == "add":
            return _add(db, name)
        if action == "disable" and name == g.actor:
            return _render(error=_("You cannot disable your own account: ask another "
                                   "administrator."), status=400)
        if action in ("disable", "enable"):
            set_disabled(db, name, action == "disable")
            audit.record(db, g.actor, f"user.{action}", name)
            text = (_("User %(name)s disabled.", name=name) if action == "disable"
                    else _("User %(name)s enabled.", name=name))
            return _render(message=text)
        if action == "language":
            language = request.form.get("language") or None
            set_language(db, name, language)
            audit.record(db, g.actor, "user.language", name, language or "default")
            return _render(message=_("Language of %(name)s changed.", name=name))
        if action == "client":
            role = request.form.get("role", "")
            token = add_api_client(db, name, role)
            audit.record(db, g.actor, "api_client.add", name, role)
            return _render(message=_("API client %(name)s registered (%(role)s): copy its token "
                                     "now.", name=name, role=_role(role)), token=token)
        if action == "revoke":
            revoke_api_client(db, name)
            audit.record(db, g.actor, "api_client.revoke", name)
            return _render(message=_("Token of API client %(name)s revoked.", name=name))
    except UserError as exc:
        return _render(error=str(exc), status=400)
    return _render(error=_("Unknown action: use the forms on this page."), status=400)
