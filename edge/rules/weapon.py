"""``weapon``: a weapon class of the detector seen in ``k`` of the last ``n`` frames.

The shipped models are COCO models: this rule sees knives (``knife``) and nothing else; no
shipped model detects firearms. A model with firearm classes plugs in through its manifest
labels and this rule's ``classes``. :class:`KofNRule` is shared with ``fire``.
"""

from __future__ import annotations

import logging

from edge.config import ZoneConfig
from edge.records import Event, Frame, Track
from edge.rules.common import Episode, KofN, select
from edge.rules.configs import FireRule, WeaponRule

log = logging.getLogger(__name__)


class KofNRule:
    """Some class seen (score >= ``min_score``) in ``k`` of the last ``n`` frames."""

    type = "weapon"

    def __init__(self, cfg: WeaponRule | FireRule, zone: ZoneConfig | None):
        self.cfg = cfg
        self.polygon = zone.polygon if zone else None
        self.window = KofN(cfg.k, cfg.n)
        self.episode = Episode(
            self.type, cfg.severity, zone.name if zone else None, cfg.dwell_s, cfg.clear_s, cfg.cooldown_s,
            cfg.gap_s,
        )

    def update(self, frame: Frame, tracks: list[Track]) -> list[Event]:
        candidates = select(frame, tracks, self.cfg.classes, self.polygon)
        seen = [t for t in candidates if t.score >= self.cfg.min_score]
        active = self.window.update(bool(seen))
        measure = {"frames": float(self.window.hits)}
        if seen:
            measure["score"] = max(t.score for t in seen)
        return self.episode.step(frame, active, seen, measure)

    def close(self, frame: Frame) -> list[Event]:
        return self.episode.close(frame)


class Weapon(KofNRule):
    type = "weapon"
