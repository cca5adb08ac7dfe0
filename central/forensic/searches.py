"""Forensic search, the hub's service: investigators ask the boxes, never a central video store.

:func:`check_question` checks a question (case, reason, time window, class, colour, zone,
direction, cameras, limit); :func:`start_search` records it (``searches``, one
``search_cameras`` row per camera asked), writes the audit row and hands it to
:class:`central.forensic.fanout.SearchFanout`, which signs it with the hub's key and publishes
it to each camera. :func:`search_view` shows progress (answered / asked, refused, offline,
still pending) and the results so far, oldest first; a search is complete when every online
camera asked has answered or refused, or when its deadline passes (an offline or silent box
is never waited for beyond ``[search] timeout_s``). :func:`purge_results` is retention's part;
:func:`list_searches` the privacy officer's (metadata only).

The pages and the JSON API are :mod:`central.web.forensic`; event search (stored events by
type, camera, time) is another thing, :mod:`central.web.events`.
"""

from __future__ import annotations

import json
import logging
import re
import time
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from central import audit
from central.forensic.fanout import SearchFanout
from central.i18n import N_
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


class SearchError(ValueError):
    """A search the hub will not send; the text says what to fix. ``template`` (a catalogue
    string) and ``params`` let a page show it in the person's language."""

    def __init__(self, template: str, **params: Any) -> None:
        super().__init__(template % params if params else template)
        self.template = template
        self.params = params

    def translated(self, gettext: Callable[..., str]) -> str:
        """The message through ``gettext`` (Flask-Babel's: it fills in the params)."""
        return gettext(self.template, **self.params)


# -- the question -------------------------------------------------------------------------
def parse_time(value: Any, what: str) -> float:
    """An ISO 8601 time (``Z``, an offset, or none: taken as UTC) as Unix seconds."""
    if not isinstance(value, str) or not value.strip():
        raise SearchError(N_("%(what)s is required (ISO 8601, e.g. 2026-11-24T14:00:00Z)"),
                          what=what)
    try:
        t = datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
    except ValueError:
        raise SearchError(N_("%(what)s %(value)s is not an ISO 8601 time "
                             "(e.g. 2026-11-24T14:00:00Z)"), what=what,
                          value=repr(value[:40])) from None
    if t.tzinfo is None:
        t = t.replace(tzinfo=UTC)
    return t.timestamp()


def _choice(data: dict[str, Any], key: str, allowed: tuple[str, ...]) -> str | None:
    v = data.get(key)
    if v in (None, ""):
        return None
    if v not in allowed:
        raise SearchError(N_("%(key)s must be one of %(allowed)s (got %(got)s)"), key=key,
                          allowed=", ".join(allowed), got=repr(str(v)[:40]))
    return str(v)


