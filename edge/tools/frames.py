"""Frames sampled from videos and images, for calibration, evaluation and benchmarks."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from pathlib import Path

import cv2
import numpy as np

log = logging.getLogger(__name__)

IMAGE_SUFFIXES = {".jpg", ".jpeg", ".png", ".bmp"}


class MediaError(Exception):
    """A video or image that cannot be read; the text names it."""


def sample_video(path: Path, count: int, skip: int = 0) -> list[np.ndarray]:
    """``count`` frames spread evenly over the video (offset by ``skip`` frames, so that two
    calls with different offsets give disjoint samples)."""
    cap = cv2.VideoCapture(str(path))
    if not cap.isOpened():
        raise MediaError(f"cannot open video {path}")
    try:
        total = int(cap.get(cv2.CAP_PROP_FRAME_COUNT))
        if total <= 0:
            raise MediaError(f"video {path} reports no frames")
        step = max(1, total // max(count, 1))
        wanted = sorted({min(total - 1, i * step + skip % step) for i in range(count)})
        out: list[np.ndarray] = []
        for idx in wanted:
            cap.set(cv2.CAP_PROP_POS_FRAMES, idx)
            ok, image = cap.read()
            if ok:
                out.append(image)
        if not out:
            raise MediaError(f"no frame could be decoded from {path}")
        return out
    finally:
        cap.release()


def sample_media(paths: Sequence[Path], per_video: int, skip: int = 0) -> list[np.ndarray]:
    """Frames from a mix of videos (``per_video`` each) and still images (one each)."""
    frames: list[np.ndarray] = []
    for p in paths:
        if p.suffix.lower() in IMAGE_SUFFIXES:
            image = cv2.imread(str(p))
            if image is None:
                raise MediaError(f"cannot read image {p}")
            frames.append(image)
        else:
            frames.extend(sample_video(p, per_video, skip))
    return frames
