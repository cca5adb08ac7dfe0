"""What made an event fire, drawn on its still and clip: the zone (or line) and the object boxes.

Drawn after anonymisation (:class:`edge.privacy.faces.Anonymiser`), so the lines never hide a
blur and the blur never hides a line; nothing else is added to the picture.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Literal

import cv2
import numpy as np

from edge.records import Box

log = logging.getLogger(__name__)

ZONE_BGR = (0, 215, 255)
"""Amber: the zone's outline or the counting line."""
BOX_BGR = (0, 0, 255)
"""Red: the boxes of the event's objects."""


@dataclass(frozen=True)
class Shape:
    """An event's zone (closed polygon) or line (two points), normalised to the frame."""

    kind: Literal["zone", "line"]
    points: tuple[tuple[float, float], ...]


def shape_of(zones: Iterable[object], lines: Iterable[object], name: str | None) -> Shape | None:
    """The configured zone or line called ``name`` (None: no such place, or no name)."""
    if name is None:
        return None
    for z in zones:
        if getattr(z, "name", None) == name:
            return Shape("zone", tuple((float(x), float(y)) for x, y in z.polygon))  # type: ignore[attr-defined]
    for line in lines:
        if getattr(line, "name", None) == name:
            a, b = line.a, line.b  # type: ignore[attr-defined]
            return Shape("line", ((float(a[0]), float(a[1])), (float(b[0]), float(b[1]))))
    return None


def thickness(width: int) -> int:
    """Line width in pixels for a frame ``width`` wide (2 at 640 px, 4 at 1920 px)."""
    return max(2, round(width / 480))


def draw(image: np.ndarray, shape: Shape | None, boxes: Sequence[Box],
         source_size: tuple[int, int] | None = None) -> np.ndarray:
    """Draw ``shape`` and ``boxes`` on ``image`` (in place; returned for chaining).

    ``boxes`` are pixels of a frame of ``source_size`` (width, height), scaled to ``image``;
    None means they are already in ``image``'s pixels."""
    h, w = image.shape[:2]
    t = thickness(w)
    if shape is not None:
        pts = np.array([[round(x * (w - 1)), round(y * (h - 1))] for x, y in shape.points], np.int32)
        cv2.polylines(image, [pts], shape.kind == "zone", ZONE_BGR, t, cv2.LINE_AA)
    sx, sy = (1.0, 1.0) if source_size is None else (w / source_size[0], h / source_size[1])
    for x1, y1, x2, y2 in boxes:
        cv2.rectangle(image, (round(x1 * sx), round(y1 * sy)), (round(x2 * sx), round(y2 * sy)),
                      BOX_BGR, t)
    return image
