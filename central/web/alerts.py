"""Alerts: the operator's queue and alert pages, and the workflow API (ack, resolve, assign,
mute, and the same on many alerts at once).

Every decision writes an audit row whose subject is the alert id (one per alert, also when a
group is handled at once); those rows are the alert's history (who did what, when). Listing
and triage (grouping, filters) are in :mod:`central.web.alertlist`.
"""

from __future__ import annotations

import time
from typing import Any

from flask import Blueprint, abort, current_app, g, jsonify, render_template, request
from flask_babel import gettext as _

from central import audit
from central.db import event_row, get_db
from central.i18n import LABELS
from central.triage import SEVERITIES, STATUSES, escalate_due
from central.web import (
    procedures,
    suppressions,  # the false-alarm hook after a resolution
)
from central.web.auth import roles
from central.web.httpjson import json_object
from central.web.openapi import doc

bp = Blueprint("alerts", __name__)

OUTCOMES = ("true_alert", "false_alarm", "test", "duplicate")
HANDLERS = ("operator", "supervisor")
"""Roles that handle live alerts (the privacy officer does not)."""
MAX_BULK = 1000
"""Most alerts one bulk request acts on (a group's ids)."""


@bp.get("/")
@roles(*HANDLERS)
def page() -> str:
    """The live alert queue: triage order, repeats folded, filters in the URL."""
    db = get_db()
    escalate_due(db, current_app.config["ALERTS"].escalate_after_s)
    types = sorted({*LABELS["event_type"], *(r[0] for r in db.execute(
        "SELECT DISTINCT type FROM events WHERE status != 'resolved'"))})
    cameras = [r[0] for r in db.execute(
        "SELECT DISTINCT site || '/' || camera FROM events WHERE status != 'resolved' ORDER BY 1")]
    chosen = {k: request.args.get(k, "") for k in ("severity", "type", "camera", "status")}
    return render_template("alerts/queue.html", severities=SEVERITIES, types=types,
                           cameras=cameras, statuses=(*STATUSES, "all"), chosen=chosen)


def _load(alert_id: str) -> dict[str, Any]:
    rows = list(get_db().query("SELECT * FROM events WHERE id = ?", [alert_id]))
    if not rows:
        abort(404, _("no alert %(id)s", id=alert_id))
    return rows[0]


def history(alert_id: str) -> list[dict[str, Any]]:
    """Who did what to an alert, oldest first (from the audit trail)."""
    return [dict(r) for r in get_db().query(
        "SELECT ts, actor, action, why FROM audit WHERE subject = ? ORDER BY ts, id", [alert_id])]


@bp.get("/alerts/<alert_id>")
@roles(*HANDLERS)
def alert_page(alert_id: str) -> str:
    """One alert: details, procedure, still, clip player, history, resolve and assign forms."""
    row = _load(alert_id)
    db = get_db()
    audit.record(db, g.actor, "alert.view", alert_id)
    assignees = [r["username"] for r in db.query(
        "SELECT username FROM users WHERE disabled = 0 AND role IN ('operator', 'supervisor') "
        "ORDER BY username")]
    stored = db.execute("SELECT 1 FROM clips WHERE event_id = ?", [alert_id]).fetchone()
    return render_template("alerts/detail.html", a=event_row(row), history=history(alert_id),
                           outcomes=OUTCOMES, assignees=assignees, clip_stored=bool(stored),
                           procedure=procedures.for_alert(db, row["type"], row["site"],
                                                          row["camera"]))


@bp.get("/api/v1/alerts/<alert_id>")
@roles(*HANDLERS)
@doc("One alert")
def get_alert(alert_id: str) -> Any:
    return jsonify(event_row(_load(alert_id)))


@bp.get("/api/v1/alerts/<alert_id>/history")
@roles(*HANDLERS)
@doc("Who did what to an alert, oldest first")
def get_history(alert_id: str) -> Any:
    _load(alert_id)
    return jsonify(history=history(alert_id))


def _body() -> dict[str, Any]:
    return json_object(form_ok=True)


