"""Alerts: the operator's queue and alert pages, and the workflow API (ack, resolve, assign).

Every decision writes an audit row whose subject is the alert id; those rows are the
alert's history (who did what, when).
"""

from __future__ import annotations

import time
from typing import Any

from flask import Blueprint, abort, g, jsonify, render_template, request

from central import audit
from central.db import event_row, get_db
from central.web import suppressions  # the false-alarm hook in resolve()
from central.web.auth import roles
from central.web.httpjson import json_object
from central.web.openapi import doc

bp = Blueprint("alerts", __name__)

STATUSES = ("new", "acknowledged", "resolved")
OUTCOMES = ("true_alert", "false_alarm", "test", "duplicate")
HANDLERS = ("operator", "supervisor")
"""Roles that handle live alerts (the privacy officer does not)."""


@bp.get("/")
@roles(*HANDLERS)
def page() -> str:
    """The live alert queue (its script polls the API every second)."""
    return render_template("alerts/queue.html")


def _load(alert_id: str) -> dict[str, Any]:
    rows = list(get_db().query("SELECT * FROM events WHERE id = ?", [alert_id]))
    if not rows:
        abort(404, f"no alert {alert_id}")
    return rows[0]


def history(alert_id: str) -> list[dict[str, Any]]:
    """Who did what to an alert, oldest first (from the audit trail)."""
    return [dict(r) for r in get_db().query(
        "SELECT ts, actor, action, why FROM audit WHERE subject = ? ORDER BY ts, id", [alert_id])]


@bp.get("/alerts/<alert_id>")
@roles(*HANDLERS)
def alert_page(alert_id: str) -> str:
    """One alert: details, clip player, history, resolve and assign forms."""
    row = _load(alert_id)
    db = get_db()
    audit.record(db, g.actor, "alert.view", alert_id)
    assignees = [r["username"] for r in db.query(
        "SELECT username FROM users WHERE disabled = 0 AND role IN ('operator', 'supervisor') "
        "ORDER BY username")]
    return render_template("alerts/detail.html", a=event_row(row), history=history(alert_id),
                           outcomes=OUTCOMES, assignees=assignees)


MAX_PAGE = 1000
MAX_OFFSET = 10_000_000
ORDERS = {"newest": "started_at DESC, id",
          "queue": "CASE status WHEN 'new' THEN 0 WHEN 'acknowledged' THEN 1 ELSE 2 END, "
                   "started_at DESC, id"}
"""``queue``: new alerts first, then acknowledged, each newest first (the operators' queue)."""


def _int_arg(name: str, default: int, low: int, high: int) -> int:
    raw = request.args.get(name)
    try:
        value = int(raw) if raw not in (None, "") else default
    except ValueError:
        abort(400, f"{name} must be an integer")
    if not low <= value <= high:
        abort(400, f"{name} must be between {low} and {high}")
    return value


@bp.get("/api/v1/alerts")
@roles(*HANDLERS)
@doc("List alerts (a page of them, with the total matching), newest first or in queue order",
     query={"status": {"enum": [*STATUSES, "open"]},
            "limit": {"type": "integer", "minimum": 1, "maximum": MAX_PAGE},
            "offset": {"type": "integer", "minimum": 0, "maximum": MAX_OFFSET},
            "sort": {"enum": list(ORDERS)}})
def list_alerts() -> Any:
    status = request.args.get("status")
    if status is not None and status not in (*STATUSES, "open"):
        abort(400, f"status must be one of {', '.join(STATUSES)} or open (new and acknowledged)")
    limit = _int_arg("limit", 100, 1, MAX_PAGE)
    offset = _int_arg("offset", 0, 0, MAX_OFFSET)
    sort = request.args.get("sort") or "newest"
    if sort not in ORDERS:
        abort(400, f"sort must be one of {', '.join(ORDERS)}")
    where = ""
    params: list[Any] = []
    if status == "open":
        where = " WHERE status IN ('new', 'acknowledged')"
    elif status:
        where = " WHERE status = ?"
        params.append(status)
    db = get_db()
    total = int(db.execute(f"SELECT COUNT(*) FROM events{where}", params).fetchone()[0])
    rows = db.query(f"SELECT * FROM events{where} ORDER BY {ORDERS[sort]} LIMIT ? OFFSET ?",
                    [*params, limit, offset])
    return jsonify(alerts=[event_row(r) for r in rows], total=total, limit=limit, offset=offset)


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
        abort(400, "comment must be a string of at most 2000 characters")
    if required and not comment.strip():
        abort(400, "a comment is required: say what was seen and done")
    return comment.strip()


