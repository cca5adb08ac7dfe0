"""Subject-access requests (role ``privacy_officer``): find clips by camera and period, mark the
requester on a frame, download the re-rendered clip with its manifest as a ZIP (audited)."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import cv2
from flask import Blueprint, Response, abort, current_app, g, jsonify, render_template, request

from central import audit
from central.db import get_db
from central.ingest.clipstore import clip_path
from central.web.auth import roles
from central.web.clips import EVENT_ID, clip_limits
from central.web.httpjson import json_object
from central.web.openapi import doc

log = logging.getLogger(__name__)

bp = Blueprint("access_pages", __name__)
OFFICER = ("privacy_officer",)


def _clips(camera: str | None, since: float | None, until: float | None) -> list[dict[str, Any]]:
    from edge.wire.messages import utc_iso

    sql = ("SELECT e.id, e.site, e.camera, e.type, e.zone, e.started_at, e.ended_at, c.duration_s, "
           "c.frames FROM clips c JOIN events e ON e.id = c.event_id")
    clauses, params = [], []
    if camera:
        clauses.append("(e.camera = ? OR e.site || '/' || e.camera = ?)")
        params += [camera, camera]
    if since is not None:
        clauses.append("e.started_at >= ?")
        params.append(utc_iso(since))
    if until is not None:
        clauses.append("e.started_at < ?")
        params.append(utc_iso(until))
    if clauses:
        sql += " WHERE " + " AND ".join(clauses)
    return [dict(r) for r in get_db().query(sql + " ORDER BY e.started_at LIMIT 500", params)]


def _search() -> list[dict[str, Any]]:
    from central.web.privacy import _when

    a = request.args
    rows = _clips(a.get("camera") or None, _when(a.get("from")), _when(a.get("to"), end=True))
    audit.record(get_db(), g.actor, "subject_access.search", a.get("camera") or "all cameras",
                 f"from {a.get('from') or '-'} to {a.get('to') or '-'}: {len(rows)} clip(s)")
    return rows


@bp.get("/api/v1/privacy/access/clips")
@roles(*OFFICER)
@doc("Clips of a camera in a period, for a subject-access request (audited)", query={
    "camera": {"type": "string"}, "from": {"type": "string"}, "to": {"type": "string"}})
def api_clips() -> Any:
    return jsonify(clips=_search())


@bp.get("/privacy/access")
@roles(*OFFICER)
def page() -> str:
    """Find the clips a requester may appear in."""
    searched = any(request.args.get(k) for k in ("camera", "from", "to"))
    return render_template("access/search.html", rows=_search() if searched else None)


def _clip_file(event_id: str) -> tuple[dict[str, Any], str, Path]:
    if not EVENT_ID.match(event_id):
        abort(400, "the event id must be a lower-case UUIDv7")
    db = get_db()
    event = db.execute("SELECT id, site, camera, type, severity, zone, started_at, ended_at FROM "
                       "events WHERE id = ?", [event_id]).fetchone()
    row = db.execute("SELECT sha256 FROM clips WHERE event_id = ?", [event_id]).fetchone()
    if event is None or row is None:
        abort(404, f"no clip for event {event_id}")
    path = clip_path(Path(current_app.config["CLIPS_DIR"]), row[0])
    if not path.is_file():
        abort(404, f"the clip of event {event_id} is missing from disk")
    keys = ("id", "site", "camera", "type", "severity", "zone", "started_at", "ended_at")
    return dict(zip(keys, event, strict=True)), str(row[0]), path


def _redactor() -> Any:
    from central.privacy.subject_access import Redactor

    return Redactor.shared(current_app.config.get("MODELS_DIR"))


def _frame_arg() -> int:
    try:
        return int(request.args.get("frame", 0))
    except ValueError:
        abort(400, "frame must be an integer")


def _persons_on_frame(event_id: str) -> tuple[Any, Any, int, list[Any]]:
    """The clip's event, the ``frame`` asked for (decoded up to it only, after the clip's
    headers are checked), its number, and the persons on it (pixel boxes)."""
    from central.privacy.subject_access import AccessError, frame_at

    event, _, path = _clip_file(event_id)
    k = _frame_arg()
    try:
        at = frame_at(path, k, clip_limits())
    except AccessError as exc:
        abort(400, str(exc))
    return event, at, k, _redactor().persons(at.image)


@bp.get("/api/v1/privacy/access/<event_id>/persons")
@roles(*OFFICER)
@doc("The persons found on one frame of a clip (normalised boxes), to mark the requester",
     query={"frame": {"type": "integer", "minimum": 0}})
def api_persons(event_id: str) -> Any:
    from central.privacy.subject_access import norm

    _, at, k, found = _persons_on_frame(event_id)
    h, w = at.image.shape[:2]
    persons = [norm(p, w, h) for p in found]
    return jsonify(event_id=event_id, frames=at.frames, fps=at.fps, frame=k, persons=persons)


@bp.get("/privacy/access/<event_id>/frame.jpg")
@roles(*OFFICER)
def frame_image(event_id: str) -> Response:
    """One frame of the (anonymised) clip with the persons numbered; audited as a clip view."""
    _, at, k, found = _persons_on_frame(event_id)
    image = at.image.copy()
    for i, p in enumerate(found, start=1):
        x1, y1, x2, y2 = (int(v) for v in p)
        cv2.rectangle(image, (x1, y1), (x2, y2), (0, 200, 255), 2)
        cv2.putText(image, str(i), (x1 + 3, y1 + 18), cv2.FONT_HERSHEY_SIMPLEX, 0.6, (0, 200, 255), 2)
    audit.record(get_db(), g.actor, "clip.view", event_id, f"subject access: frame {k}")
    ok, jpg = cv2.imencode(".jpg", image)
    if not ok:
        abort(500, "cannot encode the frame")
    resp = Response(jpg.tobytes(), mimetype="image/jpeg")
    resp.headers["Cache-Control"] = "no-store"
    return resp


@bp.get("/privacy/access/<event_id>")
@roles(*OFFICER)
def mark_page(event_id: str) -> str:
    """Scrub the clip, click on the requester, give the reason, export (with progress)."""
    from central.privacy.subject_access import norm

    event, at, k, found = _persons_on_frame(event_id)
    h, w = at.image.shape[:2]
    persons = [norm(p, w, h) for p in found]
    per_frame = _redactor().measure(at.image)
    return render_template("access/mark.html", event=event, frame=k, frames=at.frames,
                           fps=at.fps, persons=persons, per_frame_ms=round(per_frame * 1000),
                           estimate_s=max(1, round(per_frame * at.frames)))


@bp.post("/api/v1/privacy/access/<event_id>/pick")
@roles(*OFFICER)
@doc("The person box under a clicked point of one frame (normalised x, y); 400 when the point "
     "is on nobody", body={"frame": {"type": "integer", "minimum": 0},
                          "x": {"type": "number"}, "y": {"type": "number"}},
     required=["frame", "x", "y"])
def api_pick(event_id: str) -> Any:
    from central.privacy.subject_access import AccessError, frame_at, norm, person_at

    body = json_object()
    event, _, path = _clip_file(event_id)
    try:
        k, x, y = int(body.get("frame", -1)), float(body["x"]), float(body["y"])
    except (KeyError, TypeError, ValueError):
        abort(400, "give the frame number and the point clicked (x, y in fractions of the frame)")
    from flask_babel import gettext

    try:
        at = frame_at(path, k, clip_limits())
        h, w = at.image.shape[:2]
        found = _redactor().persons(at.image)
        box = person_at(found, x, y, w, h)
    except AccessError as exc:
        abort(400, str(exc))
    if box is None:
        abort(400, gettext("No person found at this point of frame %(k)d (%(n)d person(s) "
                           "detected): click inside a person, choose another frame, or type a "
                           "box.", k=k, n=len(found)))
    return jsonify(event_id=event["id"], frame=k, point=[x, y], box=norm(box, w, h))


def _mark(body: Any) -> Any:
    from central.privacy.subject_access import Mark

    try:
        frame = int(body.get("frame", 0))
        box = body.get("box")
        if isinstance(box, str):
            box = [float(v) for v in box.replace(" ", "").split(",") if v]
        if box is None or len(box) != 4:
            raise ValueError("box must be [x, y, w, h] in fractions of the frame")
        return Mark(frame, (float(box[0]), float(box[1]), float(box[2]), float(box[3])))
    except (TypeError, ValueError) as exc:
        abort(400, f"mark the requester with a frame number and a box [x, y, w, h]: {exc}")


def _reason(body: Any) -> str:
    reason = body.get("reason")
    if not isinstance(reason, str) or not 5 <= len(reason.strip()) <= 500:
        abort(400, "an export needs a reason of 5 to 500 characters (the request it answers)")
    return reason.strip()


def _exporter(event_id: str, body: Any) -> Any:
    """A function making the export (ZIP, manifest) with a progress callback, checked first
    in the request; it opens its own database, so it runs in a job's thread too."""
    from central import db as hubdb
    from central.privacy.inventory import retention_days
    from central.privacy.subject_access import AccessError, package

    event, sha, path = _clip_file(event_id)
    reason, mark = _reason(body), _mark(body)
    red, limits, actor = _redactor(), clip_limits(), g.actor
    database = current_app.config["DATABASE"]
    configured = int(current_app.config.get("RETENTION_DAYS", 10))
    language = _language()

    def make(progress: Any = None) -> tuple[bytes, dict[str, Any]]:
        try:
            rendered = red.render(path, mark, limits, progress=progress)
        except AccessError as exc:
            abort(400, str(exc))
        db = hubdb.connect(database)
        try:
            days = retention_days(db, configured)
            data, manifest = package(event, sha, rendered, mark, reason, actor, days, red.models,
                                     language)
            audit.record(db, actor, "subject_access.export", event_id,
                         f"{reason} | frame {mark.frame} box {list(mark.box)} | export "
                         f"{manifest['what']['export_sha256'][:16]}")
        finally:
            db.conn.close()
        return data, manifest

    return make


