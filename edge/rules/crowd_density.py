"""``crowd_density``: persons per square metre of a zone's ground above a threshold.

The zone's area comes from the ground-plane calibration. Hysteresis: the event starts above
``max_density`` (held ``dwell_s``) and ends only once density has stayed below
``max_density * (1 - hysteresis)`` for ``clear_s``. A dip of up to ``gap_s`` (a missed
detection lowering the count for a frame) does not restart the dwell.
"""

from __future__ import annotations

import logging

from edge.calibration import GroundPlane
from edge.config import ZoneConfig
from edge.records import Event, Frame, Track
from edge.rules.common import Episode, select
from edge.rules.configs import CrowdDensityRule

log = logging.getLogger(__name__)


class CrowdDensity:
    type = "crowd_density"

    def __init__(self, cfg: CrowdDensityRule, zone: ZoneConfig, plane: GroundPlane):
        self.cfg = cfg
        self.zone = zone
        self.area_m2 = plane.area_m2(zone.polygon)
        if self.area_m2 <= 0:
            raise ValueError(f"zone {zone.name!r} has no ground area under the calibration")
        self.episode = Episode(self.type, cfg.severity, zone.name, cfg.dwell_s, cfg.clear_s, cfg.cooldown_s,
                               cfg.gap_s)

    def update(self, frame: Frame, tracks: list[Track]) -> list[Event]:
        persons = select(frame, tracks, ["person"], self.zone.polygon)
        density = len(persons) / self.area_m2
        limit = self.cfg.max_density * ((1 - self.cfg.hysteresis) if self.episode.open else 1.0)
        active = density > limit and len(persons) >= self.cfg.min_persons
        measure = {"count": float(len(persons)), "density": density, "area_m2": self.area_m2}
        return self.episode.step(frame, active, persons, measure)

    def close(self, frame: Frame) -> list[Event]:
        return self.episode.close(frame)
