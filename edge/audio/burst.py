"""Hysteresis and a refractory period: one burst of shots (and their echoes) = one event.

A window whose pooled gun score reaches ``threshold`` starts an event. The burst stays open
while windows keep reaching ``release`` (a lower score); once ``refractory_s`` pass without
one, the event ends. The start is sent at once (low latency for the operator); the end
carries the final count of impulses and the highest confidence.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Literal

from edge.audio.detector import Pooling, WindowResult, pool
from edge.records import Event
from edge.wire.messages import uuid7

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class BurstParams:
    threshold: float
    release: float
    refractory_s: float
    pooling: Pooling
    severity: Literal["info", "warning", "critical"] = "critical"


@dataclass
class _Open:
    id: str
    first_impulse_s: float
    first_impulse_wall: float
    fired_end_s: float
    confidence: float
    impulses: int
    last_onset_s: float
    last_active_s: float
    last_active_wall: float


class BurstTracker:
    """Feeds on :class:`WindowResult` records; returns ``gunshot`` start/end events."""

    def __init__(self, params: BurstParams):
        self.p = params
        self._open: _Open | None = None

    @property
    def active(self) -> bool:
        return self._open is not None

    def update(self, w: WindowResult) -> list[Event]:
        score = pool(w.gun, self.p.pooling)
        o = self._open
        if o is None:
            if score < self.p.threshold:
                return []
            seen = w.onsets_s
            first = seen[0] if seen else w.start_s
            first_wall = w.end_wall - (w.end_s - first)
            self._open = o = _Open(
                uuid7(), first, first_wall, w.end_s, score, len(seen),
                w.onsets_s[-1] if w.onsets_s else first, w.end_s, w.end_wall,
            )
            log.info("gunshot: score %.2f at %.2f s (first impulse %.2f s)", score, w.end_s, first)
            return [self._event(o, "start")]
        if score >= self.p.release:
            new = [t for t in w.onsets_s if t > o.last_onset_s]
            o.impulses += len(new)
            if new:
                o.last_onset_s = new[-1]
            o.confidence = max(o.confidence, score)
            o.last_active_s, o.last_active_wall = w.end_s, w.end_wall
            return []
        if w.end_s - o.last_active_s >= self.p.refractory_s:
            return self.close()
        return []

    def close(self) -> list[Event]:
        """End the open burst, if any (at shutdown or after the refractory period)."""
        o = self._open
        if o is None:
            return []
        self._open = None
        return [self._event(o, "end")]

    def _event(self, o: _Open, state: Literal["start", "end"]) -> Event:
        return Event(
            id=o.id,
            type="gunshot",
            state=state,
            severity=self.p.severity,
            started_wall=o.first_impulse_wall,
            ended_wall=o.last_active_wall if state == "end" else None,
            zone=None,
            objects=(),
            measure={
                "confidence": round(o.confidence, 3),
                "impulses": float(max(o.impulses, 1)),
                "first_impulse_s": round(o.first_impulse_s, 3),
                "delay_s": round(o.fired_end_s - o.first_impulse_s, 3),
            },
            frame_w=0,
            frame_h=0,
        )
