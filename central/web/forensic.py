"""Forensic search pages and JSON API (the service is :mod:`central.forensic.searches`).

``POST /api/v1/searches`` (or the form of ``/investigate``) starts a search; ``GET
/api/v1/searches/<id>`` (or ``/investigate/<id>``) shows its progress and results so far.
Only the ``investigator`` role searches, and an investigator sees only their own searches
(need to know). Every search, every preview viewed and every clip requested writes an audit
row naming the actor and the case. Privacy officers list searches by requester and case at
``/privacy/searches`` (metadata only: they see no preview).

Event search (stored events by type, camera, zone, time) is :mod:`central.web.events`.
"""

from __future__ import annotations

import logging
import threading
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
from central.forensic.fanout import FanoutError, SearchFanout
from central.forensic.searches import (
    SearchError,
    check_question,
    covering_clips,
    known_cameras,
    list_searches,
    my_searches,
    result_row,
    search_view,
    start_search,
)
from central.web.auth import roles
from central.web.httpjson import json_object
from central.web.openapi import doc
from central.web.privacy import AUDITORS
from edge.wire.keys import KeyFileError, load_private
from edge.wire.messages import SEARCH_CLASSES, SEARCH_COLOURS, SEARCH_DIRECTIONS

log = logging.getLogger(__name__)

bp = Blueprint("forensic", __name__)

INVESTIGATORS = ("investigator",)
_lock = threading.Lock()


def fanout() -> SearchFanout:
    """This app's fan-out client (made at the first search); 503 when it cannot be."""
    app = current_app
    with _lock:
        fo = app.extensions.get("vigie_search")
        if fo is None:
            path = app.config.get("SIGNING_KEY")
            if not path:
                abort(503, _("this hub has no signing_key, so boxes would refuse its "
                             "searches: run `vigie hub keygen --config HUB.toml` and enrol the "
                             "boxes with the printed key"))
            try:
                key = load_private(path)
            except KeyFileError as exc:
                abort(503, _("cannot use the hub signing key: %(error)s", error=str(exc)))
            fo = SearchFanout(app.config["DATABASE"], app.config["HUB_BROKER"], key)
            app.extensions["vigie_search"] = fo
    try:
        fo.start()
    except FanoutError as exc:
        abort(503, str(exc))
    return fo


def _start(data: Any) -> str:
    """Check the question and start the search as the caller; :class:`SearchError` if bad."""
    db = get_db()
    cfg = current_app.config["SEARCH"]
    q = check_question(data, known_cameras(db), cfg.max_cameras)
    return start_search(db, fanout(), g.actor, q, cfg.timeout_s, cfg.expiry_s)


def _own_search(sid: str) -> dict[str, Any]:
    view = search_view(get_db(), sid)
    if view is None or view["requester"] != g.actor:
        abort(404, _("no search %(sid)s of yours", sid=sid))  # another investigator's search is not shown
    return view


def _result(sid: str, rid: str) -> tuple[dict[str, Any], tuple[Any, ...]]:
    view = _own_search(sid)
    if not rid.isdigit():
        abort(404, _("no result %(rid)s in search %(sid)s", rid=repr(rid[:40]), sid=sid))
    row = result_row(get_db(), sid, int(rid))
    if row is None:
        abort(404, _("no result %(rid)s in search %(sid)s", rid=rid, sid=sid))
    return view, row


_BODY: dict[str, dict[str, Any]] = {
    "case": {"type": "string"}, "reason": {"type": "string"}, "start": {"type": "string"},
    "end": {"type": "string"}, "cameras": {"type": "array", "items": {"type": "string"}},
    "class": {"type": "string", "enum": list(SEARCH_CLASSES)},
    "colour": {"type": "string", "enum": list(SEARCH_COLOURS)}, "zone": {"type": "string"},
    "direction": {"type": "string", "enum": list(SEARCH_DIRECTIONS)},
    "limit": {"type": "integer", "minimum": 1, "maximum": 500},
}


@bp.post("/api/v1/searches")
@roles(*INVESTIGATORS)
@doc("Start a forensic search of the boxes (audited)", body=_BODY,
     required=["case", "reason", "start", "end"])
def api_create() -> Any:
    data = json_object()
    try:
        sid = _start(data)
    except SearchError as exc:
        abort(400, exc.translated(_))
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
        abort(404, _("this result has no preview (persons never have one)"))
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
    clips = covering_clips(db, row[0], row[1], row[2], row[3])
    if not clips:
        abort(404, _("no event clip covers this track: boxes keep no recorded video (only a few "
                     "seconds of pre-roll in memory), so a clip exists only where an event was "
                     "raised on that camera while the track was seen"))
    return jsonify(clips=clips)


# -- pages ------------------------------------------------------------------------------------
def _form_page(error: str | None = None, status: int = 200) -> Any:
    return render_template("forensic/investigate.html", error=error, form=request.form,
                           searches=my_searches(get_db(), g.actor), classes=SEARCH_CLASSES,
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
        return _form_page(_("limit must be an integer"), 400)
    try:
        sid = _start(data)
    except SearchError as exc:
        return _form_page(exc.translated(_), 400)
    return redirect(f"/investigate/{sid}", 303)


@bp.get("/investigate/<sid>")
@roles(*INVESTIGATORS)
def page_search(sid: str) -> Any:
    """One search: progress and results, refreshed until complete."""
    return render_template("forensic/investigation.html", s=_own_search(sid))


# -- privacy officer: who searched what, for which case -----------------------------------------
@bp.get("/api/v1/privacy/searches")
@roles(*AUDITORS)
@doc("Forensic searches by requester and case (metadata only)",
     query={"requester": {"type": "string"}, "case": {"type": "string"}})
def api_privacy_searches() -> Any:
    return jsonify(searches=list_searches(get_db(), request.args.get("requester"),
                                          request.args.get("case")))


@bp.get("/privacy/searches")
@roles(*AUDITORS)
def privacy_page() -> str:
    """Searches by requester and case, for the privacy officer."""
    return render_template("privacy/searches.html",
                           rows=list_searches(get_db(), request.args.get("requester"),
                                              request.args.get("case")))
