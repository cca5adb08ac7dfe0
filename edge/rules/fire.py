"""``fire``: flames or smoke seen in ``k`` of ``n`` frames, per zone.

Two sources (``FireRule.source``):

- ``classical`` (the default, no model needed): :class:`edge.rules.flame.FlameSmoke` finds
  flame regions (flame colour, broadband flicker, staying in place) and smoke regions (grey,
  veiling the background, growing or rising) in the zone; lit signs, travelling reflections
  and blinking beacons are refused there. Smoke regions mostly covered by a tracked object
  (a person in grey, a passing van) are ignored.
- ``model``: a detector whose manifest labels include a flame or smoke class; config
  validation refuses this source otherwise (see :mod:`edge.rules.checks`).

Either way the event goes through the same k-of-n window and episode (dwell, clear,
cooldown) as every rule; the event's objects are the regions, its measures their counts,
area, flicker and spectral peak.
"""

from __future__ import annotations

import logging

from edge.config import ZoneConfig
from edge.records import Box, Event, Frame, Track
from edge.rules.common import pseudo_track
from edge.rules.configs import FireRule
from edge.rules.flame import FireRegion, FlameSmoke
from edge.rules.weapon import KofNRule

log = logging.getLogger(__name__)


def _covered(box: Box, tracks: list[Track]) -> bool:
    """Is more than half of ``box`` inside one tracked object's box?"""
    area = max((box[2] - box[0]) * (box[3] - box[1]), 1e-9)
    for t in tracks:
        ix = max(0.0, min(box[2], t.box[2]) - max(box[0], t.box[0]))
        iy = max(0.0, min(box[3], t.box[3]) - max(box[1], t.box[1]))
        if ix * iy / area > 0.5:
            return True
    return False


class Fire(KofNRule):
    type = "fire"

    def __init__(self, cfg: FireRule, zone: ZoneConfig | None):
        super().__init__(cfg, zone)
        self.fire_cfg = cfg
        self.analyser = FlameSmoke(cfg, self.polygon) if cfg.source == "classical" else None

    def update(self, frame: Frame, tracks: list[Track]) -> list[Event]:
        if self.analyser is None:
            return super().update(frame, tracks)
        regions = [r for r in self.analyser.update(frame.image, frame.ts)
                   if r.kind == "flame" or not _covered(r.box, tracks)]
        active = self.window.update(bool(regions))
        return self.episode.step(frame, active, [pseudo_track(r.kind, r.box, frame.ts) for r in regions],
                                 self._measure(regions))

    def _measure(self, regions: list[FireRegion]) -> dict[str, float]:
        out = {"frames": float(self.window.hits),
               "flame": float(sum(r.kind == "flame" for r in regions)),
               "smoke": float(sum(r.kind == "smoke" for r in regions))}
        if regions:
            out["area"] = max(r.area for r in regions)
            out["flicker"] = max(r.flicker for r in regions)
        flames = [r.peak for r in regions if r.kind == "flame"]
        if flames:
            out["peak"] = min(flames)
        return out
