"""``person_down``: a person whose box is lying (wider than tall) and still for ``dwell_s``."""

from __future__ import annotations

import logging

from edge.config import ZoneConfig
from edge.records import Event, Frame, Track
from edge.rules.common import Episode, Motion, select
from edge.rules.configs import PersonDownRule

log = logging.getLogger(__name__)


class PersonDown:
    type = "person_down"

    def __init__(self, cfg: PersonDownRule, zone: ZoneConfig | None):
        self.cfg = cfg
        self.polygon = zone.polygon if zone else None
        self.motion = Motion(max(cfg.dwell_s, 1.0))
        self._lying_since: dict[int, float] = {}
        self.episode = Episode(
            self.type, cfg.severity, zone.name if zone else None, 0.0, cfg.clear_s, cfg.cooldown_s
        )

    def update(self, frame: Frame, tracks: list[Track]) -> list[Event]:
        persons = select(frame, tracks, ["person"], self.polygon)
        self.motion.update(frame, persons)
        down = []
        for t in persons:
            w, h = t.box[2] - t.box[0], t.box[3] - t.box[1]
            lying = h > 0 and w / h >= self.cfg.min_aspect and self.motion.spread(t.id) <= self.cfg.max_motion
            if not lying:
                self._lying_since.pop(t.id, None)
                continue
            since = self._lying_since.setdefault(t.id, frame.ts)
            if frame.ts - since >= self.cfg.dwell_s:
                down.append(t)
        ids = {t.id for t in persons}
        for tid in list(self._lying_since):
            if tid not in ids:
                del self._lying_since[tid]
        return self.episode.step(frame, bool(down), down, {"count": float(len(down))})

    def close(self, frame: Frame) -> list[Event]:
        return self.episode.close(frame)
