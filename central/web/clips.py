"""Event clips at the hub: upload by the owning device, viewing by operators (audited).

``PUT /api/v1/events/<id>/clip`` (device token): the hub checks, before storing anything,
that the id is an event id, that the device owns the event, the declared size, the sha256
of the body; then, from the headers and before decoding anything (:mod:`central.ingest.clipcheck`),
that it is a WebM with one VP8/VP9 video track, no audio, within the size, frame size, frame
rate and duration limits; and last that its frames decode, one at a time. The clip is stored
once under its hash (``<clips dir>/<sha[:2]>/<sha>.webm``). A clip refused for its content
(415, 422) marks the event's clip ``failed`` with the reason (its ``refused`` field): a later
status message from the box cannot turn that into ``uploaded``. A stored clip marks it
``uploaded`` at once (operators need not wait for the box's message).

``PUT`` and ``GET /api/v1/events/<id>/still`` do the same for the event's anonymised still
(:mod:`central.web.stills`).

``GET /api/v1/events/<id>/clip`` (operator token) serves it with HTTP Range support and
writes an audit row per view (a request without ``Range``, or one starting at byte 0: the
browser's later range requests of the same viewing are not counted again).
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

from flask import Blueprint, Response, abort, current_app, g, jsonify, request, send_file

from central import audit
from central.db import get_db
from central.ingest.clipcheck import ClipInfo, ClipLimits, check_head, decoded_count, inspect
from central.ingest.clipstore import clip_path
from central.ingest.ebml import ClipRefused
from central.web.auth import device_only, roles

log = logging.getLogger(__name__)

bp = Blueprint("clips", __name__)

EVENT_ID = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$")
SHA256 = re.compile(r"^[0-9a-f]{64}$")
CLIP_TYPES = ("video/webm",)
HEAD_BYTES = 1024
"""How much of a stored clip is read to check its EBML header before serving it."""


def clip_limits() -> ClipLimits:
    """The app's clip limits (``[clips]`` of the hub config)."""
    c = current_app.config
    return ClipLimits(int(c["CLIP_MAX_BYTES"]), float(c["CLIP_MAX_DURATION_S"]),
                      int(c.get("CLIP_MAX_WIDTH", 1920)), int(c.get("CLIP_MAX_HEIGHT", 1080)),
                      float(c.get("CLIP_MAX_FPS", 30.0)))


def check(data: bytes, limits: ClipLimits) -> ClipInfo:
    """A clip's checked headers, after making sure every frame decodes (one at a time)."""
    info = inspect(data, limits)
    n = decoded_count(data, info)
    if n != info.frames:
        raise ClipRefused(422, "not_a_video", f"{n} of the clip's {info.frames} frames decode")
    return info


def mark_refused(db: Any, event_id: str, exc: ClipRefused) -> None:
    """The event (which has no stored clip) gets clip ``failed`` with the refusal's reason."""
    refused = f"{exc.error}: {exc}"[:300]
    clip = {"status": "failed", "sha256": None, "reason": refused[:200], "refused": refused}
    with db.conn:
        db.execute("UPDATE events SET clip = ?, updated_at = ? WHERE id = ?",
                   [json.dumps(clip), time.time(), event_id])


def mark_uploaded(db: Any, event_id: str, digest: str) -> None:
    """The event's clip is ``uploaded`` as soon as the hub holds it (the box's message saying so
    comes later and changes nothing), unless it has already settled."""
    from central.db.queries import clip_advances

    with db.conn:
        row = db.execute("SELECT clip FROM events WHERE id = ?", [event_id]).fetchone()
        clip = {"status": "uploaded", "sha256": digest}
        if row is not None and clip_advances(row[0], clip):
            db.execute("UPDATE events SET clip = ?, updated_at = ? WHERE id = ?",
                       [json.dumps(clip), time.time(), event_id])


def _device() -> tuple[str, str] | None:
    scheme, _, token = request.headers.get("Authorization", "").partition(" ")
    if scheme.lower() != "bearer" or not token:
        return None
    for known, who in current_app.config.get("DEVICE_TOKENS", {}).items():
        if hmac.compare_digest(known.encode(), token.encode()):
            return (str(who[0]), str(who[1]))
    return None


def _fail(status: int, error: str, message: str, what: str = "clip") -> Any:
    log.warning("%s upload refused (%d %s): %s", what, status, error, message)
    resp = jsonify(error=error, message=message)
    resp.status_code = status
    if status == 401:
        resp.headers["WWW-Authenticate"] = 'Bearer realm="vigie-device"'
    return resp


