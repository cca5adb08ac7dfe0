"""Classical flame and smoke detection: colour, flicker, persistence; no model needed.

Works on a small copy of the watched area (:data:`WIDTH` pixels across the frame) over a
sliding window of ``window_s`` seconds of frames.

- **Flame**: pixels of flame colour (bright, red over green over blue, Cr well above Cb in
  YCbCr) in at least ``min_occupancy`` of the window's frames, whose brightness varies by at
  least ``min_flicker`` grey levels (temporal standard deviation). A region of such pixels
  counts when it is at least ``min_area`` of the watched area, stays in place (its flame
  pixels' centroid drifts at most ``max_drift`` of the frame width over the window) and its
  flicker is broadband: the strongest frequency, with its two neighbours, holds at most
  ``max_peak`` of the flicker power (flames flicker irregularly between about 1 and 15 Hz).
- **Smoke**: low-saturation pixels that differ from a slowly learned background and blur it
  (local edge energy below ``smoke_edge_ratio`` of the background's), present in at least
  ``min_occupancy`` of the window, in a region that grows or rises during the window and
  drifts slowly (at most twice ``max_drift``).

What fooled the Paris 2024 trial is suppressed by construction:

- a **lit shop sign** is bright and of flame colour but steady: no flicker; pixels steadily
  flame-coloured for ``learn_s`` are learned as background, with a one-pixel margin so
  compression noise on the sign's edges does not pass for flicker;
- a **road reflection** of headlights travels with the car: each pixel is lit only briefly
  (occupancy), and the region's centroid drifts (``max_drift``); it does not rise;
- a **rotating or blinking beacon** flickers at one frequency: its on/off spectrum has one
  sharp peak holding most of the power (above ``max_peak``).

Nothing here leaves the box; only the regions' boxes and measures reach the event.
"""

from __future__ import annotations

import logging
from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

import cv2
import numpy as np

from edge.records import Box
from edge.rules.configs import FireRule

log = logging.getLogger(__name__)

WIDTH = 192
"""Width (pixels) of the analysed copy of the frame; 768x432 becomes 192x108."""
MIN_RED = 200.0
"""Least red level of a flame pixel: flames are among the brightest things in view."""
MIN_LUMA = 110.0
"""Least luma (Y) of a flame pixel."""
MIN_CR_CB = 40.0
"""Least Cr - Cb of a flame pixel (red-yellow, not white or brown)."""
SMOKE_DIFF = 12.0
"""Grey levels from the background above which a pixel may be smoke."""
MIN_BG_EDGE = 4.0
"""Background edge energy below which edge loss cannot be measured (a blank wall)."""


@dataclass(frozen=True)
class FireRegion:
    """One flame or smoke region found in the window ending at the current frame."""

    kind: Literal["flame", "smoke"]
    box: Box
    """Pixels of the full frame."""
    area: float
    """Fraction of the watched area."""
    flicker: float
    """Mean temporal standard deviation of the region's brightness (grey levels)."""
    peak: float
    """Share of the flicker power in the strongest frequency and its neighbours."""


def flame_colour(bgr: np.ndarray) -> np.ndarray:
    """Boolean mask of flame-coloured pixels of a uint8 BGR image."""
    ycrcb = cv2.cvtColor(bgr, cv2.COLOR_BGR2YCrCb)
    b, g, r = bgr[..., 0], bgr[..., 1], bgr[..., 2]
    y, cr, cb = ycrcb[..., 0], ycrcb[..., 1].astype(np.int16), ycrcb[..., 2].astype(np.int16)
    return (r >= MIN_RED) & (r > g) & (g > b) & (y >= MIN_LUMA) & (cr - cb >= MIN_CR_CB)


class _Window:
    """The last ``window_s`` of small frames (luma, flame mask, smoke mask) with running sums,
    so per-pixel mean, variance and occupancy cost one add and one subtract a frame."""

    def __init__(self) -> None:
        self.items: deque[tuple[float, np.ndarray, np.ndarray, np.ndarray]] = deque()
        self._sums: list[np.ndarray] = []

    def push(self, ts: float, luma: np.ndarray, colour: np.ndarray, smoke: np.ndarray,
             window_s: float) -> None:
        parts = [luma.astype(np.float64), luma.astype(np.float64) ** 2, colour, smoke]
        if not self._sums or self._sums[0].shape != luma.shape:
            self.items.clear()
            self._sums = [np.zeros(luma.shape, np.float64) for _ in parts]
        for acc, part in zip(self._sums, parts, strict=True):
            acc += part
        self.items.append((ts, luma, colour, smoke))
        while ts - self.items[0][0] > window_s:
            _, old_l, old_c, old_s = self.items.popleft()
            old = [old_l.astype(np.float64), old_l.astype(np.float64) ** 2, old_c, old_s]
            for acc, part in zip(self._sums, old, strict=True):
                acc -= part

    @property
    def span(self) -> float:
        return self.items[-1][0] - self.items[0][0] if self.items else 0.0

    def flicker(self) -> np.ndarray:
        """Per-pixel temporal standard deviation of the luma."""
        n = len(self.items)
        mean: np.ndarray = self._sums[0] / n
        return np.sqrt(np.maximum(self._sums[1] / n - mean * mean, 0.0))

    def occupancy(self, which: int) -> np.ndarray:
        """Per-pixel share of the frames in the flame (1) or smoke (2) mask."""
        return self._sums[1 + which] / len(self.items)

    def stack(self, which: int, sl: tuple[slice, slice]) -> np.ndarray:
        """Frames x the ``sl`` window of luma (0), flame mask (1) or smoke mask (2)."""
        return np.stack([(luma, colour, smoke)[which][sl] for _, luma, colour, smoke in self.items])


