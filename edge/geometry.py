"""Plane geometry on normalised image coordinates."""

from __future__ import annotations

from collections.abc import Sequence


def point_in_polygon(x: float, y: float, polygon: Sequence[tuple[float, float]]) -> bool:
    """Even-odd rule; points on an edge may fall either way."""
    inside = False
    n = len(polygon)
    j = n - 1
    for i in range(n):
        xi, yi = polygon[i]
        xj, yj = polygon[j]
        if (yi > y) != (yj > y) and x < (xj - xi) * (y - yi) / (yj - yi) + xi:
            inside = not inside
        j = i
    return inside


def foot_point(box: tuple[float, float, float, float], width: int, height: int) -> tuple[float, float]:
    """Normalised bottom-centre of a pixel box: where an object stands on the ground."""
    x1, _, x2, y2 = box
    return ((x1 + x2) / 2 / width, y2 / height)
