"""The privacy officer's pages and API: the audit log (filter by actor, action, camera and
period), per-camera egress status with privacy alerts, the data inventory and the retention
setting (never above the legal 30 days). The audit log is read-only here: no route changes it,
and the database refuses UPDATE and DELETE on it."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from flask import Blueprint, abort, current_app, g, jsonify, render_template, request

from central import audit
from central.db import get_db
from central.web.auth import roles
from central.web.httpjson import json_object
from central.web.openapi import doc

bp = Blueprint("privacy_pages", __name__)

AUDITORS = ("privacy_officer", "admin")


def _when(text: str | None, end: bool = False) -> float | None:
    """A UTC date (``2026-11-24``, a whole day) or date-time from a filter field."""
    if not text:
        return None
    try:
        dt = datetime.fromisoformat(text.strip().replace("Z", "+00:00"))
    except ValueError:
        abort(400, f"{text!r} is not a date (YYYY-MM-DD) or date-time (YYYY-MM-DDTHH:MM)")
    if dt.tzinfo is None:
        dt = dt.replace(tzinfo=UTC)
    ts = dt.timestamp()
    if end and len(text.strip()) == 10:
        ts += 86400  # "to 2026-11-24" includes that whole day
    return ts


def audit_rows(limit: int, actor: str | None = None, action: str | None = None,
               camera: str | None = None, since: float | None = None,
               until: float | None = None) -> list[dict[str, Any]]:
    """Audit rows, newest first. ``camera`` (``cam`` or ``site/cam``) matches rows about the
    camera itself or about one of its events/alerts/clips."""
    sql = "SELECT id, ts, actor, action, subject, why FROM audit"
    clauses: list[str] = []
    params: list[Any] = []
    if actor:
        clauses.append("actor = ?")
        params.append(actor)
    if action:
        clauses.append("action = ?")
        params.append(action)
    if camera:
        clauses.append("(subject = ? OR subject LIKE ? OR subject IN (SELECT id FROM events "
                       "WHERE camera = ? OR site || '/' || camera = ?))")
        params += [camera, f"%/{camera}", camera, camera]
    if since is not None:
        clauses.append("ts >= ?")
        params.append(since)
    if until is not None:
        clauses.append("ts < ?")
        params.append(until)
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


def _filtered() -> list[dict[str, Any]]:
    a = request.args
    return audit_rows(_limit(), a.get("actor") or None, a.get("action") or None,
                      a.get("camera") or None, _when(a.get("from")), _when(a.get("to"), end=True))


@bp.get("/api/v1/audit")
@roles(*AUDITORS)
@doc("The audit trail, newest first", query={
    "actor": {"type": "string"}, "action": {"type": "string"},
    "camera": {"type": "string", "description": "camera or site/camera"},
    "from": {"type": "string", "description": "UTC date or date-time"},
    "to": {"type": "string", "description": "UTC date (inclusive) or date-time"},
    "limit": {"type": "integer", "minimum": 1, "maximum": 5000}})
def api_audit() -> Any:
    return jsonify(audit=_filtered())


@bp.get("/privacy/audit")
@roles(*AUDITORS)
def page() -> str:
    """The audit log page."""
    return render_template("privacy/audit.html", rows=_filtered())


# -- egress status and privacy alerts ------------------------------------------------------
@bp.get("/api/v1/privacy/egress")
@roles(*AUDITORS)
@doc("Per-camera egress-ledger verification status and the privacy alerts")
def api_egress() -> Any:
    from central.privacy.inventory import egress_status, privacy_alerts

    db = get_db()
    return jsonify(cameras=egress_status(db),
                   alerts=privacy_alerts(db, _limit(), request.args.get("camera") or None))


@bp.get("/privacy/egress")
@roles(*AUDITORS)
def egress_page() -> str:
    """What left each camera, verified against its signed ledger; privacy alerts."""
    from central.privacy.inventory import egress_status, privacy_alerts

    db = get_db()
    return render_template("privacy/egress.html", cameras=egress_status(db),
                           alerts=privacy_alerts(db, _limit(), request.args.get("camera") or None))


# -- data inventory and retention ----------------------------------------------------------
def _language() -> str:
    from flask_babel import get_locale

    return str(get_locale() or "fr")


def _inventory() -> tuple[int, list[Any]]:
    from pathlib import Path

    from flask_babel import gettext

    from central.privacy.inventory import inventory, retention_days

    db = get_db()
    days = retention_days(db, int(current_app.config.get("RETENTION_DAYS", 10)))
    clips = current_app.config.get("CLIPS_DIR")
    return days, inventory(db, days, clips_dir=Path(clips) if clips else None,
                           gettext=lambda m: str(gettext(m)))


# -- processing register (the hub's part) --------------------------------------------------
def _register() -> dict[str, Any]:
    from central.privacy.register import build

    hub = current_app.config.get("HUB_CONFIG")
    return build([], hub, get_db(), None, _language())


@bp.get("/api/v1/privacy/register")
@roles(*AUDITORS)
@doc("The processing register's hub part (every table, box store, message, role and machine "
     "client, described), in the person's language")
def api_register() -> Any:
    return jsonify(_register())


@bp.get("/privacy/register")
@roles(*AUDITORS)
def register_page() -> str:
    """The processing register, generated from what runs."""
    return render_template("privacy/register_page.html", doc=_register())


@bp.get("/api/v1/privacy/inventory")
@roles(*AUDITORS)
@doc("What the hub stores: counts, bytes, oldest item, time until purge; the retention")
def api_inventory() -> Any:
    from central.privacy.inventory import LEGAL_MAX_DAYS

    days, rows = _inventory()
    return jsonify(retention_days=days, legal_max_days=LEGAL_MAX_DAYS,
                   configured_days=current_app.config.get("RETENTION_DAYS"),
                   items=[r.__dict__ for r in rows])


@bp.get("/privacy/inventory")
@roles(*AUDITORS)
def inventory_page() -> str:
    """The data inventory and the retention setting."""
    from central.privacy.inventory import LEGAL_MAX_DAYS

    days, rows = _inventory()
    return render_template("privacy/inventory.html", days=days, legal_max=LEGAL_MAX_DAYS,
                           configured=current_app.config.get("RETENTION_DAYS"), rows=rows,
                           message=None, error=None)


@bp.post("/privacy/retention")
@roles("privacy_officer")
def set_retention_page() -> Any:
    """Change the retention (days, 1..30); audited."""
    from flask_babel import gettext

    from central.privacy.inventory import LEGAL_MAX_DAYS, RetentionError, set_retention

    db = get_db()
    message = error = None
    status = 200
    try:
        days = set_retention(db, request.form.get("days", ""), g.actor)
        audit.record(db, g.actor, "retention.set", "retention_days", f"{days} days")
        message = str(gettext("Retention set to %(days)d days.", days=days))
    except RetentionError as exc:
        error, status = str(exc), 400
    days, rows = _inventory()
    return render_template("privacy/inventory.html", days=days, legal_max=LEGAL_MAX_DAYS,
                           configured=current_app.config.get("RETENTION_DAYS"), rows=rows,
                           message=message, error=error), status


@bp.put("/api/v1/privacy/retention")
@roles("privacy_officer")
@doc("Set the retention in days (1..30, the legal maximum); audited",
     body={"days": {"type": "integer", "minimum": 1, "maximum": 30}}, required=["days"])
def api_set_retention() -> Any:
    from central.privacy.inventory import RetentionError, set_retention

    body = json_object()
    db = get_db()
    try:
        days = set_retention(db, str(body.get("days", "")), g.actor)
    except RetentionError as exc:
        abort(400, str(exc))
    audit.record(db, g.actor, "retention.set", "retention_days", f"{days} days")
    return jsonify(retention_days=days)


# -- quarantine: what boxes sent that the hub refused or could not store --------------------
def _quarantine() -> dict[str, Any]:
    from central.ingest import quarantine

    category = request.args.get("category") or None
    if category is not None and category not in quarantine.CATEGORIES:
        abort(400, f"category must be one of {', '.join(quarantine.CATEGORIES)}")
    db = get_db()
    return {"counts": quarantine.summary(db), "category": category,
            "messages": quarantine.rows(db, _limit(), category)}


@bp.get("/api/v1/privacy/quarantine")
@roles(*AUDITORS)
@doc("Messages the hub refused or could not store (never their payload), with counts by "
     "category; category spoof = a camera touching another camera's event", query={
         "category": {"type": "string", "enum": ["invalid", "spoof", "clock_skew", "unstorable",
                                                 "search"]},
         "limit": {"type": "integer", "minimum": 1, "maximum": 5000}})
def api_quarantine() -> Any:
    return jsonify(**_quarantine())


@bp.get("/privacy/quarantine")
@roles(*AUDITORS)
def quarantine_page() -> str:
    """Quarantined messages, spoof attempts first in the counts."""
    return render_template("privacy/quarantine.html", **_quarantine())