def shrink(image: np.ndarray, width: int) -> np.ndarray:
    """``image`` scaled to ``width`` pixels, averaging the pixels it merges: two halvings by
    bilinear interpolation (exact 2x2 means) then an area resize, about four times cheaper than
    an area resize of the full frame and within half a grey level of it."""
    h, w = image.shape[:2]
    height = max(1, round(h * width / w))
    if w > 2 * width:
        image = cv2.resize(image, (2 * width, 2 * height), interpolation=cv2.INTER_LINEAR)
    return cv2.resize(image, (width, height), interpolation=cv2.INTER_AREA)


def peak_share(series: np.ndarray) -> float:
    """Share of the power of ``series`` (frames x pixels) in its strongest frequency bin and
    the two beside it, the spectra of the pixels averaged; 1.0 when there is no variation."""
    x = series - series.mean(axis=0, keepdims=True)
    power = (np.abs(np.fft.rfft(x, axis=0)) ** 2).mean(axis=1)[1:]
    total = float(power.sum())
    if total <= 1e-9 or len(power) < 3:
        return 1.0
    band = np.convolve(power, np.ones(3), mode="same")
    return float(band.max() / total)


def _edges(grey: np.ndarray) -> np.ndarray:
    gx = cv2.Sobel(grey, cv2.CV_32F, 1, 0, ksize=3)
    gy = cv2.Sobel(grey, cv2.CV_32F, 0, 1, ksize=3)
    return cv2.blur(np.abs(gx) + np.abs(gy), (5, 5))