def check_question(data: Any, known: list[tuple[str, str]], max_cameras: int) -> dict[str, Any]:
    """The normalised question of a request body, or :class:`SearchError`."""
    if not isinstance(data, dict):
        raise SearchError(N_("send a JSON object"))
    unknown = set(data) - {"case", "reason", "start", "end", "cameras", "class", "colour", "zone",
                           "direction", "limit"}
    if unknown:
        raise SearchError(N_("unknown field(s) %(fields)s; a search asks only class, colour "
                             "(vehicles), zone, direction, cameras and a time window"),
                          fields=", ".join(sorted(unknown)))
    case = data.get("case")
    if not isinstance(case, str) or not case.strip() or len(case) > 100:
        raise SearchError(N_("case (the case reference, 1-100 characters) is required"))
    reason = data.get("reason")
    if not isinstance(reason, str) or len(reason.strip()) < 5 or len(reason) > 300:
        raise SearchError(N_("reason (why this search is needed, 5-300 characters) is required"))
    start, end = parse_time(data.get("start"), "start"), parse_time(data.get("end"), "end")
    if end < start:
        raise SearchError(N_("end is before start"))
    cls = _choice(data, "class", SEARCH_CLASSES)
    colour = _choice(data, "colour", SEARCH_COLOURS)
    direction = _choice(data, "direction", SEARCH_DIRECTIONS)
    if cls == "person" and colour is not None:
        raise SearchError(N_("persons have no attributes: search them by class, time, zone and "
                             "direction only (colour is for vehicles)"))
    zone = data.get("zone") or None
    if zone is not None and (not isinstance(zone, str) or not re.match(NAME_PATTERN, zone)):
        raise SearchError(N_("zone must be a zone name (lower-case letters, digits, - and _)"))
    limit = data.get("limit", 100)
    if not isinstance(limit, int) or isinstance(limit, bool) or not 1 <= limit <= 500:
        raise SearchError(N_("limit must be an integer from 1 to 500"))
    cams = data.get("cameras") or None
    if cams is None:
        cameras = list(known)
    else:
        if not isinstance(cams, list) or not all(isinstance(c, str) for c in cams):
            raise SearchError(N_("cameras must be a list of 'site/camera' names"))
        cameras = []
        for c in cams:
            site, _, camera = c.strip().partition("/")
            if (site, camera) not in known:
                raise SearchError(N_("unknown camera %(camera)s (not a camera this hub knows)"),
                                  camera=repr(c[:80]))
            if (site, camera) not in cameras:
                cameras.append((site, camera))
    if not cameras:
        raise SearchError(N_("no camera to ask: this hub knows no camera yet"))
    if len(cameras) > max_cameras:
        raise SearchError(N_("%(n)d cameras named; at most %(top)d per search"), n=len(cameras),
                          top=max_cameras)
    return {"case": case.strip(), "reason": reason.strip(), "start": start, "end": end,
            "class": cls, "colour": colour, "zone": zone, "direction": direction,
            "limit": limit, "cameras": cameras}


def known_cameras(db: Any) -> list[tuple[str, str]]:
    """Every camera this hub has heard from, as (site, camera), in key order."""
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


# -- progress and results ------------------------------------------------------------------
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


def result_row(db: Any, sid: str, rid: int) -> tuple[Any, ...] | None:
    """(site, camera, first_seen, last_seen, preview) of one result of a search, or None."""
    row = db.execute("SELECT site, camera, first_seen, last_seen, preview FROM search_results "
                     "WHERE id = ? AND search_id = ?", [rid, sid]).fetchone()
    return None if row is None else tuple(row)


def covering_clips(db: Any, site: str, camera: str, first_seen: str,
                   last_seen: str) -> list[dict[str, str]]:
    """The event clips that camera uploaded while a track was seen (boxes keep no recorded
    video, so these are the only clips a result can have)."""
    return [{"event_id": r[0], "url": f"/api/v1/events/{r[0]}/clip"} for r in db.execute(
        "SELECT e.id FROM events e JOIN clips c ON c.event_id = e.id WHERE e.site = ? AND "
        "e.camera = ? AND e.started_at <= ? AND COALESCE(e.ended_at, e.started_at) >= ? "
        "ORDER BY e.started_at", [site, camera, last_seen, first_seen])]


def my_searches(db: Any, actor: str) -> list[dict[str, Any]]:
    """The last 100 searches this requester made, newest first."""
    return [dict(zip(("id", "case", "reason", "created_at", "asked"), r, strict=True))
            for r in db.execute("SELECT id, case_ref, reason, created_at, asked FROM searches "
                                "WHERE requester = ? ORDER BY created_at DESC LIMIT 100", [actor])]


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
def list_searches(db: Any, requester: str | None, case: str | None,
                  limit: int = 500) -> list[dict[str, Any]]:
    """Searches (metadata and result counts, no preview), newest first, by requester and case."""
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
    for r in db.execute(sql, [*params, limit]):
        d = dict(zip(keys, r, strict=True))
        d["query"] = json.loads(d["query"])
        d["created_at"] = utc_iso(d["created_at"])
        out.append(d)
    return out
