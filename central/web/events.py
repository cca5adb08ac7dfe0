"""Event search: stored events by type, camera, zone, object class, status, outcome and time
range (``/search``, ``GET /api/v1/events``); CSV export.

Every search and every export writes an audit row (an export needs a reason). Forensic search
(asking the boxes for tracks they never sent) is another thing: :mod:`central.web.forensic`.
"""

from __future__ import annotations

import csv
import io
import json
import re
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from zoneinfo import ZoneInfo

from flask import Blueprint, Response, abort, current_app, g, jsonify, render_template, request
from flask_babel import get_locale
from flask_babel import gettext as _

from central import audit
from central.db import event_row, get_db
from central.i18n import N_, label, when
from central.web.alerts import OUTCOMES, STATUSES
from central.web.auth import roles
from central.web.httpjson import json_object
from central.web.openapi import doc
from edge.wire.messages import EVENT_TYPES

bp = Blueprint("event_search", __name__)

EVENT_SEARCHERS = ("operator", "supervisor", "privacy_officer")
EXPORTERS = ("supervisor", "privacy_officer")
MAX_PER_PAGE = 200
EXPORT_LIMIT = 50_000
CSV_COLUMNS = ("id", "site", "camera", "type", "severity", "state", "started_at", "ended_at",
               "zone", "objects", "status", "acked_by", "outcome", "resolved_by", "resolve_comment",
               "assigned_to")
CSV_HEADERS = {
    "id": N_("Identifier"), "site": N_("Site"), "camera": N_("Camera"), "type": N_("Type"),
    "severity": N_("Severity"), "state": N_("Event state"), "started_at": N_("Started"),
    "ended_at": N_("Ended"), "zone": N_("Zone"), "objects": N_("Objects"), "status": N_("Status"),
    "acked_by": N_("Acknowledged by"), "outcome": N_("Outcome"), "resolved_by": N_("Resolved by"),
    "resolve_comment": N_("Resolution comment"), "assigned_to": N_("Assigned to"),
}
"""The export's column headings, in the requester's language (times in the site's zone)."""
CSV_LABELS = {"type": "event_type", "severity": "severity", "status": "status",
              "outcome": "outcome"}
_TEXT = re.compile(r"^[A-Za-z0-9_. -]{1,64}$")


class EventQueryError(ValueError):
    """An event search filter that cannot be used; the text says which and why."""


@dataclass(frozen=True)
class EventQuery:
    """Validated event search filters."""

    type: str | None = None
    site: str | None = None
    camera: str | None = None
    zone: str | None = None
    object_class: str | None = None
    status: str | None = None
    outcome: str | None = None
    start: str | None = None
    end: str | None = None
    page: int = 1
    per_page: int = 50

    def filters(self) -> dict[str, Any]:
        return {k: v for k, v in self.__dict__.items() if v not in (None, "")
                and k not in ("page", "per_page")}


def _time(value: str, name: str, tz: str) -> str:
    try:
        dt = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        raise EventQueryError(_("%(name)s must be an ISO 8601 time such as 2026-11-23T10:00:00Z",
                                name=name)) from None
    if dt.tzinfo is None:  # a time without its zone is the site's (the search form's)
        dt = dt.replace(tzinfo=ZoneInfo(tz))
    return dt.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"


