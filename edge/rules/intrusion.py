"""``intrusion``: a person or vehicle inside a forbidden zone for at least ``dwell_s``.

One event per situation: it starts when the first qualifying object has dwelt long enough,
and ends when the zone has held no qualifying object for ``clear_s`` (hysteresis), however
many objects come and go in between. An object unseen for up to ``gap_s`` (a missed
detection) keeps its dwell time and still counts as present.
"""

from __future__ import annotations

import logging

from edge.config import ZoneConfig
from edge.geometry import foot_point, point_in_polygon
from edge.records import Event, Frame, Track
from edge.rules.common import Held
from edge.rules.configs import IntrusionRule
from edge.wire.messages import uuid7

log = logging.getLogger(__name__)


class Intrusion:
    type = "intrusion"

    def __init__(self, cfg: IntrusionRule, zone: ZoneConfig):
        self.cfg = cfg
        self.zone = zone
        self.held = Held(cfg.gap_s)
        self._open: Event | None = None
        self._last_present = 0.0
        self._peak = 0

    def _inside(self, frame: Frame, tracks: list[Track]) -> list[Track]:
        return [
            t
            for t in tracks
            if t.label in self.cfg.classes
            and point_in_polygon(*foot_point(t.box, frame.width, frame.height), self.zone.polygon)
        ]

    def update(self, frame: Frame, tracks: list[Track]) -> list[Event]:
        seen = self._inside(frame, tracks)
        inside = self.held.update(frame.ts, seen)  # with the objects unseen for up to gap_s
        if seen:
            self._last_present = frame.ts
        dwelling = self.held.longer_than(self.cfg.dwell_s)
        if self._open is None:
            if dwelling:
                self._peak = len(seen)
                self._open = self._event(frame, "start", inside, None, frame.wall)
                log.info("intrusion start in zone %s: %d object(s)", self.zone.name, len(inside))
                return [self._open]
            return []
        self._peak = max(self._peak, len(seen))
        if not inside and frame.ts - self._last_present >= max(self.cfg.clear_s, self.cfg.gap_s):
            return [self._end(frame)]
        return []

    def close(self, frame: Frame) -> list[Event]:
        return [self._end(frame)] if self._open is not None else []

    def _end(self, frame: Frame) -> Event:
        assert self._open is not None
        ev = self._event(frame, "end", (), self._open, self._open.started_wall)
        log.info("intrusion end in zone %s", self.zone.name)
        self._open = None
        self.held.clear()
        return ev

    def _event(
        self,
        frame: Frame,
        state: str,
        objects: list[Track] | tuple[Track, ...],
        opened: Event | None,
        started: float,
    ) -> Event:
        return Event(
            id=opened.id if opened else uuid7(),
            type=self.type,
            state="start" if state == "start" else "end",
            severity=self.cfg.severity,
            started_wall=started,
            ended_wall=frame.wall if state == "end" else None,
            zone=self.zone.name,
            objects=tuple(objects) if objects else (opened.objects if opened else ()),
            measure={"count": float(len(objects)) if state == "start" else float(self._peak)},
            frame_w=frame.width,
            frame_h=frame.height,
        )
