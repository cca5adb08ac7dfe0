"""Event stills at the hub: upload by the owning device, viewing by operators (audited once).

``PUT /api/v1/events/<id>/still`` (device token, ``Content-Type: image/jpeg``,
``X-Content-SHA256``, ``X-Taken-At``): the same checks as a clip upload (device owns the event,
declared size, sha256 of the body), then the JPEG's header and one decoding
(:mod:`central.ingest.stillcheck`). A refused still is answered with the reason and put in
quarantine (hash, size, reason; never the picture) with the device's camera; every body read is
a receipt for the egress-ledger check (``valid`` false for a refused one). The still is stored
once under its hash and named in ``events.still``; a repeated upload of the same bytes answers
200.

``GET /api/v1/events/<id>/still`` (operator, supervisor, investigator) serves it. A thumbnail
refreshing in a queue would write an audit row per refresh, so the first view per person per
still is audited (``still.view``) and later ones are not.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import os
import re
import tempfile
import time
from pathlib import Path
from typing import Any

from flask import Response, abort, current_app, g, jsonify, request, send_file

from central import audit
from central.db import get_db
from central.ingest.clipstore import still_path
from central.ingest.ebml import ClipRefused
from central.ingest.quarantine import record as quarantine
from central.ingest.receipts import note_upload
from central.ingest.stillcheck import StillLimits, check_still
from central.web.auth import device_only, roles
from central.web.clips import EVENT_ID, SHA256, _device, _fail, bp

log = logging.getLogger(__name__)

STILL_TYPES = ("image/jpeg",)
TAKEN_AT = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{1,6})?Z$")


def still_limits() -> StillLimits:
    """The app's still limits (``[clips]`` ``still_*`` of the hub config)."""
    c = current_app.config
    return StillLimits(int(c.get("STILL_MAX_BYTES", 1024 * 1024)),
                       int(c.get("STILL_MAX_WIDTH", 1920)), int(c.get("STILL_MAX_HEIGHT", 1080)))


def _refused(db: Any, device: tuple[str, str], data: bytes, status: int, error: str,
             message: str) -> Any:
    """Quarantine a refused still (hash, size, reason) under the device's camera and answer."""
    topic = f"{device[0]}/{device[1]}{request.path}"
    with db.conn:
        quarantine(db, topic, data, f"still refused ({error}): {message}")
        db.execute("UPDATE quarantine SET site = ?, camera = ? WHERE id = last_insert_rowid()",
                   [device[0], device[1]])
    return _fail(status, error, message, "still")


