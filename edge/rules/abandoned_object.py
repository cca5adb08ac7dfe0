"""``abandoned_object``: an object left behind, unattended for ``dwell_s``.

Two kinds of objects, one event:

- **static objects** (``foreground_blob``, the default): a region that differs from the learned
  background and stays still for ``static_s`` (:mod:`edge.rules.foreground`), big enough
  (``min_object_m2`` with ``[calibration]``, else ``blob_min_area`` of the frame), not covered
  by a tracked object (a still person, a parked car), whose owner — whoever was at it when it
  appeared — has been away for ``dwell_s`` (:mod:`edge.rules.ownership`). Objects nobody brought
  are learned as background after ``learn_s``; what is in view when the rule starts already is.
- **tracked objects** of ``classes`` (bags...): still within ``max_motion`` with no person
  within ``person_radius`` for ``dwell_s``.
"""

from __future__ import annotations

import logging
import math

from edge.calibration import GroundPlane
from edge.config import ZoneConfig
from edge.geometry import foot_point, point_in_polygon
from edge.records import Box, Event, Frame, Track
from edge.rules.common import Episode, Held, Motion, pseudo_track, select
from edge.rules.configs import AbandonedObjectRule
from edge.rules.foreground import StaticBlobs
from edge.rules.ownership import Ownership, covered

log = logging.getLogger(__name__)

BLOB_FLOOR = 0.0001
"""Smallest blob the foreground model reports (fraction of the frame); the rule's own size
test, in square metres or of the frame, comes after."""


class AbandonedObject:
    type = "abandoned_object"

    def __init__(self, cfg: AbandonedObjectRule, zone: ZoneConfig | None, plane: GroundPlane | None = None):
        self.cfg = cfg
        self.polygon = zone.polygon if zone else None
        self.plane = plane
        self.motion = Motion(cfg.dwell_s, cfg.gap_s)
        self.alone = Held(cfg.gap_s)
        self.blobs = StaticBlobs(cfg.static_s, BLOB_FLOOR) if cfg.foreground_blob else None
        radius = cfg.owner_radius_m if plane is not None else cfg.person_radius
        self.owners = Ownership(cfg.static_s, cfg.dwell_s, cfg.learn_s, radius, plane, cfg.require_owner)
        self.episode = Episode(
            self.type, cfg.severity, zone.name if zone else None, 0.0, cfg.clear_s, cfg.cooldown_s, cfg.gap_s
        )

    def _person_near(self, frame: Frame, box: Box, persons: list[Track]) -> bool:
        ox, oy = foot_point(box, frame.width, frame.height)
        return any(
            math.dist((ox, oy), foot_point(p.box, frame.width, frame.height)) <= self.cfg.person_radius
            for p in persons
        )

    def _big_enough(self, frame: Frame, box: Box) -> bool:
        """Is the blob at least the rule's smallest object (m2 when calibrated, else of the frame)?"""
        bw, bh = box[2] - box[0], box[3] - box[1]
        if self.plane is None:
            return bw * bh >= self.cfg.blob_min_area * frame.width * frame.height
        fx, fy = foot_point(box, frame.width, frame.height)
        g = self.plane.to_ground([(fx, fy), (fx + 1.0 / frame.width, fy)])
        metres_per_px = float(math.dist(g[0], g[1]))
        return bw * bh * metres_per_px**2 >= self.cfg.min_object_m2

    def _tracked(self, frame: Frame, tracks: list[Track], persons: list[Track]) -> list[Track]:
        objects = select(frame, tracks, self.cfg.classes, self.polygon)
        self.motion.update(frame, objects)
        alone = [t for t in objects if self.motion.spread(t.id) <= self.cfg.max_motion
                 and not self._person_near(frame, t.box, persons)]
        self.alone.update(frame.ts, alone)
        return self.alone.longer_than(self.cfg.dwell_s)

    def _static(self, frame: Frame, tracks: list[Track]) -> list[Track]:
        assert self.blobs is not None
        blobs = []
        for box in self.blobs.update(frame.image, frame.ts):
            if any(covered(box, t.box) > 0.3 for t in tracks) or not self._big_enough(frame, box):
                continue
            if self.polygon is None or point_in_polygon(*foot_point(box, frame.width, frame.height),
                                                        self.polygon):
                blobs.append(box)
        unattended, absorb = self.owners.update(frame, blobs, tracks)
        for box in absorb:
            self.blobs.absorb(box, frame.width)
        return [pseudo_track("static object", o.box, frame.ts) for o in unattended]

    def update(self, frame: Frame, tracks: list[Track]) -> list[Event]:
        persons = [t for t in tracks if t.label == "person"]
        left = self._tracked(frame, tracks, persons) if self.cfg.classes else []
        static = self._static(frame, tracks) if self.blobs is not None else []
        # Static objects are seen now; tracked ones may be within the gap.
        seen = frame.ts if static else self.alone.last_seen
        return self.episode.step(frame, bool(left or static), left + static,
                                 {"count": float(len(left) + len(static))}, seen)

    def close(self, frame: Frame) -> list[Event]:
        return self.episode.close(frame)