def _comment(body: dict[str, Any], required: bool = False) -> str:
    comment = body.get("comment", "")
    if not isinstance(comment, str) or len(comment) > 2000:
        abort(400, _("comment must be a string of at most 2000 characters"))
    if required and not comment.strip():
        abort(400, _("a comment is required: say what was seen and done"))
    return comment.strip()


def _outcome(body: dict[str, Any]) -> str:
    outcome = body.get("outcome")
    if outcome not in OUTCOMES:
        abort(400, _("outcome must be one of %(values)s", values=", ".join(OUTCOMES)))
    return str(outcome)


def _operator(body: dict[str, Any]) -> str:
    operator = body.get("operator") or g.actor
    if not isinstance(operator, str) or not operator or len(operator) > 100:
        abort(400, _("operator must be a non-empty string"))
    if g.identity.via == "session" and operator != g.actor:
        abort(403, _("a person acknowledges as themselves; only integrations name an operator"))
    return operator


def _audit_row(db: Any, action: str, alert_id: str, why: str, now: float) -> None:
    """An audit row inside the caller's write transaction (one per alert acted on)."""
    db.execute("INSERT INTO audit (ts, actor, action, subject, why) VALUES (?, ?, ?, ?, ?)",
               [now, g.actor, action, alert_id, why])


def _act(db: Any, action: str, alert_id: str, body: dict[str, Any], now: float) -> str | None:
    """Apply one decision to one alert inside the caller's write transaction: ``None`` when
    done (and audited), else why not (``missing``, or the alert's status)."""
    row = db.execute("SELECT status, muted_at FROM events WHERE id = ?", [alert_id]).fetchone()
    if row is None:
        return "missing"
    status = row[0]
    if action == "ack":
        if status != "new":
            return str(status)
        db.execute("UPDATE events SET status='acknowledged', acked_by=?, acked_at=?, "
                   "ack_comment=?, updated_at=? WHERE id=?",
                   [body["operator"], now, body["comment"], now, alert_id])
        _audit_row(db, "alert.ack", alert_id, body["comment"], now)
    elif action == "resolve":
        if status == "resolved":
            return str(status)
        db.execute(
            "UPDATE events SET status='resolved', outcome=?, resolved_by=?, resolved_at=?, "
            "resolve_comment=?, acked_by=COALESCE(acked_by, ?), acked_at=COALESCE(acked_at, ?), "
            "updated_at=? WHERE id=?",
            [body["outcome"], g.actor, now, body["comment"], g.actor, now, now, alert_id])
        _audit_row(db, "alert.resolve", alert_id, f"{body['outcome']}: {body['comment']}", now)
    else:  # mute / unmute: silence this alert's sound on every screen (or let it sound again)
        muted = action == "mute"
        if (row[1] is not None) == muted:
            return "muted" if muted else "unmuted"
        db.execute("UPDATE events SET muted_at=?, muted_by=?, updated_at=? WHERE id=?",
                   [now if muted else None, g.actor if muted else None, now, alert_id])
        _audit_row(db, f"alert.{action}", alert_id, "", now)
    return None


def _act_one(action: str, alert_id: str, body: dict[str, Any]) -> Any:
    db = get_db()
    with db.conn:
        db.execute("BEGIN IMMEDIATE")
        refused = _act(db, action, alert_id, body, time.time())
        if refused == "missing":
            abort(404, _("no alert %(id)s", id=alert_id))
        if refused is not None and action in ("ack", "resolve"):
            abort(409, _("alert %(id)s is already %(status)s", id=alert_id,
                         status=refused))
    return jsonify(event_row(_load(alert_id)))


@bp.post("/api/v1/alerts/<alert_id>/ack")
@roles(*HANDLERS)
@doc("Acknowledge a new alert", body={"comment": {"type": "string", "maxLength": 2000},
                                      "operator": {"type": "string", "maxLength": 100}})
def ack(alert_id: str) -> Any:
    body = _body()
    return _act_one("ack", alert_id, {"comment": _comment(body), "operator": _operator(body)})


@bp.post("/api/v1/alerts/<alert_id>/resolve")
@roles(*HANDLERS)
@doc("Resolve an alert with an outcome and a comment",
     body={"outcome": {"enum": list(OUTCOMES)}, "comment": {"type": "string", "maxLength": 2000}},
     required=["outcome", "comment"])
