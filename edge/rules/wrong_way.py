"""``wrong_way``: a person or vehicle moving against a zone's allowed direction.

A track counts when, over its last ``window_s``, its foot point moved at least
``min_distance`` (normalised) in a direction within ``max_angle_deg`` of exactly backwards.
A track unseen, or briefly not counting, for up to ``gap_s`` keeps its history and still
counts, so the event stays open while wrong-way traffic still drives.
"""

from __future__ import annotations

import logging
import math

from edge.config import ZoneConfig
from edge.records import Event, Frame, Track
from edge.rules.common import Episode, Held, Motion, select
from edge.rules.configs import WrongWayRule

log = logging.getLogger(__name__)


class WrongWay:
    type = "wrong_way"

    def __init__(self, cfg: WrongWayRule, zone: ZoneConfig):
        self.cfg = cfg
        self.zone = zone
        norm = math.hypot(*cfg.direction)
        self._dir = (cfg.direction[0] / norm, cfg.direction[1] / norm)
        self._cos = math.cos(math.radians(cfg.max_angle_deg))
        self.motion = Motion(cfg.window_s, cfg.gap_s)
        self.held = Held(cfg.gap_s)
        self.episode = Episode(self.type, cfg.severity, zone.name, cfg.dwell_s, cfg.clear_s, cfg.cooldown_s,
                               cfg.gap_s)

    def against(self, tid: int) -> float:
        """Distance the track moved against the allowed direction (0 if not wrong-way)."""
        dx, dy, _ = self.motion.displacement(tid)
        dist = math.hypot(dx, dy)
        if dist < self.cfg.min_distance:
            return 0.0
        cos_back = -(dx * self._dir[0] + dy * self._dir[1]) / dist
        return dist if cos_back >= self._cos else 0.0

    def update(self, frame: Frame, tracks: list[Track]) -> list[Event]:
        inside = select(frame, tracks, self.cfg.classes, self.zone.polygon)
        self.motion.update(frame, inside)
        offenders = self.held.update(frame.ts, [t for t in inside if self.against(t.id) > 0])
        measure = {"count": float(len(offenders))}
        if offenders:
            measure["distance"] = max(self.against(t.id) for t in offenders)
        return self.episode.step(frame, bool(offenders), offenders, measure, self.held.last_seen)

    def close(self, frame: Frame) -> list[Event]:
        return self.episode.close(frame)
