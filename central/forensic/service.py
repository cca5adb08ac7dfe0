"""Forensic search: investigators ask the boxes, never a central video store.

``POST /api/v1/searches`` (or the form of ``/investigate``) checks the question, records it
(``searches``, one ``search_cameras`` row per camera asked), writes the audit row and hands
it to :class:`central.forensic.fanout.SearchFanout`, which signs it with the hub's key and publishes
it to each camera. ``GET /api/v1/searches/<id>`` shows progress (answered / asked, refused,
offline, still pending) and the results so far, oldest first; a search is complete when
every online camera asked has answered or refused, or when its deadline passes (an offline
or silent box is never waited for beyond ``[search] timeout_s``).

Only the ``investigator`` role searches, and an investigator sees only their own searches
(need to know). Every search, every preview viewed and every clip requested writes an audit
row naming the actor and the case. Privacy officers list searches by requester and case at
``/privacy/searches`` (metadata only: they see no preview).
"""

from __future__ import annotations

import json
import logging
import threading
import time
from datetime import UTC, datetime
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

from central import audit
from central.db import get_db
from central.forensic.fanout import FanoutError, SearchFanout
from central.web.auth import roles
from central.web.httpjson import json_object
from central.web.openapi import doc
from central.web.privacy import AUDITORS
from edge.wire.keys import KeyFileError, load_private
from edge.wire.messages import (
    NAME_PATTERN,
    SEARCH_CLASSES,
    SEARCH_COLOURS,
    SEARCH_DIRECTIONS,
    SearchQuery,
    SearchRequest,
    utc_iso,
    uuid7,
)

log = logging.getLogger(__name__)

bp = Blueprint("forensic", __name__)

INVESTIGATORS = ("investigator",)
_lock = threading.Lock()


class SearchError(ValueError):
    """A search the hub will not send; the text says what to fix."""


# -- the question -------------------------------------------------------------------------
def parse_time(value: Any, what: str) -> float:
    """An ISO 8601 time (``Z``, an offset, or none: taken as UTC) as Unix seconds."""
    if not isinstance(value, str) or not value.strip():
        raise SearchError(f"{what} is required (ISO 8601, e.g. 2026-11-24T14:00:00Z)")
    try:
        t = datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
    except ValueError:
        raise SearchError(f"{what} {value[:40]!r} is not an ISO 8601 time "
                          "(e.g. 2026-11-24T14:00:00Z)") from None
    if t.tzinfo is None:
        t = t.replace(tzinfo=UTC)
    return t.timestamp()


def _choice(data: dict[str, Any], key: str, allowed: tuple[str, ...]) -> str | None:
    v = data.get(key)
    if v in (None, ""):
        return None
    if v not in allowed:
        raise SearchError(f"{key} must be one of {', '.join(allowed)} (got {str(v)[:40]!r})")
    return str(v)


