"""The site plan: a PNG or JPEG image a supervisor uploads (no internet map tiles), checked,
decoded and re-encoded so that no metadata (EXIF, GPS, comments, colour profiles) is kept; and
each camera's label and position on it (fractions of the plan's width and height).

Only the re-encoded image is stored (``site_plan``, one row; a new upload replaces it)."""

from __future__ import annotations

import hashlib
import logging
import math
import struct
import time
from dataclasses import dataclass
from typing import Any

import sqlite_utils

from central.i18n import N_

log = logging.getLogger(__name__)

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"
JPEG_MAGIC = b"\xff\xd8\xff"
MIN_PIXELS = 16
MAX_LABEL = 80
_SOF = {0xC0, 0xC1, 0xC2, 0xC3, 0xC5, 0xC6, 0xC7, 0xC9, 0xCA, 0xCB, 0xCD, 0xCE, 0xCF}


class PlanError(ValueError):
    """A plan image or a placement refused; ``template`` and ``params`` give the message in
    the catalogue's words (translated where shown)."""

    def __init__(self, template: str, **params: Any) -> None:
        super().__init__(template % params if params else template)
        self.template = template
        self.params = params


@dataclass(frozen=True)
class Plan:
    """A checked, re-encoded plan image."""

    image: bytes
    mime: str
    width: int
    height: int
    sha256: str


def declared_size(data: bytes) -> tuple[str, int, int]:
    """(mime, width, height) read from a PNG or JPEG header, before anything is decoded (a
    small file may declare a huge image); :class:`PlanError` for anything else."""
    if data.startswith(PNG_MAGIC):
        if len(data) < 24 or data[12:16] != b"IHDR":
            raise PlanError(N_("This PNG file is damaged (no image header)."))
        width, height = struct.unpack(">II", data[16:24])
        return "image/png", width, height
    if data.startswith(JPEG_MAGIC):
        return ("image/jpeg", *_jpeg_size(data))
    raise PlanError(N_("The plan must be a PNG or JPEG image."))


def _jpeg_size(data: bytes) -> tuple[int, int]:
    i = 2
    while i + 4 <= len(data):
        if data[i] != 0xFF:
            raise PlanError(N_("This JPEG file is damaged (bad marker)."))
        marker = data[i + 1]
        if marker == 0xFF:
            i += 1
            continue
        if marker in (0xD8, 0x01) or 0xD0 <= marker <= 0xD7:
            i += 2
            continue
        length = struct.unpack(">H", data[i + 2:i + 4])[0]
        if marker in _SOF:
            if i + 9 > len(data):
                break
            height, width = struct.unpack(">HH", data[i + 5:i + 9])
            return width, height
        if length < 2:
            break
        i += 2 + length
    raise PlanError(N_("This JPEG file is damaged (no image size)."))