@bp.put("/api/v1/events/<event_id>/clip")
@device_only
def upload(event_id: str) -> Any:
    """Receive one event's clip from the device that owns the event."""
    device = _device()
    if device is None:
        return _fail(401, "unauthorized", "a valid device token is required")
    if not EVENT_ID.match(event_id):
        return _fail(400, "bad_event_id", "the event id must be a lower-case UUIDv7")
    max_bytes = int(current_app.config["CLIP_MAX_BYTES"])
    size = request.content_length
    if size is None:
        return _fail(411, "length_required", "send Content-Length")
    if size > max_bytes:
        return _fail(413, "too_large", f"clip of {size} bytes exceeds the limit of {max_bytes}")
    if size == 0:
        return _fail(400, "empty", "the body is empty")
    ctype = (request.mimetype or "").lower()
    if ctype not in CLIP_TYPES:
        return _fail(415, "unsupported_media_type", f"Content-Type must be one of {CLIP_TYPES}")
    declared = request.headers.get("X-Content-SHA256", "").lower()
    if not SHA256.match(declared):
        return _fail(400, "missing_hash", "send X-Content-SHA256 with the body's sha256 (hex)")

    db = get_db()
    row = db.execute("SELECT site, camera FROM events WHERE id = ?", [event_id]).fetchone()
    if row is None:
        return _fail(404, "unknown_event", f"no event {event_id} (yet): send the event message first")
    if (row[0], row[1]) != device:
        return _fail(403, "forbidden", f"event {event_id} belongs to another camera than this device")
    have = db.execute("SELECT sha256 FROM clips WHERE event_id = ?", [event_id]).fetchone()
    if have is not None and have[0] != declared:
        return _fail(409, "conflict", f"event {event_id} already has a different clip")

    data = request.stream.read(max_bytes + 1)
    from central.ingest.receipts import note_upload

    note_upload(db, device[0], device[1], request.path, data, True)  # egress-ledger check
    if len(data) != size:
        return _fail(400, "bad_length", f"received {len(data)} bytes, Content-Length said {size}")
    digest = hashlib.sha256(data).hexdigest()
    if not hmac.compare_digest(digest, declared):
        return _fail(400, "hash_mismatch", "the body's sha256 differs from X-Content-SHA256")
    if have is not None:
        return jsonify(event_id=event_id, sha256=digest, stored=False), 200

    try:
        info = check(data, clip_limits())
    except ClipRefused as exc:
        mark_refused(db, event_id, exc)
        return _fail(exc.status, exc.error, str(exc))
    clips_dir = Path(current_app.config["CLIPS_DIR"])
    clips_dir.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(prefix=".upload-", suffix=".webm", dir=clips_dir)
    tmp = Path(tmp_name)
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
        final = clip_path(clips_dir, digest)
        final.parent.mkdir(parents=True, exist_ok=True)
        os.replace(tmp, final)
    finally:
        tmp.unlink(missing_ok=True)
    db.table("clips").insert({
        "event_id": event_id, "site": device[0], "camera": device[1], "sha256": digest,
        "bytes": size, "duration_s": round(info.duration_s, 3), "frames": info.frames,
        "width": info.width, "height": info.height, "stored_at": time.time(),
    }, replace=True)
    mark_uploaded(db, event_id, digest)
    log.info("clip for event %s stored: %d bytes, %.1f s", event_id, size, info.duration_s)
    return jsonify(event_id=event_id, sha256=digest, bytes=size,
                   duration_s=round(info.duration_s, 3), stored=True), 201


@bp.get("/api/v1/events/<event_id>/clip")
@roles("operator", "supervisor", "investigator")
def view(event_id: str) -> Any:
    """Serve an event's clip (Range requests supported); audited once per viewing."""
    if not EVENT_ID.match(event_id):
        abort(400, "the event id must be a lower-case UUIDv7")
    db = get_db()
    row = db.execute("SELECT sha256 FROM clips WHERE event_id = ?", [event_id]).fetchone()
    if row is None:
        abort(404, f"no clip for event {event_id}")
    path = clip_path(Path(current_app.config["CLIPS_DIR"]), row[0])
    if not path.is_file():
        log.error("clip %s of event %s is missing from disk", row[0], event_id)
        abort(404, f"no clip for event {event_id}")
    with path.open("rb") as f:
        head = f.read(HEAD_BYTES)
    try:
        check_head(head)
    except ClipRefused as exc:  # stored before clips were checked from their headers
        log.error("clip %s of event %s is not served: %s", row[0], event_id, exc)
        abort(409, f"the stored clip of event {event_id} is not a WebM video: {exc}")
    rng = request.headers.get("Range", "")
    if not rng or re.match(r"^bytes=0-", rng):
        why = (request.args.get("why") or request.headers.get("X-Why") or "")[:500]
        audit.record(db, g.actor, "clip.view", event_id, why)
    resp: Response = send_file(path, mimetype="video/webm", conditional=True, max_age=0)
    resp.headers["Cache-Control"] = "no-store"
    resp.headers["X-Content-Type-Options"] = "nosniff"
    return resp


from central.web import stills  # noqa: E402,F401  (its routes are on this blueprint)
