"""``abandoned_object``: an object left still with nobody near it for ``dwell_s`` (also dumping).

Objects are tracks of the configured classes (bags, suitcases...) and, optionally, static
foreground blobs (:mod:`edge.rules.foreground`) for things the model has no class for.
Blobs that overlap a tracked object (a parked car, a person standing) are not abandoned
objects and are ignored.
"""

from __future__ import annotations

import logging
import math

from edge.config import ZoneConfig
from edge.geometry import foot_point, point_in_polygon
from edge.records import Box, Event, Frame, Track
from edge.rules.common import Episode, Held, Motion, pseudo_track, select
from edge.rules.configs import AbandonedObjectRule
from edge.rules.foreground import StaticBlobs

log = logging.getLogger(__name__)


def _overlap(a: Box, b: Box) -> float:
    """Fraction of ``a``'s area covered by ``b``."""
    ix = max(0.0, min(a[2], b[2]) - max(a[0], b[0]))
    iy = max(0.0, min(a[3], b[3]) - max(a[1], b[1]))
    area = (a[2] - a[0]) * (a[3] - a[1])
    return ix * iy / area if area > 0 else 0.0


class AbandonedObject:
    type = "abandoned_object"

    def __init__(self, cfg: AbandonedObjectRule, zone: ZoneConfig | None):
        self.cfg = cfg
        self.polygon = zone.polygon if zone else None
        self.motion = Motion(cfg.dwell_s, cfg.gap_s)
        self.alone = Held(cfg.gap_s)
        self.blobs = StaticBlobs(cfg.dwell_s, cfg.blob_min_area) if cfg.foreground_blob else None
        self.episode = Episode(
            self.type, cfg.severity, zone.name if zone else None, 0.0, cfg.clear_s, cfg.cooldown_s, cfg.gap_s
        )

    def _person_near(self, frame: Frame, box: Box, persons: list[Track]) -> bool:
        ox, oy = foot_point(box, frame.width, frame.height)
        return any(
            math.dist((ox, oy), foot_point(p.box, frame.width, frame.height)) <= self.cfg.person_radius
            for p in persons
        )

    def update(self, frame: Frame, tracks: list[Track]) -> list[Event]:
        persons = [t for t in tracks if t.label == "person"]
        objects = select(frame, tracks, self.cfg.classes, self.polygon)
        self.motion.update(frame, objects)
        alone = [t for t in objects if self.motion.spread(t.id) <= self.cfg.max_motion
                 and not self._person_near(frame, t.box, persons)]
        self.alone.update(frame.ts, alone)
        left: list[Track] = self.alone.longer_than(self.cfg.dwell_s)
        if self.blobs is not None:
            for box in self.blobs.update(frame.image, frame.ts):
                if any(_overlap(box, t.box) > 0.3 for t in tracks):
                    continue
                if self.polygon is not None and not point_in_polygon(
                    *foot_point(box, frame.width, frame.height), self.polygon
                ):
                    continue
                if not self._person_near(frame, box, persons):
                    left.append(pseudo_track("static object", box, frame.ts))
        blob_seen = any(t.id == -1 for t in left)  # blobs are seen now; tracks may be within the gap
        seen = frame.ts if blob_seen else self.alone.last_seen
        return self.episode.step(frame, bool(left), left, {"count": float(len(left))}, seen)

    def close(self, frame: Frame) -> list[Event]:
        return self.episode.close(frame)
