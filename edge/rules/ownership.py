"""Static objects and who brought them: the owner of an object is whoever was at it when it
appeared; the object is unattended once every owner has been away for the rule's time.

Fed each frame with the static foreground blobs (:mod:`edge.rules.foreground`) that no tracked
object covers, and the person tracks. An object:

- **appears** when its blob is first reported (it has then been still for ``static_s``);
  its owners are the persons whose foot point was within the owner radius of the object's
  during those ``static_s`` and the two seconds before;
- while an owner is near it, every person near it joins its owners (a companion, or the
  owner's track broken and started again under a new id);
- is **unattended** when it has owners and none has been near for ``dwell_s``;
- without any owner (street furniture, a parked thing, something that was already there),
  is learned as background after ``learn_s`` and forgotten (unless owners are not required:
  then it is unattended ``dwell_s`` after it appeared);
- is forgotten when its blob has been gone for :data:`GONE_S` while nothing covers it.

Distances are metres on the ground with a calibration, else normalised to the frame.
"""

from __future__ import annotations

import logging
import math
from collections import deque
from dataclasses import dataclass, field

from edge.calibration import GroundPlane
from edge.geometry import foot_point
from edge.records import Box, Frame, Track, iou

log = logging.getLogger(__name__)

Persons = list[tuple[int, tuple[float, float]]]
"""(track id, normalised foot point) of the persons of one frame."""
GONE_S = 2.0
"""An object whose blob is not reported (and not hidden by a track) for this long is gone."""
BEFORE_S = 2.0
"""Persons at the object this long before it became still also count as its owners."""


def covered(a: Box, b: Box) -> float:
    """Fraction of ``a``'s area inside ``b``."""
    ix = max(0.0, min(a[2], b[2]) - max(a[0], b[0]))
    iy = max(0.0, min(a[3], b[3]) - max(a[1], b[1]))
    area = (a[2] - a[0]) * (a[3] - a[1])
    return ix * iy / area if area > 0 else 0.0


@dataclass
class StaticObject:
    box: Box
    appeared: float
    """Media time at which it became still (first reported minus ``static_s``)."""
    last_seen: float
    owners: set[int] = field(default_factory=set)
    owner_seen: float = -math.inf
    """Last media time an owner was near it."""


class Ownership:
    """The static objects of one rule, their owners, and which are unattended."""

    def __init__(self, static_s: float, dwell_s: float, learn_s: float, radius: float,
                 plane: GroundPlane | None, require_owner: bool = True):
        self.require_owner = require_owner
        self.static_s = static_s
        self.dwell_s = dwell_s
        self.learn_s = learn_s
        self.radius = radius
        self.plane = plane
        self.objects: list[StaticObject] = []
        self._persons: deque[tuple[float, Persons]] = deque()

    def distance(self, a: tuple[float, float], b: tuple[float, float]) -> float:
        """Metres on the ground (calibrated) or normalised image distance."""
        if self.plane is None:
            return math.dist(a, b)
        g = self.plane.to_ground([a, b])
        return float(math.dist(g[0], g[1]))

    def update(self, frame: Frame, blobs: list[Box],
               tracks: list[Track]) -> tuple[list[StaticObject], list[Box]]:
        """(unattended objects, boxes to learn as background) after this frame."""
        w, h = frame.width, frame.height
        persons = [(t.id, foot_point(t.box, w, h)) for t in tracks if t.label == "person"]
        self._persons.append((frame.ts, persons))
        while self._persons and frame.ts - self._persons[0][0] > self.static_s + BEFORE_S:
            self._persons.popleft()
        for box in blobs:
            obj = next((o for o in self.objects
                        if iou(o.box, box) >= 0.3 or covered(box, o.box) >= 0.6), None)
            if obj is None:
                self.objects.append(self._new(frame, box))
            else:
                obj.box, obj.last_seen = box, frame.ts
        unattended, absorb = [], []
        for obj in list(self.objects):
            if any(covered(obj.box, t.box) > 0.3 for t in tracks):
                obj.last_seen = frame.ts  # hidden behind someone or something: still there
            if frame.ts - obj.last_seen > GONE_S:
                self.objects.remove(obj)
                continue
            if not obj.owners and not self.require_owner:
                if frame.ts - obj.appeared >= self.dwell_s:
                    unattended.append(obj)
                continue
            if not obj.owners:
                if frame.ts - obj.appeared >= self.learn_s:
                    absorb.append(obj.box)
                    self.objects.remove(obj)
                continue
            self._attend(obj, frame, persons)
            if frame.ts - obj.owner_seen >= self.dwell_s:
                unattended.append(obj)
        return unattended, absorb

    def _near(self, obj: StaticObject, frame: Frame, persons: Persons) -> set[int]:
        at = foot_point(obj.box, frame.width, frame.height)
        return {pid for pid, foot in persons if self.distance(at, foot) <= self.radius}

    def _new(self, frame: Frame, box: Box) -> StaticObject:
        obj = StaticObject(box, frame.ts - self.static_s, frame.ts)
        for ts, persons in self._persons:
            near = self._near(obj, frame, persons)
            if near:
                obj.owners |= near
                obj.owner_seen = ts
        log.info("static object at %s, owners %s", [round(v) for v in box], sorted(obj.owners))
        return obj

    def _attend(self, obj: StaticObject, frame: Frame, persons: Persons) -> None:
        near = self._near(obj, frame, persons)
        if near & obj.owners:
            obj.owners |= near
            obj.owner_seen = frame.ts
