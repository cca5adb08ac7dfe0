"""Preview stills of vehicle tracks: one anonymised JPEG crop of the track's best frame.

The crop is cut from the frame the pipeline saw (privacy masks already painted black), then
anonymised with the clip code of :mod:`edge.clips.maker`: every face YuNet finds (on the crop
upscaled, so small faces are found) is replaced by a smooth gradient, and so is the *whole*
box of every person detected in that frame that overlaps the crop (stricter than clips,
which blur only heads: a preview is a still an investigator may keep). The JPEG is made
smaller until it fits :data:`MAX_PREVIEW_BYTES`, so that an answer stays well under the
contract's 64 KiB message cap. Previews stay on the box until a signed search asks.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable

import cv2
import numpy as np

from edge.privacy.faces import FaceFinder, grow, obscure
from edge.records import Box

log = logging.getLogger(__name__)

MAX_PREVIEW_BYTES = 12 * 1024
MAX_SIDE = 320
MARGIN = 0.1


def crop_box(box: Box, width: int, height: int, margin: float = MARGIN) -> tuple[int, int, int, int]:
    """The pixel crop around ``box`` with ``margin`` of its size on each side, clipped."""
    x1, y1, x2, y2 = box
    mx, my = (x2 - x1) * margin, (y2 - y1) * margin
    return (max(int(x1 - mx), 0), max(int(y1 - my), 0),
            min(int(np.ceil(x2 + mx)), width), min(int(np.ceil(y2 + my)), height))


def anonymise_crop(
    crop: np.ndarray, persons: Iterable[Box], faces: FaceFinder | None
) -> np.ndarray:
    """A copy of ``crop`` with every face and every person box (crop pixels) obscured."""
    out = crop.copy()
    found = faces.find(crop) if faces is not None else []
    for box in persons:
        obscure(out, grow(box, 1.1))
    for box in found:
        obscure(out, grow(box, 2.0))  # YuNet boxes are tight: take the whole head
    return out


def encode_preview(image: np.ndarray, max_bytes: int = MAX_PREVIEW_BYTES) -> bytes:
    """JPEG of ``image`` downscaled to at most :data:`MAX_SIDE` px, made smaller until it fits."""
    h, w = image.shape[:2]
    scale = min(1.0, MAX_SIDE / max(h, w))
    quality = 80
    while True:
        im = image if scale == 1.0 else cv2.resize(
            image, (max(int(w * scale), 1), max(int(h * scale), 1)), interpolation=cv2.INTER_AREA)
        ok, buf = cv2.imencode(".jpg", im, [cv2.IMWRITE_JPEG_QUALITY, quality])
        if not ok:
            raise ValueError("JPEG encoding failed")
        data = buf.tobytes()
        if len(data) <= max_bytes:
            return data
        if quality > 40:
            quality -= 15
        else:
            scale *= 0.75


def make_preview(
    frame: np.ndarray, box: Box, persons: Iterable[Box], faces: FaceFinder | None
) -> bytes:
    """The anonymised JPEG preview of the object in ``box`` of ``frame`` (pixel boxes)."""
    x1, y1, x2, y2 = crop_box(box, frame.shape[1], frame.shape[0])
    inside = [(p[0] - x1, p[1] - y1, p[2] - x1, p[3] - y1) for p in persons
              if p[2] > x1 and p[0] < x2 and p[3] > y1 and p[1] < y2]
    return encode_preview(anonymise_crop(frame[y1:y2, x1:x2], inside, faces))