def check_question(data: Any, known: list[tuple[str, str]], max_cameras: int) -> dict[str, Any]:
    """The normalised question of a request body, or :class:`SearchError`."""
    import re

    if not isinstance(data, dict):
        raise SearchError("send a JSON object")
    unknown = set(data) - {"case", "reason", "start", "end", "cameras", "class", "colour", "zone",
                           "direction", "limit"}
    if unknown:
        raise SearchError(f"unknown field(s) {', '.join(sorted(unknown))}; a search asks only "
                          "class, colour (vehicles), zone, direction, cameras and a time window")
    case = data.get("case")
    if not isinstance(case, str) or not case.strip() or len(case) > 100:
        raise SearchError("case (the case reference, 1-100 characters) is required")
    reason = data.get("reason")
    if not isinstance(reason, str) or len(reason.strip()) < 5 or len(reason) > 300:
        raise SearchError("reason (why this search is needed, 5-300 characters) is required")
    start, end = parse_time(data.get("start"), "start"), parse_time(data.get("end"), "end")
    if end < start:
        raise SearchError("end is before start")
    cls = _choice(data, "class", SEARCH_CLASSES)
    colour = _choice(data, "colour", SEARCH_COLOURS)
    direction = _choice(data, "direction", SEARCH_DIRECTIONS)
    if cls == "person" and colour is not None:
        raise SearchError("persons have no attributes: search them by class, time, zone and "
                          "direction only (colour is for vehicles)")
    zone = data.get("zone") or None
    if zone is not None and (not isinstance(zone, str) or not re.match(NAME_PATTERN, zone)):
        raise SearchError("zone must be a zone name (lower-case letters, digits, - and _)")
    limit = data.get("limit", 100)
    if not isinstance(limit, int) or isinstance(limit, bool) or not 1 <= limit <= 500:
        raise SearchError("limit must be an integer from 1 to 500")
    cams = data.get("cameras") or None
    if cams is None:
        cameras = list(known)
    else:
        if not isinstance(cams, list) or not all(isinstance(c, str) for c in cams):
            raise SearchError("cameras must be a list of 'site/camera' names")
        cameras = []
        for c in cams:
            site, _, camera = c.strip().partition("/")
            if (site, camera) not in known:
                raise SearchError(f"unknown camera {c[:80]!r} (not a camera this hub knows)")
            if (site, camera) not in cameras:
                cameras.append((site, camera))
    if not cameras:
        raise SearchError("no camera to ask: this hub knows no camera yet")
    if len(cameras) > max_cameras:
        raise SearchError(f"{len(cameras)} cameras named; at most {max_cameras} per search")
    return {"case": case.strip(), "reason": reason.strip(), "start": start, "end": end,
            "class": cls, "colour": colour, "zone": zone, "direction": direction,
            "limit": limit, "cameras": cameras}


def known_cameras(db: Any) -> list[tuple[str, str]]:
    return [(r[0], r[1]) for r in db.execute("SELECT site, camera FROM cameras ORDER BY key")]


def start_search(db: Any, fanout: SearchFanout, requester: str, q: dict[str, Any],
                 timeout_s: float, expiry_s: float) -> str:
    """Record a checked question, publish it to its cameras; returns the search id."""
    sid = uuid7()
    now = time.time()
    req = SearchRequest(
        id=sid, requester=requester, case=q["case"], reason=q["reason"],
        issued_at=utc_iso(now), expires_at=utc_iso(now + expiry_s),
        window_start=utc_iso(q["start"]), window_end=utc_iso(q["end"]),
        query=SearchQuery(q["class"], q["colour"], q["zone"], q["direction"]), limit=q["limit"],
    )
    offline = {(r[0], r[1]) for r in db.execute("SELECT site, camera FROM cameras WHERE state = "
                                                "'offline'")}
    with db.conn:
        db.execute("BEGIN IMMEDIATE")
        db.execute(
            "INSERT INTO searches (id, requester, case_ref, reason, created_at, deadline, expires_at,"
            " window_start, window_end, query, asked, result_limit) "
            "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            [sid, requester, q["case"], q["reason"], now, now + timeout_s, now + expiry_s,
             req.window_start, req.window_end, json.dumps(req.query.to_wire()),
             len(q["cameras"]), q["limit"]],
        )
        db.conn.executemany(
            "INSERT INTO search_cameras (search_id, site, camera, state) VALUES (?, ?, ?, ?)",
            [(sid, s, c, "offline" if (s, c) in offline else "asked") for s, c in q["cameras"]],
        )
    audit.record(db, requester, "search", f"search {sid}",
                 f"case {q['case']}: {q['reason']}"[:500])
    fanout.publish(req, q["cameras"])
    log.info("search %s by %s (case %s) sent to %d camera(s)", sid, requester, q["case"],
             len(q["cameras"]))
    return sid