def check_plan(data: bytes, max_bytes: int, max_pixels: int) -> Plan:
    """The plan re-encoded from ``data`` (PNG stays PNG, JPEG stays JPEG): refuses other
    formats, files over ``max_bytes``, images wider or taller than ``max_pixels`` or smaller
    than 16 pixels, and anything OpenCV cannot decode."""
    import cv2
    import numpy as np

    if not data:
        raise PlanError(N_("No file was sent: choose a PNG or JPEG image."))
    if len(data) > max_bytes:
        raise PlanError(N_("The plan is too large: %(size)d KiB, at most %(top)d KiB."),
                        size=len(data) // 1024, top=max_bytes // 1024)
    mime, width, height = declared_size(data)
    if not (MIN_PIXELS <= width <= max_pixels and MIN_PIXELS <= height <= max_pixels):
        raise PlanError(N_("The plan is %(w)d × %(h)d pixels: each side must be between "
                           "%(low)d and %(top)d pixels."), w=width, h=height, low=MIN_PIXELS,
                        top=max_pixels)
    pixels = cv2.imdecode(np.frombuffer(data, dtype=np.uint8), cv2.IMREAD_COLOR)
    if pixels is None or pixels.shape[1] != width or pixels.shape[0] != height:
        raise PlanError(N_("This image cannot be read: save it again as PNG or JPEG."))
    ext, params = (".png", [cv2.IMWRITE_PNG_COMPRESSION, 6]) if mime == "image/png" else \
        (".jpg", [cv2.IMWRITE_JPEG_QUALITY, 90])
    ok, encoded = cv2.imencode(ext, pixels, params)
    if not ok:
        raise PlanError(N_("This image cannot be read: save it again as PNG or JPEG."))
    image = encoded.tobytes()
    return Plan(image, mime, width, height, hashlib.sha256(image).hexdigest())


def store_plan(db: sqlite_utils.Database, plan: Plan, actor: str) -> None:
    """Keep ``plan`` as the site plan (replacing the previous one)."""
    db.execute("INSERT OR REPLACE INTO site_plan (id, image, mime, width, height, sha256, "
               "uploaded_by, uploaded_at) VALUES (1, ?, ?, ?, ?, ?, ?, ?)",
               [plan.image, plan.mime, plan.width, plan.height, plan.sha256, actor, time.time()])
    log.info("site plan %dx%d (%s) stored by %s", plan.width, plan.height, plan.sha256[:12], actor)


def plan_info(db: sqlite_utils.Database) -> dict[str, Any] | None:
    """The stored plan's size, digest, author and time (no image bytes), or ``None``."""
    row = db.execute("SELECT mime, width, height, sha256, uploaded_by, uploaded_at FROM "
                     "site_plan WHERE id = 1").fetchone()
    if row is None:
        return None
    return dict(zip(("mime", "width", "height", "sha256", "uploaded_by", "uploaded_at"), row,
                    strict=True))


def plan_image(db: sqlite_utils.Database) -> tuple[bytes, str] | None:
    row = db.execute("SELECT image, mime FROM site_plan WHERE id = 1").fetchone()
    return (bytes(row[0]), str(row[1])) if row else None


def _fraction(value: Any, name: str) -> float | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value) \
            or not 0.0 <= float(value) <= 1.0:
        raise PlanError(N_("%(name)s must be a number from 0 to 1 (a fraction of the plan)"),
                        name=name)
    return round(float(value), 5)


def place_camera(db: sqlite_utils.Database, site: str, camera: str, body: dict[str, Any]) -> \
        dict[str, Any]:
    """Set a known camera's label and/or position (``x`` and ``y`` together, or both
    ``null`` to take it off the plan); returns what was set."""
    key_rows = db.execute("SELECT key FROM cameras WHERE site = ? AND camera = ?",
                          [site, camera]).fetchall()
    if not key_rows:
        raise PlanError(N_("unknown camera %(camera)s (not a camera this hub knows)"),
                        camera=f"{site}/{camera}")
    unknown = set(body) - {"x", "y", "label"}
    if unknown:
        raise PlanError(N_("unknown field(s) %(fields)s: send x, y and label"),
                        fields=", ".join(sorted(unknown)))
    changes: dict[str, Any] = {}
    if "x" in body or "y" in body:
        x, y = _fraction(body.get("x"), "x"), _fraction(body.get("y"), "y")
        if (x is None) != (y is None):
            raise PlanError(N_("x and y go together (both numbers, or both null)"))
        changes.update(plan_x=x, plan_y=y)
    if "label" in body:
        text = body["label"]
        if text is not None and (not isinstance(text, str) or len(text) > MAX_LABEL
                                 or any(ord(ch) < 32 for ch in text)):
            raise PlanError(N_("label must be text of at most %(top)d characters"), top=MAX_LABEL)
        changes["label"] = (text or "").strip() or None
    if not changes:
        raise PlanError(N_("nothing to change: send x and y, or label"))
    sets = ", ".join(f"{k} = ?" for k in changes)
    db.execute(f"UPDATE cameras SET {sets} WHERE key = ?", [*changes.values(), key_rows[0][0]])
    return changes
