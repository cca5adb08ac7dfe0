"""Listing alerts: the flat, paged list (``GET /api/v1/alerts``, kept as it was, with triage
order and filters added) and the operators' queue (``GET /api/v1/alerts/queue``): repeats
folded into groups in triage order (:mod:`central.triage`), paged by group, every open alert
reachable with the totals shown.
"""

from __future__ import annotations

import logging
from typing import Any

from flask import Blueprint, abort, current_app, jsonify, request
from flask_babel import gettext as _

from central.db import event_row, get_db
from central.triage import SEVERITIES, STATUSES, TRIAGE_ORDER, escalate_due, group
from central.web.auth import roles
from central.web.openapi import doc

log = logging.getLogger(__name__)

bp = Blueprint("alertlist", __name__)

HANDLERS = ("operator", "supervisor")
MAX_PAGE = 1000
MAX_OFFSET = 10_000_000
MEMBERS_SHOWN = 200
"""Alerts of one group listed in full (its ``ids`` always lists them all)."""
ORDERS = {"newest": "started_at DESC, id",
          "queue": "CASE status WHEN 'new' THEN 0 WHEN 'acknowledged' THEN 1 ELSE 2 END, "
                   "started_at DESC, id",
          "triage": TRIAGE_ORDER}
"""``queue``: new alerts first, then acknowledged, each newest first. ``triage``: critical,
warning, information; new before acknowledged; the oldest first (the queue page's order)."""
FILTERS: dict[str, dict[str, Any]] = {"status": {"enum": [*STATUSES, "open", "all"]},
           "severity": {"enum": list(SEVERITIES)},
           "type": {"type": "string", "maxLength": 64},
           "camera": {"type": "string", "maxLength": 129}}


def _int_arg(name: str, default: int, low: int, high: int) -> int:
    raw = request.args.get(name)
    try:
        value = int(raw) if raw not in (None, "") else default
    except ValueError:
        abort(400, _("%(name)s must be an integer", name=name))
    if not low <= value <= high:
        abort(400, _("%(name)s must be between %(low)d and %(high)d", name=name, low=low,
                     high=high))
    return value


def _where(default_status: str | None) -> tuple[str, list[Any]]:
    """The filters of the request as SQL (status, severity, type, camera ``cam`` or
    ``site/cam``)."""
    status = request.args.get("status") or default_status
    if status is not None and status not in (*STATUSES, "open", "all"):
        abort(400, _("status must be one of %(values)s (open: new and acknowledged)",
                     values=", ".join((*STATUSES, "open", "all"))))
    clauses: list[str] = []
    params: list[Any] = []
    if status == "open":
        clauses.append("status IN ('new', 'acknowledged')")
    elif status and status != "all":
        clauses.append("status = ?")
        params.append(status)
    severity = request.args.get("severity")
    if severity:
        if severity not in SEVERITIES:
            abort(400, _("severity must be one of %(values)s", values=", ".join(SEVERITIES)))
        clauses.append("severity = ?")
        params.append(severity)
    type_ = request.args.get("type")
    if type_:
        clauses.append("type = ?")
        params.append(type_[:64])
    camera = request.args.get("camera")
    if camera:
        site, _sep, cam = camera[:129].rpartition("/")
        clauses.append("camera = ?" + (" AND site = ?" if site else ""))
        params += [cam, site] if site else [cam]
    return (" WHERE " + " AND ".join(clauses)) if clauses else "", params


@bp.get("/api/v1/alerts")
@roles(*HANDLERS)
@doc("List alerts (a page of them, with the total matching), newest first, in queue order or "
     "in triage order (severity, new before acknowledged, oldest first); filters combine",
     query={**FILTERS,
            "limit": {"type": "integer", "minimum": 1, "maximum": MAX_PAGE},
            "offset": {"type": "integer", "minimum": 0, "maximum": MAX_OFFSET},
            "sort": {"enum": list(ORDERS)}})
