"""Scenes composed from real footage: the shared videos' frames with something drawn on them.

There is no footage of fire, of a blinking beacon or of a bag being left in ../shared, so
these tests paint them on real frames (real sensor noise, compression, people walking):

- a flickering flame (random tongues, irregular brightness, growing), and a veil of smoke
  that rises and grows;
- the Paris 2024 distractors: a steady lit sign, an amber beacon blinking at 2 Hz, a warm
  headlight reflection sliding along the ground;
- a real image patch (cropped from ../shared/media/images) pasted as an object.

They are composed, not filmed: real fire and abandoned-object footage is still needed to
measure these rules (see docs/reference/rules.md).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import cv2
import numpy as np

from edge.capture import VideoSource
from edge.config import SourceConfig
from edge.records import Frame

Painter = Callable[[np.ndarray, float], None]
"""Draws on a frame (in place) at media time ``ts``."""


def frames(video: Path, seconds: float, paint: Painter | None = None, start: int = 0) -> Iterator[Frame]:
    """The video's frames from index ``start`` for ``seconds`` of media time, painted."""
    first: float | None = None
    for f in VideoSource(SourceConfig(url=str(video), realtime=False)).frames():
        if f.index < start:
            continue
        first = f.ts if first is None else first
        if f.ts - first >= seconds:
            return
        img = f.image.copy()
        if paint is not None:
            paint(img, f.ts - first)
        yield Frame(f.index, f.ts - first, f.wall, img)


def _blend(img: np.ndarray, x: int, y: int, patch: np.ndarray, alpha: np.ndarray) -> None:
    """Alpha-blend ``patch`` (h x w x 3) onto ``img`` with its top-left at (x, y), clipped."""
    h, w = alpha.shape
    x0, y0, x1, y1 = max(x, 0), max(y, 0), min(x + w, img.shape[1]), min(y + h, img.shape[0])
    if x1 <= x0 or y1 <= y0:
        return
    p = patch[y0 - y:y1 - y, x0 - x:x1 - x].astype(np.float32)
    a = alpha[y0 - y:y1 - y, x0 - x:x1 - x, None]
    roi = img[y0:y1, x0:x1].astype(np.float32)
    img[y0:y1, x0:x1] = np.clip(a * p + (1 - a) * roi, 0, 255).astype(np.uint8)


