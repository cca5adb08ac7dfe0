"""A per-camera IoU tracker: greedy matching of detections to tracks, same label only.

Track ids count up from 1 within one camera and one run; nothing about a track survives
its end (no re-identification, design principle 2).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, replace

from edge.config import TrackerConfig
from edge.records import Detection, Track, iou

log = logging.getLogger(__name__)


@dataclass
class _Slot:
    track: Track


class IouTracker:
    """Associates detections frame to frame by IoU; reports confirmed, currently-seen tracks."""

    def __init__(self, cfg: TrackerConfig | None = None):
        self.cfg = cfg or TrackerConfig()
        self._slots: dict[int, _Slot] = {}
        self._next_id = 1
        self.ended: list[Track] = []
        """The tracks dropped by the last :meth:`update` (for the track index)."""

    def update(self, detections: list[Detection], ts: float) -> list[Track]:
        """Advance one frame; return the confirmed tracks matched in this frame."""
        pairs = sorted(
            (
                (iou(s.track.box, d.box), tid, di)
                for tid, s in self._slots.items()
                for di, d in enumerate(detections)
                if s.track.label == d.label
            ),
            reverse=True,
        )
        self.ended = []
        used_t: set[int] = set()
        used_d: set[int] = set()
        for score, tid, di in pairs:
            if score < self.cfg.iou_threshold:
                break
            if tid in used_t or di in used_d:
                continue
            used_t.add(tid)
            used_d.add(di)
            d = detections[di]
            t = self._slots[tid].track
            self._slots[tid].track = replace(
                t, box=d.box, score=d.score, last_ts=ts, hits=t.hits + 1, missed=0
            )
        for tid in list(self._slots):
            if tid not in used_t:
                t = self._slots[tid].track
                if t.missed + 1 > self.cfg.max_missed:
                    del self._slots[tid]
                    self.ended.append(t)
                else:
                    self._slots[tid].track = replace(t, missed=t.missed + 1)
        for di, d in enumerate(detections):
            if di not in used_d:
                tid = self._next_id
                self._next_id += 1
                self._slots[tid] = _Slot(Track(tid, d.label, d.score, d.box, ts, ts, 1, 0))
        return [
            s.track
            for s in self._slots.values()
            if s.track.missed == 0 and s.track.hits >= self.cfg.min_hits
        ]

    @property
    def active(self) -> int:
        return len(self._slots)