def fanout() -> SearchFanout:
    """This app's fan-out client (made at the first search); 503 when it cannot be."""
    app = current_app
    with _lock:
        fo = app.extensions.get("vigie_search")
        if fo is None:
            path = app.config.get("SIGNING_KEY")
            if not path:
                abort(503, "this hub has no signing_key, so boxes would refuse its searches: "
                           "run `vigie hub keygen --config HUB.toml` and enrol the boxes with the "
                           "printed key")
            try:
                key = load_private(path)
            except KeyFileError as exc:
                abort(503, f"cannot use the hub signing key: {exc}")
            fo = SearchFanout(app.config["DATABASE"], app.config["HUB_BROKER"], key)
            app.extensions["vigie_search"] = fo
    try:
        fo.start()
    except FanoutError as exc:
        abort(503, str(exc))
    return fo


# -- progress and results -------------------------------------------------------------------
def search_view(db: Any, sid: str, now: float | None = None) -> dict[str, Any] | None:
    """A search, its progress and its results (without preview bytes), for the API and pages."""
    row = db.execute("SELECT * FROM searches WHERE id = ?", [sid]).fetchone()
    if row is None:
        return None
    cols = [d[0] for d in db.execute("SELECT * FROM searches LIMIT 0").description]
    s = dict(zip(cols, row, strict=True))
    now = time.time() if now is None else now
    cams = [dict(zip(("site", "camera", "state", "reason", "results"), r, strict=True))
            for r in db.execute("SELECT site, camera, state, reason, results FROM search_cameras "
                                "WHERE search_id = ? ORDER BY site, camera", [sid])]
    counts = {k: sum(1 for c in cams if c["state"] == k)
              for k in ("answered", "refused", "offline", "asked")}
    timed_out = counts["asked"] > 0 and now > s["deadline"]
    results = []
    for r in db.execute(
        "SELECT id, site, camera, class, first_seen, last_seen, zones, direction, colour, "
        "colour_confidence, preview IS NOT NULL FROM search_results WHERE search_id = ? "
        "ORDER BY first_seen, site, camera", [sid],
    ):
        results.append({
            "id": r[0], "site": r[1], "camera": r[2], "class": r[3], "first_seen": r[4],
            "last_seen": r[5], "zones": json.loads(r[6]), "direction": r[7], "colour": r[8],
            "colour_confidence": r[9],
            "preview_url": f"/api/v1/searches/{sid}/results/{r[0]}/preview" if r[10] else None,
            "clip_request_url": f"/api/v1/searches/{sid}/results/{r[0]}/clip",
        })
    return {
        "id": sid, "requester": s["requester"], "case": s["case_ref"], "reason": s["reason"],
        "created_at": utc_iso(s["created_at"]), "deadline": utc_iso(s["deadline"]),
        "window": {"start": s["window_start"], "end": s["window_end"]},
        "query": json.loads(s["query"]),
        "progress": {"asked": s["asked"], "answered": counts["answered"],
                     "refused": counts["refused"], "offline": counts["offline"],
                     "pending": 0 if timed_out else counts["asked"],
                     "timed_out": counts["asked"] if timed_out else 0},
        "complete": counts["asked"] == 0 or timed_out,
        "cameras": cams,
        "results": results,
    }


def _own_search(sid: str) -> dict[str, Any]:
    view = search_view(get_db(), sid)
    if view is None or view["requester"] != g.actor:
        abort(404, f"no search {sid} of yours")  # another investigator's search is not shown
    return view


def _result(sid: str, rid: str) -> tuple[dict[str, Any], Any]:
    view = _own_search(sid)
    if not rid.isdigit():
        abort(404, f"no result {rid[:40]!r} in search {sid}")
    row = get_db().execute("SELECT site, camera, first_seen, last_seen, preview FROM "
                           "search_results WHERE id = ? AND search_id = ?", [int(rid), sid]).fetchone()
    if row is None:
        abort(404, f"no result {rid} in search {sid}")
    return view, row