def _language() -> str:
    from flask_babel import get_locale

    return str(get_locale() or "fr")


def _zip(event_id: str, data: bytes) -> Response:
    resp = Response(data, mimetype="application/zip")
    resp.headers["Content-Disposition"] = f'attachment; filename="subject-access-{event_id}.zip"'
    resp.headers["Cache-Control"] = "no-store"
    return resp


def _export(event_id: str, body: Any) -> Response:
    data, _manifest = _exporter(event_id, body)()
    return _zip(event_id, data)


@bp.post("/api/v1/privacy/access/<event_id>/jobs")
@roles(*OFFICER)
@doc("Start a subject-access export in the background (same body as the export); answers the "
     "job with its estimate and progress URL",
     body={"frame": {"type": "integer", "minimum": 0},
           "box": {"type": "array", "items": {"type": "number"}, "minItems": 4, "maxItems": 4},
           "reason": {"type": "string", "minLength": 5, "maxLength": 500},
           "estimate_s": {"type": "number"}},
     required=["frame", "box", "reason"])
def api_start_job(event_id: str) -> Any:
    from central.privacy.access_jobs import JOBS

    body = json_object()
    make = _exporter(event_id, body)
    try:
        estimate = max(0.0, min(float(body.get("estimate_s") or 0.0), 3600.0))
    except (TypeError, ValueError):
        estimate = 0.0
    job = JOBS.start(event_id, g.actor, estimate, lambda j: make(j.progress))
    resp = jsonify(job.view() | {"progress": f"/api/v1/privacy/access/jobs/{job.id}"})
    resp.status_code = 202
    return resp