def parse_event_query(args: Any, tz: str = "UTC") -> EventQuery:
    """Filters from request arguments (a time without its zone is in ``tz``); raises
    :class:`EventQueryError` on a bad one."""
    out: dict[str, Any] = {}
    for key, attr in (("type", "type"), ("site", "site"), ("camera", "camera"), ("zone", "zone"),
                      ("class", "object_class"), ("status", "status"), ("outcome", "outcome")):
        value = (args.get(key) or "").strip()
        if not value:
            continue
        if not _TEXT.match(value):
            raise EventQueryError(_("%(key)s must be 1-64 letters, digits, '_', '-', '.' or spaces",
                                    key=key))
        out[attr] = value
    if out.get("type") and out["type"] not in (*EVENT_TYPES, "camera_silent"):
        raise EventQueryError(_("%(key)s must be one of %(values)s", key="type",
                                values=", ".join((*EVENT_TYPES, "camera_silent"))))
    if out.get("status") and out["status"] not in STATUSES:
        raise EventQueryError(_("%(key)s must be one of %(values)s", key="status",
                                values=", ".join(STATUSES)))
    if out.get("outcome") and out["outcome"] not in OUTCOMES:
        raise EventQueryError(_("%(key)s must be one of %(values)s", key="outcome",
                                values=", ".join(OUTCOMES)))
    for key in ("from", "to"):
        value = (args.get(key) or "").strip()
        if value:
            out["start" if key == "from" else "end"] = _time(value, key, tz)
    for key, default, top in (("page", 1, 100_000), ("per_page", 50, MAX_PER_PAGE)):
        raw = args.get(key)
        try:
            n = int(raw) if raw not in (None, "") else default
        except (TypeError, ValueError):
            raise EventQueryError(_("%(key)s must be an integer", key=key)) from None
        if not 1 <= n <= top:
            raise EventQueryError(_("%(key)s must be between 1 and %(top)d", key=key, top=top))
        out[key] = n
    return EventQuery(**out)


def _where(q: EventQuery) -> tuple[str, list[Any]]:
    clauses: list[str] = []
    params: list[Any] = []
    for col, value in (("type", q.type), ("site", q.site), ("camera", q.camera), ("zone", q.zone),
                       ("status", q.status), ("outcome", q.outcome)):
        if value:
            clauses.append(f"{col} = ?")
            params.append(value)
    if q.object_class:
        # a stored row whose objects are not valid JSON (NaN from an old box) must not make
        # SQLite's json_each fail the whole search: it is matched on the label's text instead
        clauses.append("CASE WHEN json_valid(events.objects) THEN EXISTS (SELECT 1 FROM "
                       "json_each(events.objects) WHERE json_extract(value, '$.label') = ?) "
                       "ELSE instr(events.objects, '\"label\": ' || json_quote(?)) > 0 END")
        params.extend([q.object_class, q.object_class])
    if q.start:
        clauses.append("started_at >= ?")
        params.append(q.start)
    if q.end:
        clauses.append("started_at < ?")
        params.append(q.end)
    return (" WHERE " + " AND ".join(clauses)) if clauses else "", params


def search_events(q: EventQuery, limit: int | None = None) -> tuple[int, list[dict[str, Any]]]:
    """(total matches, this page's events as the API shows them)."""
    db = get_db()
    where, params = _where(q)
    total = db.execute(f"SELECT COUNT(*) FROM events{where}", params).fetchone()[0]
    size = limit or q.per_page
    offset = 0 if limit else (q.page - 1) * q.per_page
    rows = db.query(f"SELECT * FROM events{where} ORDER BY started_at DESC, id LIMIT ? OFFSET ?",
                    [*params, size, offset])
    return int(total), [event_row(r) for r in rows]


def _describe(q: EventQuery) -> str:
    return json.dumps(q.filters(), sort_keys=True)


_QUERY_DOC: dict[str, dict[str, Any]] = {
    **{k: {"type": "string", "maxLength": 64} for k in ("type", "site", "camera", "zone", "class")},
    "status": {"enum": list(STATUSES)}, "outcome": {"enum": list(OUTCOMES)},
    "from": {"type": "string", "format": "date-time"}, "to": {"type": "string", "format": "date-time"},
    "page": {"type": "integer", "minimum": 1, "maximum": 100_000},
    "per_page": {"type": "integer", "minimum": 1, "maximum": MAX_PER_PAGE},
}


@bp.get("/api/v1/events")
@roles(*EVENT_SEARCHERS)
@doc("Search events (audited), paginated", query=_QUERY_DOC)
def api_search() -> Any:
    try:
        q = parse_event_query(request.args)
    except EventQueryError as exc:
        abort(400, str(exc))
    total, events = search_events(q)
    audit.record(get_db(), g.actor, "search", "events", _describe(q))
    return jsonify(total=total, page=q.page, per_page=q.per_page, events=events)


