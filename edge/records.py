"""Typed records passed between the stages of the box pipeline.

Boxes are ``(x1, y1, x2, y2)`` in pixels of the frame they come from; only
:func:`normalise_box` turns them into the wire's normalised ``[x, y, w, h]``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import numpy as np

Box = tuple[float, float, float, float]


@dataclass(frozen=True, eq=False)
class Frame:
    """One decoded frame. ``ts`` is media time in seconds (monotonic within a run);
    ``wall`` is the Unix time it was captured, used for message timestamps."""

    index: int
    ts: float
    wall: float
    image: np.ndarray

    @property
    def width(self) -> int:
        return int(self.image.shape[1])

    @property
    def height(self) -> int:
        return int(self.image.shape[0])


@dataclass(frozen=True)
class Detection:
    """One object found by a detector in one frame."""

    label: str
    score: float
    box: Box


@dataclass(frozen=True)
class Track:
    """The state of one tracked object after a frame. Ids are local to one camera and
    forgotten when the track ends (no re-identification)."""

    id: int
    label: str
    score: float
    box: Box
    first_ts: float
    last_ts: float
    hits: int
    missed: int


@dataclass(frozen=True)
class Event:
    """A rule's output: the start or the end of one situation."""

    id: str
    type: str
    state: Literal["start", "end"]
    severity: Literal["info", "warning", "critical"]
    started_wall: float
    ended_wall: float | None
    zone: str | None
    objects: tuple[Track, ...]
    measure: dict[str, float]
    frame_w: int
    frame_h: int


def normalise_box(box: Box, width: int, height: int) -> tuple[float, float, float, float]:
    """Pixel ``(x1, y1, x2, y2)`` -> normalised ``[x, y, w, h]`` clipped to [0, 1]."""
    x1, y1, x2, y2 = box
    x1 = min(max(x1 / width, 0.0), 1.0)
    x2 = min(max(x2 / width, 0.0), 1.0)
    y1 = min(max(y1 / height, 0.0), 1.0)
    y2 = min(max(y2 / height, 0.0), 1.0)
    return (x1, y1, max(x2 - x1, 0.0), max(y2 - y1, 0.0))


def iou(a: Box, b: Box) -> float:
    """Intersection over union of two pixel boxes."""
    ix = max(0.0, min(a[2], b[2]) - max(a[0], b[0]))
    iy = max(0.0, min(a[3], b[3]) - max(a[1], b[1]))
    inter = ix * iy
    if inter <= 0:
        return 0.0
    union = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter
    return inter / union if union > 0 else 0.0