@bp.post("/api/v1/alerts/<alert_id>/ack")
@roles(*HANDLERS)
@doc("Acknowledge a new alert", body={"comment": {"type": "string", "maxLength": 2000},
                                      "operator": {"type": "string", "maxLength": 100}})
def ack(alert_id: str) -> Any:
    body = _body()
    comment = _comment(body)
    operator = body.get("operator") or g.actor
    if not isinstance(operator, str) or not operator or len(operator) > 100:
        abort(400, "operator must be a non-empty string")
    if g.identity.via == "session" and operator != g.actor:
        abort(403, "a person acknowledges as themselves; only integrations name an operator")
    db = get_db()
    with db.conn:
        db.execute("BEGIN IMMEDIATE")
        row = db.execute("SELECT status FROM events WHERE id = ?", [alert_id]).fetchone()
        if row is None:
            abort(404, f"no alert {alert_id}")
        if row[0] != "new":
            abort(409, f"alert {alert_id} is already {row[0]}")
        db.execute(
            "UPDATE events SET status='acknowledged', acked_by=?, acked_at=?, ack_comment=? "
            "WHERE id=?",
            [operator, time.time(), comment, alert_id],
        )
    audit.record(db, g.actor, "alert.ack", alert_id, comment)
    return jsonify(event_row(_load(alert_id)))


@bp.post("/api/v1/alerts/<alert_id>/resolve")
@roles(*HANDLERS)
@doc("Resolve an alert with an outcome and a comment",
     body={"outcome": {"enum": list(OUTCOMES)}, "comment": {"type": "string", "maxLength": 2000}},
     required=["outcome", "comment"])
def resolve(alert_id: str) -> Any:
    body = _body()
    outcome = body.get("outcome")
    if outcome not in OUTCOMES:
        abort(400, f"outcome must be one of {', '.join(OUTCOMES)}")
    comment = _comment(body, required=True)
    db = get_db()
    now = time.time()
    with db.conn:
        db.execute("BEGIN IMMEDIATE")
        row = db.execute("SELECT status FROM events WHERE id = ?", [alert_id]).fetchone()
        if row is None:
            abort(404, f"no alert {alert_id}")
        if row[0] == "resolved":
            abort(409, f"alert {alert_id} is already resolved")
        db.execute(
            "UPDATE events SET status='resolved', outcome=?, resolved_by=?, resolved_at=?, "
            "resolve_comment=?, acked_by=COALESCE(acked_by, ?), acked_at=COALESCE(acked_at, ?) "
            "WHERE id=?",
            [outcome, g.actor, now, comment, g.actor, now, alert_id],
        )
    audit.record(db, g.actor, "alert.resolve", alert_id, f"{outcome}: {comment}")
    suppressions.on_resolved(alert_id, outcome, g.actor)  # false alarm -> suppression (hook)
    return jsonify(event_row(_load(alert_id)))


@bp.post("/api/v1/alerts/<alert_id>/assign")
@roles(*HANDLERS)
@doc("Assign an alert to an operator (an active operator or supervisor user)",
     body={"operator": {"type": "string", "maxLength": 100}}, required=["operator"])
def assign(alert_id: str) -> Any:
    body = _body()
    who = body.get("operator")
    if not isinstance(who, str) or not who:
        abort(400, "operator must be the user name of an active operator or supervisor")
    db = get_db()
    if not list(db.query("SELECT 1 FROM users WHERE username = ? AND disabled = 0 "
                         "AND role IN ('operator', 'supervisor')", [who])):
        abort(400, f"{who!r} is not an active operator or supervisor")
    row = _load(alert_id)
    if row["status"] == "resolved":
        abort(409, f"alert {alert_id} is already resolved")
    db.execute("UPDATE events SET assigned_to = ? WHERE id = ?", [who, alert_id])
    audit.record(db, g.actor, "alert.assign", alert_id, who)
    return jsonify(event_row(_load(alert_id)))