_BODY: dict[str, dict[str, Any]] = {
    "case": {"type": "string"}, "reason": {"type": "string"}, "start": {"type": "string"},
    "end": {"type": "string"}, "cameras": {"type": "array", "items": {"type": "string"}},
    "class": {"type": "string", "enum": list(SEARCH_CLASSES)},
    "colour": {"type": "string", "enum": list(SEARCH_COLOURS)}, "zone": {"type": "string"},
    "direction": {"type": "string", "enum": list(SEARCH_DIRECTIONS)},
    "limit": {"type": "integer", "minimum": 1, "maximum": 500},
}


def _create(data: Any) -> str:
    db = get_db()
    cfg = current_app.config["SEARCH"]
    try:
        q = check_question(data, known_cameras(db), cfg.max_cameras)
    except SearchError as exc:
        abort(400, str(exc))
    return start_search(db, fanout(), g.actor, q, cfg.timeout_s, cfg.expiry_s)


@bp.post("/api/v1/searches")
@roles(*INVESTIGATORS)
@doc("Start a forensic search of the boxes (audited)", body=_BODY,
     required=["case", "reason", "start", "end"])
def api_create() -> Any:
    sid = _create(json_object())
    return jsonify(id=sid, url=f"/api/v1/searches/{sid}"), 202


@bp.get("/api/v1/searches/<sid>")
@roles(*INVESTIGATORS)
@doc("A search's progress and results so far")
def api_get(sid: str) -> Any:
    return jsonify(_own_search(sid))


@bp.get("/api/v1/searches/<sid>/results/<rid>/preview")
@roles(*INVESTIGATORS)
@doc("A result's anonymised preview still (audited)", produces="image/jpeg")
def api_preview(sid: str, rid: str) -> Any:
    view, row = _result(sid, rid)
    if row[4] is None:
        abort(404, "this result has no preview (persons never have one)")
    audit.record(get_db(), g.actor, "search.preview", f"search {sid} result {rid} ({row[0]}/{row[1]})",
                 f"case {view['case']}")
    resp = Response(bytes(row[4]), mimetype="image/jpeg")
    resp.headers["Cache-Control"] = "no-store"
    return resp


@bp.post("/api/v1/searches/<sid>/results/<rid>/clip")
@roles(*INVESTIGATORS)
@doc("Request the anonymised clip of a result (audited)")
def api_clip(sid: str, rid: str) -> Any:
    """Boxes keep no recorded video (only seconds of pre-roll in memory), so a clip cannot be
    cut after the fact: this returns the event clips the box already uploaded for that camera
    while the track was seen (same upload path as event clips), or 404 saying so."""
    view, row = _result(sid, rid)
    db = get_db()
    audit.record(db, g.actor, "search.clip_request", f"search {sid} result {rid} ({row[0]}/{row[1]})",
                 f"case {view['case']}")
    clips = [{"event_id": r[0], "url": f"/api/v1/events/{r[0]}/clip"} for r in db.execute(
        "SELECT e.id FROM events e JOIN clips c ON c.event_id = e.id WHERE e.site = ? AND "
        "e.camera = ? AND e.started_at <= ? AND COALESCE(e.ended_at, e.started_at) >= ? "
        "ORDER BY e.started_at", [row[0], row[1], row[3], row[2]])]
    if not clips:
        abort(404, "no event clip covers this track: boxes keep no recorded video (only a few "
                   "seconds of pre-roll in memory), so a clip exists only where an event was "
                   "raised on that camera while the track was seen")
    return jsonify(clips=clips)


# -- pages ------------------------------------------------------------------------------------
def my_searches(actor: str) -> list[dict[str, Any]]:
    return [dict(zip(("id", "case", "reason", "created_at", "asked"), r, strict=True))
            for r in get_db().execute("SELECT id, case_ref, reason, created_at, asked FROM searches "
                                      "WHERE requester = ? ORDER BY created_at DESC LIMIT 100",
                                      [actor])]


