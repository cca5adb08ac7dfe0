"""The privacy officer's audit log: every look and every decision, newest first (page and API)."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, abort, jsonify, render_template, request

from central import get_db
from central.auth import roles
from central.openapi import doc

bp = Blueprint("privacy_pages", __name__)

AUDITORS = ("privacy_officer", "admin")


def audit_rows(limit: int, actor: str | None = None, action: str | None = None) -> list[dict[str, Any]]:
    sql = "SELECT id, ts, actor, action, subject, why FROM audit"
    clauses, params = [], []
    if actor:
        clauses.append("actor = ?")
        params.append(actor)
    if action:
        clauses.append("action = ?")
        params.append(action)
    if clauses:
        sql += " WHERE " + " AND ".join(clauses)
    sql += " ORDER BY id DESC LIMIT ?"
    return [dict(r) for r in get_db().query(sql, [*params, limit])]


def _limit() -> int:
    try:
        limit = int(request.args.get("limit", 200))
    except ValueError:
        abort(400, "limit must be an integer")
    if not 1 <= limit <= 5000:
        abort(400, "limit must be between 1 and 5000")
    return limit


@bp.get("/api/v1/audit")
@roles(*AUDITORS)
@doc("The audit trail, newest first", query={
    "actor": {"type": "string"}, "action": {"type": "string"},
    "limit": {"type": "integer", "minimum": 1, "maximum": 5000}})
def api_audit() -> Any:
    return jsonify(audit=audit_rows(_limit(), request.args.get("actor"), request.args.get("action")))


@bp.get("/privacy/audit")
@roles(*AUDITORS)
def page() -> str:
    """The audit log page."""
    return render_template("audit.html", rows=audit_rows(_limit(), request.args.get("actor"),
                                                          request.args.get("action")))
