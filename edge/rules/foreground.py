"""Static foreground blobs: things that appeared in the scene and stayed still.

Two running backgrounds on a small grey image: a long-term one that learns slowly and a
short-term one that learns in a couple of seconds. A pixel that differs from the long-term
background but no longer from the short-term one belongs to something that arrived and
stopped. Its evidence grows with the time it stays so and decays quickly otherwise; blobs
whose evidence reaches the dwell are reported. What is in view at the first frame is the
background; :meth:`StaticBlobs.absorb` learns a region into it at once (an object nobody
brought). Nothing here leaves the box.
"""

from __future__ import annotations

import logging

import cv2
import numpy as np

log = logging.getLogger(__name__)

WIDTH = 160


def small_grey(image: np.ndarray, width: int = WIDTH, blur: bool = True) -> np.ndarray:
    """A float32 grey copy ``width`` pixels wide, blurred 5x5 unless ``blur`` is False."""
    h, w = image.shape[:2]
    grey = cv2.cvtColor(image, cv2.COLOR_BGR2GRAY) if image.ndim == 3 else image
    small = cv2.resize(grey, (width, max(1, round(h * width / w))), interpolation=cv2.INTER_AREA)
    small = small.astype(np.float32)
    return cv2.GaussianBlur(small, (5, 5), 0) if blur else small


class StaticBlobs:
    """Feed frames with :meth:`update`; get pixel boxes of blobs static for ``dwell_s``."""

    def __init__(self, dwell_s: float, min_area: float, diff: float = 25.0, short_tau_s: float = 2.0):
        self.dwell_s = dwell_s
        self.min_area = min_area
        self.diff = diff
        self.short_tau_s = short_tau_s
        self.long_tau_s = max(5.0 * dwell_s, 30.0)
        self._long: np.ndarray | None = None
        self._short: np.ndarray | None = None
        self._evidence: np.ndarray | None = None
        self._last_ts: float | None = None

    def update(self, image: np.ndarray, ts: float) -> list[tuple[float, float, float, float]]:
        g = small_grey(image)
        if self._long is None or self._short is None or self._evidence is None or self._long.shape != g.shape:
            self._long, self._short = g.copy(), g.copy()
            self._evidence = np.zeros_like(g)
            self._last_ts = ts
            return []
        dt = max(ts - (self._last_ts or ts), 0.0)
        self._last_ts = ts
        fg_long = np.abs(g - self._long) > self.diff
        fg_short = np.abs(g - self._short) > self.diff
        static = fg_long & ~fg_short
        self._evidence = np.where(static, self._evidence + dt, np.maximum(self._evidence - 5 * dt, 0.0))
        a_short = min(1.0, dt / self.short_tau_s)
        a_long = min(1.0, dt / self.long_tau_s)
        self._short += a_short * (g - self._short)
        # The long-term background does not learn where something static is being watched.
        self._long += np.where(static, 0.0, a_long) * (g - self._long)
        if not (self._evidence >= self.dwell_s).any():
            return []
        # Hysteresis: a blob is the region of half the dwell around pixels at the full dwell.
        mask = (self._evidence >= self.dwell_s / 2).astype(np.uint8)
        n, labels, stats, _ = cv2.connectedComponentsWithStats(mask, connectivity=8)
        strong = set(np.unique(labels[self._evidence >= self.dwell_s]).tolist())
        scale = image.shape[1] / g.shape[1]
        area = g.shape[0] * g.shape[1]
        out = []
        for i in range(1, n):
            x, y, w, h, a = stats[i]
            if i in strong and a >= self.min_area * area:
                out.append((x * scale, y * scale, (x + w) * scale, (y + h) * scale))
        return out

    def absorb(self, box: tuple[float, float, float, float], width: int) -> None:
        """Learn the region of pixel ``box`` (in a frame ``width`` wide) as background now."""
        if self._long is None or self._short is None or self._evidence is None:
            return
        scale = self._long.shape[1] / width
        x1, y1 = max(0, int(box[0] * scale) - 1), max(0, int(box[1] * scale) - 1)
        x2, y2 = int(box[2] * scale) + 2, int(box[3] * scale) + 2
        self._long[y1:y2, x1:x2] = self._short[y1:y2, x1:x2]
        self._evidence[y1:y2, x1:x2] = 0.0
