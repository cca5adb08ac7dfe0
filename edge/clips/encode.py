"""WebM/VP8 encoding of clips through OpenCV's FFmpeg backend (``VP80``).

Chromium plays VP8 WebM in a ``<video>`` element; the H.264 encoder of the
opencv-python-headless wheel is not usable here (it needs a hardware device).
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

CLIP_MIME = "video/webm"
FOURCC = "VP80"


class ClipError(Exception):
    """A clip that could not be made (encoder missing, over the size limit...)."""


@dataclass(frozen=True)
class ClipFile:
    """An encoded clip on the box's disk."""

    path: Path
    sha256: str
    bytes: int
    frames: int
    duration_s: float


def timeline(stamps: list[float], start: float, end: float, fps: float) -> list[int]:
    """For each output tick from ``start`` to ``end`` at ``fps``, the index of the latest
    input frame at or before it (so the clip lasts ``end - start`` whatever the input rate)."""
    n = max(round((end - start) * fps), 1)
    out, j = [], 0
    for k in range(n):
        t = start + k / fps + 1e-6
        while j + 1 < len(stamps) and stamps[j + 1] <= t:
            j += 1
        out.append(j)
    return out


def encode(images: Iterable[np.ndarray], fps: float, path: Path, max_bytes: int) -> ClipFile:
    """Encode BGR frames to WebM/VP8 at ``path``; refuse a result over ``max_bytes``."""
    writer: cv2.VideoWriter | None = None
    n = 0
    tmp = path.with_suffix(".part.webm")
    try:
        for image in images:
            if writer is None:
                h, w = image.shape[:2]
                writer = cv2.VideoWriter(str(tmp), cv2.VideoWriter.fourcc(*FOURCC), fps, (w, h))
                if not writer.isOpened():
                    raise ClipError("OpenCV cannot encode WebM/VP8 here (FFmpeg backend missing?)")
            writer.write(image)
            n += 1
    finally:
        if writer is not None:
            writer.release()
    if n == 0:
        tmp.unlink(missing_ok=True)
        raise ClipError("no frames to encode")
    size = tmp.stat().st_size
    if size > max_bytes:
        tmp.unlink(missing_ok=True)
        raise ClipError(f"clip of {size} bytes exceeds clips.max_bytes = {max_bytes}")
    os.replace(tmp, path)
    digest = hashlib.sha256(path.read_bytes()).hexdigest()
    return ClipFile(path, digest, size, n, n / fps)


def fit(image: np.ndarray, max_width: int, max_height: int) -> np.ndarray:
    """``image`` scaled down (aspect kept, even sizes) to fit ``max_width`` x ``max_height``."""
    h, w = image.shape[:2]
    scale = min(max_width / w, max_height / h)
    if scale >= 1.0:
        return image
    size = (max(2, int(w * scale) // 2 * 2), max(2, int(h * scale) // 2 * 2))
    return cv2.resize(image, size, interpolation=cv2.INTER_AREA)