class FlameSmoke:
    """Feed frames with :meth:`update`; get the flame and smoke regions of each window."""

    def __init__(self, cfg: FireRule, polygon: Sequence[tuple[float, float]] | None):
        self.cfg = cfg
        self.polygon = polygon
        self._hist = _Window()
        self._shape: tuple[int, int] | None = None
        self._scale = 1.0
        self._crop = (0, 0, 0, 0)
        self._watch: np.ndarray = np.zeros((0, 0), bool)
        self._steady: np.ndarray = np.zeros((0, 0), np.float32)
        self._bg: np.ndarray | None = None
        self._bg_edges: np.ndarray | None = None
        self._last_ts: float | None = None

    def _setup(self, h: int, w: int) -> None:
        sh = max(1, round(h * WIDTH / w))
        mask = np.ones((sh, WIDTH), np.uint8)
        if self.polygon is not None:
            mask[:] = 0
            pts = np.array([[x * WIDTH, y * sh] for x, y in self.polygon], np.int32)
            cv2.fillPoly(mask, [pts], 1)
        ys, xs = np.nonzero(mask)
        if len(ys) == 0:
            ys, xs = np.array([0]), np.array([0])
        self._crop = (int(ys.min()), int(ys.max()) + 1, int(xs.min()), int(xs.max()) + 1)
        y0, y1, x0, x1 = self._crop
        self._watch = mask[y0:y1, x0:x1].astype(bool)
        self._steady = np.zeros(self._watch.shape, np.float32)
        self._scale = w / WIDTH
        self._shape = (h, w)
        self._hist = _Window()
        self._bg = None

    def update(self, image: np.ndarray, ts: float) -> list[FireRegion]:
        h, w = image.shape[:2]
        if self._shape != (h, w):
            self._setup(h, w)
        y0, y1, x0, x1 = self._crop
        small = shrink(image, WIDTH)[y0:y1, x0:x1]
        grey = cv2.cvtColor(small, cv2.COLOR_BGR2GRAY).astype(np.float32)
        colour = flame_colour(small) & self._watch
        smoke = self._smoke_pixels(small, grey, ts) if self.cfg.smoke else np.zeros_like(colour)
        self._hist.push(ts, grey, colour, smoke, self.cfg.window_s)
        if self._hist.span < 0.8 * self.cfg.window_s or len(self._hist.items) < 8:
            return []
        flicker = self._hist.flicker()
        out = self._flames(flicker, ts)
        if self.cfg.smoke:
            out += self._smokes(flicker)
        return out

    def _learn_signs(self, steady: np.ndarray, ts: float) -> np.ndarray:
        """Evidence of steady flame colour; a pixel past ``learn_s`` is background."""
        dt = 0.0 if self._last_ts is None else max(0.0, ts - self._last_ts)
        self._last_ts = ts
        self._steady = np.where(steady, np.minimum(self._steady + dt, 2 * self.cfg.learn_s),
                                np.maximum(self._steady - 0.25 * dt, 0.0)).astype(np.float32)
        learned = (self._steady >= self.cfg.learn_s).astype(np.uint8)
        return cv2.dilate(learned, np.ones((3, 3), np.uint8)).astype(bool)

    def _flames(self, flicker: np.ndarray, ts: float) -> list[FireRegion]:
        occupancy = self._hist.occupancy(1)
        background = self._learn_signs((occupancy >= 0.9) & (flicker < self.cfg.min_flicker), ts)
        cand = (occupancy >= self.cfg.min_occupancy) & (flicker >= self.cfg.min_flicker) & ~background
        out: list[FireRegion] = []
        for sl, comp in self._components(cand):
            if self._drift(self._hist.stack(1, sl) & comp) > self.cfg.max_drift:
                continue
            peak = peak_share(self._hist.stack(0, sl)[:, comp])
            if peak > self.cfg.max_peak:
                continue
            out.append(self._region("flame", sl, comp, float(flicker[sl][comp].mean()), peak))
        return out

    def _components(self, cand: np.ndarray) -> list[tuple[tuple[slice, slice], np.ndarray]]:
        """Connected regions of ``cand`` at least ``min_area`` of the watched area."""
        closed = cv2.morphologyEx(cand.astype(np.uint8), cv2.MORPH_CLOSE, np.ones((3, 3), np.uint8))
        n, labels, stats, _ = cv2.connectedComponentsWithStats(closed, connectivity=8)
        least = max(2.0, self.cfg.min_area * float(self._watch.sum()))
        out = []
        for i in range(1, n):
            x, y, bw, bh, a = stats[i]
            if a >= least:
                sl = (slice(y, y + bh), slice(x, x + bw))
                out.append((sl, labels[sl] == i))
        return out

    def _drift(self, region: np.ndarray) -> float:
        """How far (fraction of the frame width) the region's lit pixels move over the window."""
        third = max(1, len(region) // 3)

        def centroid(part: np.ndarray) -> np.ndarray | None:
            counts = part.sum(axis=0)
            if counts.sum() == 0:
                return None
            yy, xx = np.indices(counts.shape)
            return np.array([(xx * counts).sum(), (yy * counts).sum()]) / counts.sum()

        a, b = centroid(region[:third]), centroid(region[-third:])
        if a is None or b is None:
            return 1.0
        return float(np.hypot(*(b - a)) / WIDTH)

    def _region(self, kind: Literal["flame", "smoke"], sl: tuple[slice, slice], comp: np.ndarray,
                flicker: float, peak: float) -> FireRegion:
        y0, _, x0, _ = self._crop
        ys, xs = np.nonzero(comp)
        s = self._scale
        box = (float((x0 + sl[1].start + xs.min()) * s), float((y0 + sl[0].start + ys.min()) * s),
               float((x0 + sl[1].start + xs.max() + 1) * s), float((y0 + sl[0].start + ys.max() + 1) * s))
        area = float(comp.sum()) / max(1.0, float(self._watch.sum()))
        return FireRegion(kind, box, round(area, 5), round(flicker, 2), round(peak, 3))

    def _smoke_pixels(self, small: np.ndarray, grey: np.ndarray, ts: float) -> np.ndarray:
        """Pixels that may be smoke now; learns the slow background where they are not."""
        edges = _edges(grey)
        if self._bg is None or self._bg_edges is None:
            self._bg, self._bg_edges = grey.copy(), edges.copy()
            return np.zeros(grey.shape, bool)
        hsv = cv2.cvtColor(small, cv2.COLOR_BGR2HSV)
        grey_ish = hsv[..., 1].astype(np.float32) / 255.0 <= self.cfg.smoke_max_saturation
        veiled = (self._bg_edges >= MIN_BG_EDGE) & (edges <= self.cfg.smoke_edge_ratio * self._bg_edges)
        pix = (np.abs(grey - self._bg) >= SMOKE_DIFF) & grey_ish & veiled & self._watch
        dt = 0.0 if not self._hist.items else max(0.0, ts - self._hist.items[-1][0])
        a = np.where(pix, 0.0, min(1.0, dt / self.cfg.learn_s)).astype(np.float32)
        self._bg += a * (grey - self._bg)
        self._bg_edges += a * (edges - self._bg_edges)
        return pix

    def _smokes(self, flicker: np.ndarray) -> list[FireRegion]:
        cand = self._hist.occupancy(2) >= self.cfg.min_occupancy
        out: list[FireRegion] = []
        for sl, comp in self._components(cand):
            region = self._hist.stack(2, sl) & comp
            third = max(1, len(region) // 3)
            early, late = region[:third].any(axis=0), region[-third:].any(axis=0)
            if not early.any() or not late.any():
                continue
            grows = late.sum() >= 1.1 * early.sum()
            rises = np.nonzero(late.any(axis=1))[0].min() < np.nonzero(early.any(axis=1))[0].min()
            if not (grows or rises) or self._drift(region) > 2 * self.cfg.max_drift:
                continue
            out.append(self._region("smoke", sl, comp, float(flicker[sl][comp].mean()), 0.0))
        return out