@bp.put("/api/v1/events/<event_id>/still")
@device_only
def upload_still(event_id: str) -> Any:
    """Receive one event's still from the device that owns the event."""
    device = _device()
    if device is None:
        return _fail(401, "unauthorized", "a valid device token is required", "still")
    if not EVENT_ID.match(event_id):
        return _fail(400, "bad_event_id", "the event id must be a lower-case UUIDv7", "still")
    limits = still_limits()
    size = request.content_length
    if size is None:
        return _fail(411, "length_required", "send Content-Length", "still")
    if size == 0:
        return _fail(400, "empty", "the body is empty", "still")
    declared = request.headers.get("X-Content-SHA256", "").lower()
    if not SHA256.match(declared):
        return _fail(400, "missing_hash", "send X-Content-SHA256 with the body's sha256 (hex)",
                     "still")
    taken_at = request.headers.get("X-Taken-At", "")
    if not TAKEN_AT.match(taken_at):
        return _fail(400, "bad_taken_at", "send X-Taken-At as a UTC ISO time", "still")
    db = get_db()
    row = db.execute("SELECT site, camera, still FROM events WHERE id = ?", [event_id]).fetchone()
    if row is None:
        return _fail(404, "unknown_event", f"no event {event_id} (yet): send the event message "
                     "first", "still")
    if (row[0], row[1]) != device:
        return _fail(403, "forbidden", f"event {event_id} belongs to another camera than this "
                     "device", "still")
    if size > limits.max_bytes:
        return _refused(db, device, b"", 413, "too_large",
                        f"still of {size} bytes exceeds the limit of {limits.max_bytes}")
    data = request.stream.read(limits.max_bytes + 1)
    ctype = (request.mimetype or "").lower()
    problem = None
    if len(data) != size:
        problem = (400, "bad_length", f"received {len(data)} bytes, Content-Length said {size}")
    elif not hmac.compare_digest(hashlib.sha256(data).hexdigest(), declared):
        problem = (400, "hash_mismatch", "the body's sha256 differs from X-Content-SHA256")
    elif ctype not in STILL_TYPES:
        problem = (415, "unsupported_media_type", f"Content-Type must be one of {STILL_TYPES}")
    have = json.loads(row[2]) if row[2] else None
    info = None
    if problem is None and have is None:
        try:
            info = check_still(data, limits)
        except ClipRefused as exc:
            problem = (exc.status, exc.error, str(exc))
    note_upload(db, device[0], device[1], request.path, data, problem is None,
                problem[2] if problem else None)  # egress-ledger check
    if problem is not None:
        return _refused(db, device, data, *problem)
    if have is not None:
        if have["sha256"] != declared:
            return _fail(409, "conflict", f"event {event_id} already has a different still", "still")
        return jsonify(event_id=event_id, sha256=declared, stored=False), 200
    assert info is not None
    _store(data, declared)
    still = {"sha256": declared, "bytes": size, "width": info.width, "height": info.height,
             "taken_at": taken_at, "stored_at": time.time()}
    with db.conn:
        db.execute("UPDATE events SET still = ?, updated_at = ? WHERE id = ?",
                   [json.dumps(still), time.time(), event_id])
    log.info("still for event %s stored: %d bytes, %dx%d", event_id, size, info.width, info.height)
    return jsonify(event_id=event_id, sha256=declared, bytes=size, stored=True), 201


def _store(data: bytes, digest: str) -> None:
    """Write the still under its hash (whole or not at all)."""
    final = still_path(Path(current_app.config["CLIPS_DIR"]), digest)
    final.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(prefix=".upload-", suffix=".jpg", dir=final.parent)
    tmp = Path(tmp_name)
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
        os.replace(tmp, final)
    finally:
        tmp.unlink(missing_ok=True)


def seen_before(db: Any, actor: str, event_id: str) -> bool:
    """Whether ``actor`` has already been audited viewing this event's still."""
    return db.execute("SELECT 1 FROM audit WHERE actor = ? AND action = 'still.view' AND "
                      "subject = ? LIMIT 1", [actor, event_id]).fetchone() is not None


@bp.get("/api/v1/events/<event_id>/still")
@roles("operator", "supervisor", "investigator")
def view_still(event_id: str) -> Any:
    """Serve an event's still; the first view per person is audited."""
    if not EVENT_ID.match(event_id):
        abort(400, "the event id must be a lower-case UUIDv7")
    db = get_db()
    row = db.execute("SELECT still FROM events WHERE id = ?", [event_id]).fetchone()
    if row is None or not row[0]:
        abort(404, f"no still for event {event_id}")
    sha = json.loads(row[0])["sha256"]
    path = still_path(Path(current_app.config["CLIPS_DIR"]), sha)
    if not path.is_file():
        log.error("still %s of event %s is missing from disk", sha, event_id)
        abort(404, f"no still for event {event_id}")
    if not seen_before(db, g.actor, event_id):
        why = (request.args.get("why") or request.headers.get("X-Why") or "")[:500]
        audit.record(db, g.actor, "still.view", event_id, why)
    resp: Response = send_file(path, mimetype="image/jpeg", conditional=True, max_age=0)
    resp.headers["Cache-Control"] = "private, no-store"
    resp.headers["X-Content-Type-Options"] = "nosniff"
    return resp