def resolve(alert_id: str) -> Any:
    body = _body()
    outcome = _outcome(body)
    answer = _act_one("resolve", alert_id, {"outcome": outcome, "comment": _comment(body, True)})
    suppressions.on_resolved(alert_id, outcome, g.actor)  # false alarm -> suppression
    return answer


@bp.post("/api/v1/alerts/<alert_id>/mute")
@roles(*HANDLERS)
@doc("Silence an alert's sound on every screen (muted: false lets it sound again); audited",
     body={"muted": {"type": "boolean"}})
def mute(alert_id: str) -> Any:
    muted = _body().get("muted", True)
    if muted not in (True, False, "true", "false"):
        abort(400, _("muted must be true or false"))
    return _act_one("mute" if muted in (True, "true") else "unmute", alert_id, {})


@bp.post("/api/v1/alerts/bulk")
@roles(*HANDLERS)
@doc("Acknowledge, resolve, mute or unmute many alerts at once (a group of repeats): each is "
     "audited on its own; those already in that state are listed as skipped",
     body={"action": {"enum": ["ack", "resolve", "mute", "unmute"]},
           "ids": {"type": "array", "items": {"type": "string", "maxLength": 100},
                   "maxItems": MAX_BULK},
           "outcome": {"enum": list(OUTCOMES)}, "comment": {"type": "string", "maxLength": 2000}},
     required=["action", "ids"])
def bulk() -> Any:
    body = json_object()
    action = body.get("action")
    if action not in ("ack", "resolve", "mute", "unmute"):
        abort(400, _("action must be one of %(values)s", values="ack, resolve, mute, unmute"))
    ids = body.get("ids")
    if (not isinstance(ids, list) or not 1 <= len(ids) <= MAX_BULK
            or not all(isinstance(i, str) and 0 < len(i) <= 100 for i in ids)):
        abort(400, _("ids must be a list of 1 to %(n)d alert ids", n=MAX_BULK))
    args: dict[str, Any] = {}
    if action == "ack":
        args = {"comment": _comment(body), "operator": _operator(body)}
    elif action == "resolve":
        args = {"outcome": _outcome(body), "comment": _comment(body, required=True)}
    db = get_db()
    done: list[str] = []
    skipped: list[dict[str, str]] = []
    now = time.time()
    with db.conn:
        db.execute("BEGIN IMMEDIATE")
        for alert_id in dict.fromkeys(ids):
            refused = _act(db, str(action), alert_id, args, now)
            if refused is None:
                done.append(alert_id)
            else:
                skipped.append({"id": alert_id, "reason": refused})
    if action == "resolve":
        for alert_id in done:  # false alarm -> suppression, after the resolutions are stored
            suppressions.on_resolved(alert_id, args["outcome"], g.actor)
    return jsonify(action=action, done=done, skipped=skipped)


@bp.post("/api/v1/alerts/<alert_id>/assign")
@roles(*HANDLERS)
@doc("Assign an alert to an operator (an active operator or supervisor user)",
     body={"operator": {"type": "string", "maxLength": 100}}, required=["operator"])
def assign(alert_id: str) -> Any:
    body = _body()
    who = body.get("operator")
    if not isinstance(who, str) or not who:
        abort(400, _("operator must be the user name of an active operator or supervisor"))
    db = get_db()
    if not list(db.query("SELECT 1 FROM users WHERE username = ? AND disabled = 0 "
                         "AND role IN ('operator', 'supervisor')", [who])):
        abort(400, _("%(who)s is not an active operator or supervisor", who=repr(who)))
    row = _load(alert_id)
    if row["status"] == "resolved":
        abort(409, _("alert %(id)s is already %(status)s", id=alert_id, status="resolved"))
    db.execute("UPDATE events SET assigned_to = ?, updated_at = ? WHERE id = ?",
               [who, time.time(), alert_id])
    audit.record(db, g.actor, "alert.assign", alert_id, who)
    return jsonify(event_row(_load(alert_id)))