@bp.get("/api/v1/privacy/access/jobs/<job_id>")
@roles(*OFFICER)
@doc("How far a subject-access export is: frames done of both passes, time left")
def api_job(job_id: str) -> Any:
    from central.privacy.access_jobs import JOBS

    job = JOBS.get(job_id, g.actor)
    if job is None:
        abort(404, "no such export (or it was started by someone else, or has expired)")
    return jsonify(job.view())


@bp.get("/privacy/access/jobs/<job_id>/download")
@roles(*OFFICER)
def job_download(job_id: str) -> Response:
    """The finished export's ZIP, once (the hub keeps no copy)."""
    from central.privacy.access_jobs import JOBS

    job = JOBS.take(job_id, g.actor)
    if job is None or job.data is None:
        abort(404, "no such finished export: it was already downloaded, or has expired")
    return _zip(job.event_id, job.data)


@bp.post("/api/v1/privacy/access/<event_id>/export")
@roles(*OFFICER)
@doc("Re-render a clip keeping the marked requester, everyone else blurred; ZIP with manifest "
     "(audited with its reason)",
     body={"frame": {"type": "integer", "minimum": 0},
           "box": {"type": "array", "items": {"type": "number"}, "minItems": 4, "maxItems": 4},
           "reason": {"type": "string", "minLength": 5, "maxLength": 500}},
     required=["frame", "box", "reason"], produces="application/zip")
def api_export(event_id: str) -> Response:
    return _export(event_id, json_object())


@bp.post("/privacy/access/<event_id>/export")
@roles(*OFFICER)
def form_export(event_id: str) -> Response:
    """The mark page's form without script: a numbered person or a typed box, and the reason."""
    form = dict(request.form)
    if form.get("person") and not form.get("box"):
        form["box"] = form["person"]
    return _export(event_id, form)