def flame(cx: int, base_y: int, seed: int = 1, width: tuple[int, int] = (24, 44),
          height: tuple[int, int] = (40, 80), grow_s: float = 8.0) -> Painter:
    """A flame standing on (cx, base_y): tongues of random height, irregular brightness,
    growing from the first to the second size over ``grow_s``."""
    rng = np.random.default_rng(seed)

    def paint(img: np.ndarray, ts: float) -> None:
        g = min(ts / grow_s, 1.0)
        w = int(width[0] + g * (width[1] - width[0]))
        h = int(height[0] + g * (height[1] - height[0]))
        tongues = cv2.resize(rng.uniform(0.45, 1.0, (1, w // 4 + 2)).astype(np.float32), (w, 1))[0]
        xx = (np.arange(w) - w / 2) / (w / 2)
        top = h * tongues * np.clip(1 - xx ** 2, 0, 1)
        yy = (h - np.arange(h))[:, None]
        inside = (yy <= top[None, :]).astype(np.float32)
        alpha = cv2.GaussianBlur(inside, (5, 5), 0) * 0.95
        glow = cv2.resize(rng.uniform(0.0, 1.0, (h // 6 + 2, w // 6 + 2)).astype(np.float32), (w, h))
        frac = np.clip(yy / max(h, 1), 0, 1) * np.ones((1, w), np.float32)
        patch = np.zeros((h, w, 3), np.float32)
        patch[..., 2] = 215 + 40 * glow
        patch[..., 1] = 80 + 150 * glow * (1 - 0.6 * frac)
        patch[..., 0] = 20 + 40 * glow * (1 - frac)
        _blend(img, cx - w // 2, base_y - h, patch, alpha)

    return paint


def lit_sign(x: int, y: int, w: int = 90, h: int = 30, seed: int = 2) -> Painter:
    """A steady red-orange shop sign with darker letters, under sensor noise (sigma 2)."""
    rng = np.random.default_rng(seed)
    sign = np.zeros((h, w, 3), np.float32)
    sign[:] = (40, 110, 245)
    for i in range(5):
        cv2.rectangle(sign, (6 + i * 17, 7), (14 + i * 17, h - 7), (20, 40, 120), -1)
    alpha = np.ones((h, w), np.float32)

    def paint(img: np.ndarray, ts: float) -> None:
        _blend(img, x, y, sign + rng.normal(0, 2, sign.shape).astype(np.float32), alpha)

    return paint


def beacon(cx: int, cy: int, hz: float = 2.0, radius: int = 14) -> Painter:
    """An amber beacon blinking on and off at ``hz`` (half the period on)."""
    d = 2 * radius + 1
    yy, xx = np.mgrid[:d, :d] - radius
    alpha = np.clip(1.2 - np.hypot(xx, yy) / radius, 0, 1).astype(np.float32)
    lamp = np.zeros((d, d, 3), np.float32)
    lamp[:] = (30, 170, 255)

    def paint(img: np.ndarray, ts: float) -> None:
        if (ts * hz) % 1.0 < 0.5:
            _blend(img, cx - radius, cy - radius, lamp, alpha)

    return paint


def reflection(y: int, speed: float = 160.0, every_s: float = 5.0, length: int = 70) -> Painter:
    """A warm headlight reflection sliding along the ground at ``speed`` px/s, one car every
    ``every_s`` seconds, with the shimmer of wet asphalt."""
    rng = np.random.default_rng(3)
    h = 14
    yy, xx = np.mgrid[:h, :length]
    alpha = np.clip(1 - ((xx - length / 2) / (length / 2)) ** 2 - ((yy - h / 2) / (h / 2)) ** 2, 0, 1)
    alpha = alpha.astype(np.float32)
    patch = np.zeros((h, length, 3), np.float32)
    patch[:] = (70, 175, 255)

    def paint(img: np.ndarray, ts: float) -> None:
        x = int((ts % every_s) * speed) - length
        shimmer = rng.uniform(0.85, 1.0)
        _blend(img, x, y, patch * shimmer, alpha)

    return paint


def smoke(cx: int, base_y: int, rise_px_s: float = 12.0, start_h: int = 30, width: int = 90) -> Painter:
    """A grey veil of smoke over (cx, base_y), rising and growing at ``rise_px_s``."""
    rng = np.random.default_rng(4)

    def paint(img: np.ndarray, ts: float) -> None:
        h = int(start_h + rise_px_s * ts)
        w = int(width * (0.7 + 0.3 * min(ts / 8.0, 1.0)))
        noise = cv2.resize(rng.uniform(0.6, 1.0, (h // 10 + 2, w // 10 + 2)).astype(np.float32), (w, h))
        yy, xx = np.mgrid[:h, :w]
        shape = np.clip(1 - ((xx - w / 2) / (w / 2)) ** 2, 0, 1) * np.clip(yy / 10.0, 0, 1)
        alpha = (0.95 * shape * noise).astype(np.float32)
        roi_x, roi_y = cx - w // 2, base_y - h
        x0, y0 = max(roi_x, 0), max(roi_y, 0)
        under = img[y0:base_y, x0:x0 + w]
        veil = cv2.GaussianBlur(under, (15, 15), 0).astype(np.float32) * 0.15 + 0.85 * 180.0
        full = np.full((h, w, 3), 180.0, np.float32)
        full[y0 - roi_y:y0 - roi_y + veil.shape[0], x0 - roi_x:x0 - roi_x + veil.shape[1]] = veil
        _blend(img, roi_x, roi_y, full, alpha)

    return paint


def paste(image: Path, crop: tuple[int, int, int, int], size: tuple[int, int]) -> np.ndarray:
    """A real object patch: ``crop`` (x, y, w, h) of ``image`` resized to ``size`` (w, h)."""
    src = cv2.imread(str(image))
    assert src is not None, f"cannot read {image}"
    x, y, w, h = crop
    return cv2.resize(src[y:y + h, x:x + w], size, interpolation=cv2.INTER_AREA)


def place(patch: np.ndarray, x: int, y: int, since: float, until: float = float("inf")) -> Painter:
    """Put ``patch`` at (x, y) from media time ``since`` until ``until``."""
    alpha = np.ones(patch.shape[:2], np.float32)

    def paint(img: np.ndarray, ts: float) -> None:
        if since <= ts < until:
            _blend(img, x, y, patch.astype(np.float32), alpha)

    return paint


def layers(*painters: Painter) -> Painter:
    """All ``painters`` in order."""
    def paint(img: np.ndarray, ts: float) -> None:
        for p in painters:
            p(img, ts)

    return paint
