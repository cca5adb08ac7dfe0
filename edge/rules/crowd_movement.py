"""``crowd_movement``: a sudden collective movement (rush, dispersal) in a zone.

``tracks``: the mean speed of the zone's moving person tracks rises above ``rise`` times
its running baseline (and ``min_speed``) with at least ``min_tracks`` persons moving.
``flow``: the same test on the mean dense optical-flow magnitude inside the zone, for
crowds too dense to track. The baseline learns only while no event is open.
"""

from __future__ import annotations

import logging

import cv2
import numpy as np

from edge.config import ZoneConfig
from edge.records import Event, Frame, Track
from edge.rules.common import Episode, Motion, select
from edge.rules.configs import CrowdMovementRule
from edge.rules.foreground import small_grey

log = logging.getLogger(__name__)


class CrowdMovement:
    type = "crowd_movement"

    def __init__(self, cfg: CrowdMovementRule, zone: ZoneConfig | None):
        self.cfg = cfg
        self.zone = zone
        self.polygon = zone.polygon if zone else None
        self.motion = Motion(1.0, cfg.gap_s)
        self.baseline: float | None = None
        self._t0: float | None = None
        self._last_ts: float | None = None
        self._prev: np.ndarray | None = None
        self._mask: np.ndarray | None = None
        self.episode = Episode(
            self.type, cfg.severity, zone.name if zone else None, cfg.dwell_s, cfg.clear_s, cfg.cooldown_s,
            cfg.gap_s,
        )

    def _track_speed(self, frame: Frame, tracks: list[Track]) -> tuple[float, list[Track]]:
        persons = select(frame, tracks, ["person"], self.polygon)
        self.motion.update(frame, persons)
        speeds = {t.id: self.motion.speed(t.id) for t in persons if self.motion.span(t.id) >= 0.4}
        moving = [t for t in persons if speeds.get(t.id, 0.0) >= self.cfg.min_speed]
        mean = float(np.mean(list(speeds.values()))) if speeds else 0.0
        return mean, moving

    def _flow_speed(self, frame: Frame) -> float:
        g = small_grey(frame.image).astype(np.uint8)
        if self._mask is None or self._mask.shape != g.shape:
            self._mask = np.ones(g.shape, bool)
            if self.polygon is not None:
                m = np.zeros(g.shape, np.uint8)
                pts = np.array([[x * g.shape[1], y * g.shape[0]] for x, y in self.polygon], np.int32)
                cv2.fillPoly(m, [pts], 1)
                self._mask = m.astype(bool)
        prev, self._prev = self._prev, g
        if prev is None or prev.shape != g.shape:
            return 0.0
        flow = cv2.calcOpticalFlowFarneback(prev, g, None, 0.5, 2, 9, 2, 5, 1.1, 0)  # type: ignore[call-overload]
        mag = np.hypot(flow[..., 0], flow[..., 1])
        return float(mag[self._mask].mean()) if self._mask.any() else 0.0

    def update(self, frame: Frame, tracks: list[Track]) -> list[Event]:
        if self._t0 is None:
            self._t0 = frame.ts
        dt = frame.ts - (self._last_ts if self._last_ts is not None else frame.ts)
        self._last_ts = frame.ts
        moving: list[Track] = []
        if self.cfg.method == "flow":
            speed, enough = self._flow_speed(frame), True
        else:
            speed, moving = self._track_speed(frame, tracks)
            enough = len(moving) >= self.cfg.min_tracks
        base = self.baseline if self.baseline is not None else speed
        warm = frame.ts - self._t0 >= self.cfg.warmup_s
        active = (
            warm and enough and speed >= self.cfg.min_speed and speed > self.cfg.rise * max(base, 1e-6)
        )
        if self.episode.open is None and not active:
            # A running mean over what has been seen until ``baseline_s`` of video, then an EMA.
            span = max(min(self.cfg.baseline_s, frame.ts - self._t0), dt, 1e-6)
            a = min(1.0, dt / span) if self.baseline is not None else 1.0
            self.baseline = base + a * (speed - base)
        measure = {"speed": speed, "baseline": base, "moving": float(len(moving))}
        return self.episode.step(frame, active, moving, measure)

    def close(self, frame: Frame) -> list[Event]:
        return self.episode.close(frame)