@bp.get("/search")
@roles(*EVENT_SEARCHERS)
def page() -> Any:
    """The event search page: a GET form; results render on the server."""
    error = None
    total, q = 0, EventQuery()
    events: list[dict[str, Any]] = []
    searched = any(request.args.get(k) for k in ("type", "site", "camera", "zone", "class", "status",
                                                  "outcome", "from", "to", "go"))
    if searched:
        try:
            q = parse_event_query(request.args, _site_zone())
            total, events = search_events(q)
            audit.record(get_db(), g.actor, "search", "events", _describe(q))
        except EventQueryError as exc:
            error = str(exc)
    return render_template("events/search.html", q=q, args=request.args, total=total, events=events,
                           error=error, searched=searched, types=EVENT_TYPES, statuses=STATUSES,
                           outcomes=OUTCOMES, may_export=g.identity.role in EXPORTERS)


def _site_zone() -> str:
    return str(current_app.config.get("SITE_TIMEZONE", "Europe/Paris"))


def _csv_cell(col: str, v: Any, language: str, tz: str) -> str:
    if col == "objects":
        return " ".join(o["label"] for o in (v or []))
    if col in CSV_LABELS and v is not None:
        return label(CSV_LABELS[col], v)
    if col in ("started_at", "ended_at"):
        return when(v, language, tz) if v else ""
    return "" if v is None else str(v)


def _csv(events: list[dict[str, Any]]) -> str:
    """The export in the requester's language: headings, coded values and times (site zone)."""
    language, tz = str(get_locale() or "fr"), _site_zone()
    buf = io.StringIO()
    w = csv.writer(buf)
    w.writerow([_(CSV_HEADERS[c]) + (f" ({tz})" if c in ("started_at", "ended_at") else "")
                for c in CSV_COLUMNS])
    for e in events:
        row = []
        for col in CSV_COLUMNS:
            text = _csv_cell(col, e.get(col), language, tz)
            if text[:1] in ("=", "+", "-", "@"):  # no formula injection in spreadsheets
                text = "'" + text
            row.append(text)
        w.writerow(row)
    return buf.getvalue()


def _export(args: Any, reason: Any) -> Response:
    if not isinstance(reason, str) or len(reason.strip()) < 5 or len(reason) > 500:
        abort(400, _("An export needs a reason of 5 to 500 characters (who asked for it, and "
                     "why)."))
    try:
        q = parse_event_query(args)  # the form sends the page's filters with their zone
    except EventQueryError as exc:
        abort(400, str(exc))
    _total, events = search_events(q, limit=EXPORT_LIMIT)
    audit.record(get_db(), g.actor, "export", "events",
                 f"{reason.strip()} | {_describe(q)} | {len(events)} rows")
    resp = Response(_csv(events), mimetype="text/csv")
    resp.headers["Content-Disposition"] = "attachment; filename=vigie-events.csv"
    return resp


@bp.post("/search/export")
@roles(*EXPORTERS)
def export_form() -> Response:
    """CSV export from the search page's form (filters and a required reason)."""
    return _export(request.form, request.form.get("reason"))


@bp.post("/api/v1/events/export")
@roles(*EXPORTERS)
@doc("Export matching events as CSV (audited; a reason is required)",
     body={"reason": {"type": "string", "minLength": 5, "maxLength": 500},
           "filters": {"type": "object", "additionalProperties": {"type": "string"}}},
     required=["reason"], produces="text/csv")
def api_export() -> Response:
    body = json_object()
    filters = body.get("filters") or {}
    if not isinstance(filters, dict) or not all(isinstance(v, str | int) for v in filters.values()):
        abort(400, _("filters must be an object of strings (the search API's parameters)"))
    return _export({k: str(v) for k, v in filters.items()}, body.get("reason"))
