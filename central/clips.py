"""Event clips at the hub: upload by the owning device, viewing by operators (audited).

``PUT /api/v1/events/<id>/clip`` (device token): the hub checks, before storing anything,
that the id is an event id, that the device owns the event, the declared size, the sha256
of the body, that the bytes decode as a video, and the duration. The clip is stored once
under its hash (``<clips dir>/<sha[:2]>/<sha>.webm``).

``GET /api/v1/events/<id>/clip`` (operator token) serves it with HTTP Range support and
writes an audit row per view (a request without ``Range``, or one starting at byte 0: the
browser's later range requests of the same viewing are not counted again).
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import os
import re
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import cv2
from flask import Blueprint, Response, abort, current_app, g, jsonify, request, send_file

from central import audit, get_db
from central.auth import device_only, roles

log = logging.getLogger(__name__)

bp = Blueprint("clips", __name__)

EVENT_ID = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$")
SHA256 = re.compile(r"^[0-9a-f]{64}$")
CLIP_TYPES = ("video/webm",)


@dataclass(frozen=True)
class Probe:
    """What decoding a clip found."""

    frames: int
    fps: float
    width: int
    height: int

    @property
    def duration_s(self) -> float:
        return self.frames / self.fps if self.fps > 0 else 0.0


def probe(path: Path) -> Probe | None:
    """Decode every frame of a video file; None if it is not a decodable video."""
    cap = cv2.VideoCapture(str(path), cv2.CAP_FFMPEG)
    try:
        if not cap.isOpened():
            return None
        fps = float(cap.get(cv2.CAP_PROP_FPS) or 0.0)
        n, w, h = 0, 0, 0
        while True:
            ok, image = cap.read()
            if not ok or image is None:
                break
            n += 1
            h, w = image.shape[:2]
        if n == 0 or fps <= 0:
            return None
        return Probe(n, fps, w, h)
    finally:
        cap.release()


def clip_path(clips_dir: Path, sha256: str) -> Path:
    """Where the clip with this hash is stored."""
    return clips_dir / sha256[:2] / f"{sha256}.webm"


def _device() -> tuple[str, str] | None:
    scheme, _, token = request.headers.get("Authorization", "").partition(" ")
    if scheme.lower() != "bearer" or not token:
        return None
    for known, who in current_app.config.get("DEVICE_TOKENS", {}).items():
        if hmac.compare_digest(known.encode(), token.encode()):
            return (str(who[0]), str(who[1]))
    return None


def _fail(status: int, error: str, message: str) -> Any:
    log.warning("clip upload refused (%d %s): %s", status, error, message)
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
    from central.egress_receipts import note_upload

    note_upload(db, device[0], device[1], request.path, data, True)  # egress-ledger check
    if len(data) != size:
        return _fail(400, "bad_length", f"received {len(data)} bytes, Content-Length said {size}")
    digest = hashlib.sha256(data).hexdigest()
    if not hmac.compare_digest(digest, declared):
        return _fail(400, "hash_mismatch", "the body's sha256 differs from X-Content-SHA256")
    if have is not None:
        return jsonify(event_id=event_id, sha256=digest, stored=False), 200

    clips_dir = Path(current_app.config["CLIPS_DIR"])
    clips_dir.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(prefix=".upload-", suffix=".webm", dir=clips_dir)
    tmp = Path(tmp_name)
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
        info = probe(tmp)
        if info is None:
            return _fail(422, "not_a_video", "the body does not decode as a video")
        limit = float(current_app.config["CLIP_MAX_DURATION_S"])
        if info.duration_s > limit:
            return _fail(422, "too_long", f"clip lasts {info.duration_s:.1f} s, the limit is {limit:g} s")
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
    rng = request.headers.get("Range", "")
    if not rng or re.match(r"^bytes=0-", rng):
        why = (request.args.get("why") or request.headers.get("X-Why") or "")[:500]
        audit.record(db, g.actor, "clip.view", event_id, why)
    resp: Response = send_file(path, mimetype="video/webm", conditional=True, max_age=0)
    resp.headers["Cache-Control"] = "no-store"
    return resp
