"""``person_down``: a person whose box is lying (wider than tall) and still for ``dwell_s``."""

from __future__ import annotations

import logging

from edge.config import ZoneConfig
from edge.records import Event, Frame, Track
from edge.rules.common import Episode, Held, Motion, select
from edge.rules.configs import PersonDownRule

log = logging.getLogger(__name__)


class PersonDown:
    type = "person_down"

    def __init__(self, cfg: PersonDownRule, zone: ZoneConfig | None):
        self.cfg = cfg
        self.polygon = zone.polygon if zone else None
        self.motion = Motion(max(cfg.dwell_s, 1.0), cfg.gap_s)
        self.lying = Held(cfg.gap_s)
        self.episode = Episode(
            self.type, cfg.severity, zone.name if zone else None, 0.0, cfg.clear_s, cfg.cooldown_s, cfg.gap_s
        )

    def update(self, frame: Frame, tracks: list[Track]) -> list[Event]:
        persons = select(frame, tracks, ["person"], self.polygon)
        self.motion.update(frame, persons)
        lying = []
        for t in persons:
            w, h = t.box[2] - t.box[0], t.box[3] - t.box[1]
            if h > 0 and w / h >= self.cfg.min_aspect and self.motion.spread(t.id) <= self.cfg.max_motion:
                lying.append(t)
        self.lying.update(frame.ts, lying)
        down = self.lying.longer_than(self.cfg.dwell_s)
        return self.episode.step(frame, bool(down), down, {"count": float(len(down))}, self.lying.last_seen)

    def close(self, frame: Frame) -> list[Event]:
        return self.episode.close(frame)
