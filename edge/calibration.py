"""Ground-plane calibration: a homography from normalised image points to metres on the ground.

Four image points whose ground positions are known (measured on site, or read off a plan)
fix the homography. With it a zone's polygon has an area in square metres (for crowd
density) and the calibration snapshot can draw a one-metre grid over the image.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

log = logging.getLogger(__name__)

Pt = tuple[float, float]


def degenerate(points: Sequence[Pt]) -> str | None:
    """Why four points cannot define a homography (three on a line, repeated), or None."""
    p = np.asarray(points, dtype=float)
    if p.shape != (4, 2):
        return "needs exactly four [x, y] points"
    scale = max(float(np.ptp(p[:, 0])), float(np.ptp(p[:, 1])), 1e-12)
    for i in range(4):
        a, b, c = (p[j] for j in range(4) if j != i)
        cross = (b[0] - a[0]) * (c[1] - a[1]) - (b[1] - a[1]) * (c[0] - a[0])
        if abs(cross) < 1e-3 * scale * scale:
            return "three of the four points are (nearly) on one line; spread them out"
    return None


@dataclass(frozen=True)
class GroundPlane:
    """Image (normalised) <-> ground (metres) through a homography."""

    h: np.ndarray
    """3x3, image -> ground."""

    @classmethod
    def from_points(cls, image: Sequence[Pt], ground: Sequence[Pt]) -> GroundPlane:
        """Solve the homography exactly from four correspondences (DLT)."""
        for what, pts in (("image", image), ("ground", ground)):
            if why := degenerate(pts):
                raise ValueError(f"{what} points: {why}")
        rows = []
        for (x, y), (u, v) in zip(image, ground, strict=True):
            rows.append([x, y, 1, 0, 0, 0, -u * x, -u * y, -u])
            rows.append([0, 0, 0, x, y, 1, -v * x, -v * y, -v])
        _, _, vt = np.linalg.svd(np.asarray(rows, dtype=float))
        h = vt[-1].reshape(3, 3)
        return cls(h / h[2, 2])

    def to_ground(self, points: Sequence[Pt]) -> np.ndarray:
        """Normalised image points -> ground metres, shape (n, 2)."""
        return _apply(self.h, points)

    def to_image(self, points: Sequence[Pt]) -> np.ndarray:
        """Ground metres -> normalised image points, shape (n, 2)."""
        return _apply(np.linalg.inv(self.h), points)

    def area_m2(self, polygon: Sequence[Pt]) -> float:
        """Ground area of an image polygon (shoelace on its ground projection)."""
        g = self.to_ground(polygon)
        x, y = g[:, 0], g[:, 1]
        return float(abs(np.dot(x, np.roll(y, -1)) - np.dot(y, np.roll(x, -1))) / 2)


def _apply(h: np.ndarray, points: Sequence[Pt]) -> np.ndarray:
    p = np.asarray(points, dtype=float).reshape(-1, 2)
    q = np.hstack([p, np.ones((len(p), 1))]) @ h.T
    return q[:, :2] / q[:, 2:3]