def _form_page(error: str | None = None, status: int = 200) -> Any:
    return render_template("forensic/investigate.html", error=error, form=request.form,
                           searches=my_searches(g.actor), classes=SEARCH_CLASSES,
                           colours=SEARCH_COLOURS, directions=SEARCH_DIRECTIONS), status


@bp.get("/investigate")
@roles(*INVESTIGATORS)
def page() -> Any:
    """The search form and this investigator's searches."""
    return _form_page()


@bp.post("/investigate")
@roles(*INVESTIGATORS)
def page_create() -> Any:
    f = request.form
    data: dict[str, Any] = {k: f.get(k, "") for k in ("case", "reason", "start", "end", "class",
                                                       "colour", "zone", "direction")}
    cams = [c for c in f.get("cameras", "").replace(",", " ").split() if c]
    if cams:
        data["cameras"] = cams
    try:
        data["limit"] = int(f.get("limit") or 100)
    except ValueError:
        return _form_page("limit must be an integer", 400)
    db = get_db()
    cfg = current_app.config["SEARCH"]
    try:
        q = check_question(data, known_cameras(db), cfg.max_cameras)
    except SearchError as exc:
        return _form_page(str(exc), 400)
    sid = start_search(db, fanout(), g.actor, q, cfg.timeout_s, cfg.expiry_s)
    return redirect(f"/investigate/{sid}", 303)


@bp.get("/investigate/<sid>")
@roles(*INVESTIGATORS)
def page_search(sid: str) -> Any:
    """One search: progress and results, refreshed until complete."""
    return render_template("forensic/investigation.html", s=_own_search(sid))


# -- retention ---------------------------------------------------------------------------------
def purge_results(db: Any, retention_days: int, now: float | None = None) -> int:
    """Delete the results (rows and previews) of searches made more than ``retention_days``
    ago; the searches themselves (who asked what, for which case) stay, like the audit log."""
    cutoff = (time.time() if now is None else now) - retention_days * 86400
    with db.conn:
        n = db.execute("DELETE FROM search_results WHERE search_id IN (SELECT id FROM searches "
                       "WHERE created_at < ?)", [cutoff]).rowcount
    if n:
        log.info("retention: deleted %d search result(s) of searches before %s", n,
                 utc_iso(cutoff))
    return int(n)


# -- privacy officer: who searched what, for which case -----------------------------------------
def list_searches(requester: str | None, case: str | None, limit: int = 500) -> list[dict[str, Any]]:
    sql = ("SELECT s.id, s.requester, s.case_ref, s.reason, s.created_at, s.window_start, "
           "s.window_end, s.query, s.asked, (SELECT COUNT(*) FROM search_results r WHERE "
           "r.search_id = s.id) FROM searches s")
    clauses, params = [], []
    if requester:
        clauses.append("s.requester = ?")
        params.append(requester)
    if case:
        clauses.append("s.case_ref = ?")
        params.append(case)
    if clauses:
        sql += " WHERE " + " AND ".join(clauses)
    sql += " ORDER BY s.created_at DESC LIMIT ?"
    keys = ("id", "requester", "case", "reason", "created_at", "window_start", "window_end",
            "query", "asked", "results")
    out = []
    for r in get_db().execute(sql, [*params, limit]):
        d = dict(zip(keys, r, strict=True))
        d["query"] = json.loads(d["query"])
        d["created_at"] = utc_iso(d["created_at"])
        out.append(d)
    return out


@bp.get("/api/v1/privacy/searches")
@roles(*AUDITORS)
@doc("Forensic searches by requester and case (metadata only)",
     query={"requester": {"type": "string"}, "case": {"type": "string"}})
def api_privacy_searches() -> Any:
    return jsonify(searches=list_searches(request.args.get("requester"), request.args.get("case")))


@bp.get("/privacy/searches")
@roles(*AUDITORS)
def privacy_page() -> str:
    """Searches by requester and case, for the privacy officer."""
    return render_template("privacy/searches.html",
                           rows=list_searches(request.args.get("requester"),
                                              request.args.get("case")))
