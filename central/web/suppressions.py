"""The supervisor's false-alarm suppressions: list, revoke, shorten; and the resolve hook.

Every change is audited (:mod:`central.suppressions`) and followed by the camera's new signed
set, published retained for its box.
"""

from __future__ import annotations

import logging
import time
from typing import Any

from flask import Blueprint, current_app, g, jsonify, render_template, request
from flask_babel import gettext as _

from central.db import get_db
from central.suppressions import camera_of, deliver, end, from_false_alarm, shorten
from central.web.auth import roles
from central.web.openapi import doc

log = logging.getLogger(__name__)

bp = Blueprint("suppressions", __name__)
SUPERVISORS = ("supervisor", "admin")
MAX_REASON = 300


def _deliver(cameras: set[tuple[str, str]]) -> int:
    app = current_app
    return deliver(get_db(), app.config.get("SIGNING_KEY"), app.config["HUB_BROKER"],
                   app.config["SUPPRESSIONS"], cameras)


def on_resolved(alert_id: str, outcome: str, actor: str) -> None:
    """Called by the resolve handler: a false alarm creates or extends a suppression, sent to
    its box. Never fails the resolution (a fault is logged; the set stays pending)."""
    if outcome != "false_alarm":
        return
    try:
        db = get_db()
        sid = from_false_alarm(db, alert_id, actor, current_app.config["SUPPRESSIONS"])
        cam = camera_of(db, sid) if sid else None
        if cam is not None:
            _deliver({cam})
    except Exception:
        log.exception("suppression from false alarm %s failed", alert_id)


def _rows() -> list[dict[str, Any]]:
    return [dict(r) for r in get_db().query(
        "SELECT id, site, camera, rule, zone, x, y, w, h, source_event, created_at, created_by, "
        "expires_at, state, ended_at, ended_by, events FROM suppressions "
        "ORDER BY state = 'active' DESC, created_at DESC LIMIT 500")]


def _page(message: str | None = None, error: str | None = None, status: int = 200) -> Any:
    return render_template("suppressions/list.html", rows=_rows(),
                           auto=current_app.config["SUPPRESSIONS"].auto,
                           message=message, error=error), status


@bp.get("/suppressions")
@roles(*SUPERVISORS)
def page() -> Any:
    """Every suppression, active first; sets still pending are published again."""
    _deliver(set())
    return _page()


@bp.post("/suppressions")
@roles(*SUPERVISORS)
def change() -> Any:
    """Revoke a suppression, or shorten it to a number of hours from now."""
    db = get_db()
    sid = request.form.get("id", "")
    action = request.form.get("action", "")
    reason = request.form.get("reason", "").strip()[:MAX_REASON]
    cam = camera_of(db, sid)
    if cam is None:
        return _page(error=_("No such suppression."), status=404)
    if not reason:
        return _page(error=_("Give a reason."), status=400)
    if action == "revoke":
        done = end(db, sid, g.actor, reason)
    elif action == "shorten":
        try:
            hours = float(request.form.get("hours", ""))
        except ValueError:
            hours = -1.0
        if not 0.0 <= hours <= 24 * 30:
            return _page(error=_("Hours must be between 0 and 720."), status=400)
        done = shorten(db, sid, g.actor, time.time() + hours * 3600, reason)
    else:
        return _page(error=_("Unknown action."), status=400)
    if not done:
        return _page(error=_("This suppression is no longer active or already ends sooner."),
                     status=409)
    _deliver({cam})
    return _page(message=_("Done; the camera's box receives the new set."))


@bp.get("/api/v1/suppressions")
@roles(*SUPERVISORS)
@doc("False-alarm suppressions, active first (at most 500)")
def list_api() -> Any:
    return jsonify(suppressions=_rows())