def list_alerts() -> Any:
    where, params = _where(None)
    limit = _int_arg("limit", 100, 1, MAX_PAGE)
    offset = _int_arg("offset", 0, 0, MAX_OFFSET)
    sort = request.args.get("sort") or "newest"
    if sort not in ORDERS:
        abort(400, _("sort must be one of %(values)s", values=", ".join(ORDERS)))
    db = get_db()
    total = int(db.execute(f"SELECT COUNT(*) FROM events{where}", params).fetchone()[0])
    rows = db.query(f"SELECT * FROM events{where} ORDER BY {ORDERS[sort]} LIMIT ? OFFSET ?",
                    [*params, limit, offset])
    return jsonify(alerts=[event_row(r) for r in rows], total=total, limit=limit, offset=offset)


_GROUP_COLUMNS = "id, site, camera, type, zone, severity, status, started_at"


def _group_out(rows: list[dict[str, Any]], full: dict[str, dict[str, Any]]) -> dict[str, Any]:
    members = [event_row(full[r["id"]]) for r in rows[:MEMBERS_SHOWN]]
    first, last = members[0], rows[-1]
    return {
        "id": first["id"], "count": len(rows), "ids": [r["id"] for r in rows],
        "site": first["site"], "camera": first["camera"], "type": first["type"],
        "zone": first["zone"], "severity": first["severity"], "status": first["status"],
        "first_started_at": first["started_at"], "last_started_at": last["started_at"],
        "escalated": any(m["escalated_at"] for m in members),
        "muted": all(m["muted_at"] for m in members), "alerts": members,
    }


@bp.get("/api/v1/alerts/queue")
@roles(*HANDLERS)
@doc("The operators' queue: repeats of one camera, type, zone, severity and status within the "
     "grouping window folded into groups, in triage order, a page of groups with the totals "
     "(open alerts by default; status=all for every alert)",
     query={**FILTERS, "limit": {"type": "integer", "minimum": 1, "maximum": MAX_PAGE},
            "offset": {"type": "integer", "minimum": 0, "maximum": MAX_OFFSET}})
def queue() -> Any:
    cfg = current_app.config["ALERTS"]
    db = get_db()
    escalate_due(db, cfg.escalate_after_s)
    where, params = _where("open")
    limit = _int_arg("limit", 200, 1, MAX_PAGE)
    offset = _int_arg("offset", 0, 0, MAX_OFFSET)
    cur = db.execute(f"SELECT {_GROUP_COLUMNS}, (julianday(started_at) - 2440587.5) * 86400.0 "
                     f"AS at FROM events{where} ORDER BY started_at, id", params)
    names = [d[0] for d in cur.description]
    keys = [dict(zip(names, r, strict=True)) for r in cur]
    for r in keys:
        r["at"] = r["at"] or 0.0  # a start SQLite cannot read: grouped as the oldest
    groups = group(keys, cfg.group_window_s, presorted=True)
    shown = groups[offset:offset + limit]
    wanted = [r["id"] for g in shown for r in g.rows[:MEMBERS_SHOWN]]
    full: dict[str, dict[str, Any]] = {}
    for i in range(0, len(wanted), 500):
        chunk = wanted[i:i + 500]
        marks = ", ".join("?" for _ in chunk)
        full.update((r["id"], r) for r in db.query(f"SELECT * FROM events WHERE id IN ({marks})",
                                                   chunk))
    counts = {s: 0 for s in STATUSES}
    for r in keys:
        counts[r["status"]] = counts.get(r["status"], 0) + 1
    escalated = int(db.execute("SELECT COUNT(*) FROM events WHERE status = 'new' "
                               "AND escalated_at IS NOT NULL").fetchone()[0])
    return jsonify(groups=[_group_out(g.rows, full) for g in shown], total_groups=len(groups),
                   total=len(keys), counts=counts, escalated=escalated, limit=limit,
                   offset=offset, group_window_s=cfg.group_window_s,
                   escalate_after_s=cfg.escalate_after_s)
