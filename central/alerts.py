"""Alerts: the operator's queue (JSON API and the HTML page) and acknowledgement."""

from __future__ import annotations

import time
from typing import Any

from flask import Blueprint, abort, g, jsonify, render_template, request

from central import audit, get_db
from central.auth import token_required
from central.db import event_row

bp = Blueprint("alerts", __name__)

STATUSES = ("new", "acknowledged", "resolved")


@bp.get("/")
def page() -> str:
    """The alert page. It holds no data itself: its script fetches the API with a token."""
    return render_template("alerts.html")


@bp.get("/api/v1/alerts")
@token_required
def list_alerts() -> Any:
    status = request.args.get("status")
    if status is not None and status not in STATUSES:
        abort(400, f"status must be one of {', '.join(STATUSES)}")
    try:
        limit = min(max(int(request.args.get("limit", 100)), 1), 1000)
    except ValueError:
        abort(400, "limit must be an integer")
    sql = "SELECT * FROM events"
    params: list[Any] = []
    if status:
        sql += " WHERE status = ?"
        params.append(status)
    sql += " ORDER BY started_at DESC LIMIT ?"
    params.append(limit)
    return jsonify(alerts=[event_row(r) for r in get_db().query(sql, params)])


@bp.get("/api/v1/alerts/<alert_id>")
@token_required
def get_alert(alert_id: str) -> Any:
    db = get_db()
    rows = list(db.query("SELECT * FROM events WHERE id = ?", [alert_id]))
    if not rows:
        abort(404, f"no alert {alert_id}")
    return jsonify(event_row(rows[0]))


@bp.post("/api/v1/alerts/<alert_id>/ack")
@token_required
def ack(alert_id: str) -> Any:
    body = request.get_json(silent=True) or {}
    if not isinstance(body, dict):
        abort(400, "body must be a JSON object")
    comment = body.get("comment", "")
    if not isinstance(comment, str) or len(comment) > 2000:
        abort(400, "comment must be a string of at most 2000 characters")
    operator = body.get("operator") or g.actor
    if not isinstance(operator, str) or not operator or len(operator) > 100:
        abort(400, "operator must be a non-empty string")
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
    rows = list(db.query("SELECT * FROM events WHERE id = ?", [alert_id]))
    return jsonify(event_row(rows[0]))
