"""The plan page: the site plan a supervisor uploaded, each camera on it with its state (online,
offline, silent) and its open alerts, refreshed by polling; ``/plan?alert=<id>`` centres on and
highlights that alert's camera (``/plan?camera=site/cam`` the camera). Supervisors and
administrators upload the plan (audited) and place and label the cameras (audited)."""

from __future__ import annotations

import logging
from typing import Any

from flask import (
    Blueprint,
    Response,
    abort,
    current_app,
    g,
    jsonify,
    redirect,
    render_template,
    request,
)
from flask_babel import gettext as _

from central import audit
from central.db import get_db
from central.siteplan import PlanError, check_plan, place_camera, plan_image, plan_info, store_plan
from central.triage import OPEN, SEVERITIES
from central.web.auth import roles
from central.web.cameras import camera_rows
from central.web.httpjson import json_object
from central.web.openapi import doc

log = logging.getLogger(__name__)

bp = Blueprint("plan", __name__)

VIEWERS = ("operator", "supervisor", "admin")
EDITORS = ("supervisor", "admin")
_RANK = {severity: len(SEVERITIES) - i for i, severity in enumerate(SEVERITIES)}


def _message(exc: PlanError) -> str:
    return str(_(exc.template, **exc.params))


def open_alerts() -> dict[str, dict[str, Any]]:
    """Per ``site/camera``: the open alerts' count, highest severity and newest id."""
    out: dict[str, dict[str, Any]] = {}
    for site, camera, severity, n, newest in get_db().execute(
            "SELECT site, camera, severity, COUNT(*), MAX(id) FROM events WHERE status IN (?, ?) "
            "GROUP BY site, camera, severity", OPEN).fetchall():
        entry = out.setdefault(f"{site}/{camera}", {"count": 0, "severity": None, "newest": None})
        entry["count"] += n
        if _RANK.get(severity, 0) > _RANK.get(entry["severity"], 0):
            entry["severity"], entry["newest"] = severity, newest
    return out


def plan_cameras() -> list[dict[str, Any]]:
    """Every camera with its label, position, shown state and open alerts."""
    alerts = open_alerts()
    return [{"key": f"{c['site']}/{c['camera']}", "site": c["site"], "camera": c["camera"],
             "label": c["label"], "x": c["plan_x"], "y": c["plan_y"], "state": c["shown_state"],
             "last_seen": c["last_seen"],
             "open": alerts.get(f"{c['site']}/{c['camera']}",
                                {"count": 0, "severity": None, "newest": None})}
            for c in camera_rows()]


def _focus() -> str | None:
    """The ``site/camera`` the page centres on: the alert's camera, or ``camera=``."""
    alert = request.args.get("alert")
    if alert:
        row = get_db().execute("SELECT site, camera FROM events WHERE id = ?",
                               [alert[:64]]).fetchone()
        if row is None:
            abort(404, _("No alert %(id)s: it may have been purged.", id=alert[:64]))
        return f"{row[0]}/{row[1]}"
    camera = request.args.get("camera")
    return camera[:130] if camera else None


@bp.get("/plan")
@roles(*VIEWERS)
def page() -> Any:
    """The plan page."""
    return _render()


def _render(error: str | None = None, status: int = 200) -> Any:
    plan = plan_info(get_db())
    message = None
    if plan and request.method == "GET" and request.args.get("saved"):
        message = _("Plan saved (%(w)d × %(h)d pixels, metadata removed).", w=plan["width"],
                    h=plan["height"])
    return render_template("plan/plan.html", plan=plan, focus=_focus(),
                           alert=request.args.get("alert", "")[:64],
                           may_edit=g.identity.role in EDITORS, cameras=plan_cameras(),
                           max_kib=current_app.config["PLAN_MAX_BYTES"] // 1024,
                           max_pixels=current_app.config["PLAN_MAX_PIXELS"],
                           error=error, message=message), status


@bp.post("/plan")
@roles(*EDITORS)
def upload() -> Any:
    """Upload the site plan (PNG or JPEG; re-encoded without metadata; audited)."""
    sent = request.files.get("plan")
    data = sent.read(current_app.config["PLAN_MAX_BYTES"] + 1) if sent else b""
    try:
        plan = check_plan(data, current_app.config["PLAN_MAX_BYTES"],
                          current_app.config["PLAN_MAX_PIXELS"])
    except PlanError as exc:
        audit.record(get_db(), g.actor, "plan.refused", "site plan", str(exc)[:300])
        return _render(error=_message(exc), status=400)
    db = get_db()
    store_plan(db, plan, g.actor)
    audit.record(db, g.actor, "plan.upload", "site plan",
                 f"{plan.width}x{plan.height} {plan.mime} sha256 {plan.sha256}")
    return redirect("/plan?saved=1", 303)  # a reload does not send the file again


@bp.get("/plan/image")
@roles(*VIEWERS)
def image() -> Response:
    """The site plan image (as re-encoded at upload)."""
    found = plan_image(get_db())
    if found is None:
        abort(404, _("No site plan has been uploaded yet."))
    resp = Response(found[0], mimetype=found[1])
    resp.headers["Cache-Control"] = "private, max-age=60"
    return resp


@bp.get("/api/v1/plan")
@roles(*VIEWERS)
@doc("The site plan (size, digest) and every camera with its position, state and open alerts")
def api_plan() -> Any:
    return jsonify(plan=plan_info(get_db()), cameras=plan_cameras())


@bp.post("/api/v1/cameras/<site>/<camera>/plan")
@roles(*EDITORS)
@doc("Set a camera's label and its position on the site plan (fractions 0-1; audited)",
     body={"x": {"type": ["number", "null"], "minimum": 0, "maximum": 1},
           "y": {"type": ["number", "null"], "minimum": 0, "maximum": 1},
           "label": {"type": ["string", "null"], "maxLength": 80}})
def api_place(site: str, camera: str) -> Any:
    body = json_object()
    db = get_db()
    try:
        changes = place_camera(db, site[:64], camera[:64], body)
    except PlanError as exc:
        abort(400, _message(exc))
    audit.record(db, g.actor, "camera.place", f"{site}/{camera}",
                 ", ".join(f"{k}={v}" for k, v in changes.items())[:300])
    return jsonify(camera=f"{site}/{camera}", **changes)
