"""A per-camera tracker in the ByteTrack manner.

Each frame: every track's box is predicted at its last velocity; confident detections (at or
above the detector's ``score_threshold``) are matched to the predicted boxes by IoU first,
then weak detections (down to ``tracker.low_score``) to the tracks still unmatched, with a
stricter overlap. Only a confident detection starts a track, and a track reports only its
matched frames, so a weak box never reaches a rule on its own. Classes of one group (car,
truck, bus...) continue one another's tracks; the track reports the label it was seen as most.

Track ids count up from 1 within one camera and one run; nothing about a track survives
its end (no re-identification, design principle 2).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field, replace

from edge.config import BoxConfig, DetectorConfig, TrackerConfig
from edge.records import Box, Detection, Track, iou

log = logging.getLogger(__name__)


def detector_config(cfg: BoxConfig) -> DetectorConfig:
    """The detector's config for tracking: it keeps weak detections for the second stage."""
    low = min(cfg.detector.score_threshold, cfg.tracker.low_score)
    return cfg.detector.model_copy(update={"score_threshold": low})


def confident(detections: list[Detection], threshold: float) -> list[Detection]:
    """The detections at or above ``threshold`` (what consumers other than the tracker see)."""
    return [d for d in detections if d.score >= threshold]


@dataclass
class _Slot:
    track: Track
    velocity: tuple[float, float, float, float] = (0.0, 0.0, 0.0, 0.0)
    """Box coordinates per second, smoothed over the matches."""
    votes: dict[str, float] = field(default_factory=dict)
    """Score-weighted count of the labels the track was seen as."""
    seen_as: str = ""
    """The label of the detection last matched."""

    def predicted(self, ts: float, predict: bool) -> Box:
        if not predict:
            return self.track.box
        dt = ts - self.track.last_ts
        b, v = self.track.box, self.velocity
        return (b[0] + v[0] * dt, b[1] + v[1] * dt, b[2] + v[2] * dt, b[3] + v[3] * dt)


class ByteTracker:
    """Associates detections frame to frame; reports confirmed tracks matched in this frame."""

    def __init__(self, cfg: TrackerConfig | None = None, score_threshold: float = 0.35):
        self.cfg = cfg or TrackerConfig()
        self.high = score_threshold
        self._group = {c: i for i, g in enumerate(self.cfg.class_groups) for c in g}
        self._slots: dict[int, _Slot] = {}
        self._next_id = 1
        self.ended: list[Track] = []
        """The tracks dropped by the last :meth:`update` (for the track index)."""

    def _same_kind(self, a: str, b: str) -> bool:
        return a == b or (a in self._group and self._group.get(b) == self._group[a])

    def _match(
        self, dets: list[Detection], tids: set[int], ts: float, threshold: float
    ) -> list[tuple[int, int]]:
        """Greedy IoU matching of ``dets`` to the tracks ``tids`` (best overlap first):
        (track id, detection index) pairs."""
        boxes = {tid: self._slots[tid].predicted(ts, self.cfg.predict) for tid in tids}
        pairs = sorted(
            (
                (iou(boxes[tid], d.box), tid, di)
                for tid in tids
                for di, d in enumerate(dets)
                if self._same_kind(self._slots[tid].track.label, d.label)
            ),
            key=lambda p: (-p[0], p[1], p[2]),
        )
        used_t: set[int] = set()
        used_d: set[int] = set()
        out = []
        for score, tid, di in pairs:
            if score < threshold:
                break
            if tid in used_t or di in used_d:
                continue
            used_t.add(tid)
            used_d.add(di)
            out.append((tid, di))
        return out

    def _extend(self, tid: int, d: Detection, ts: float) -> None:
        slot = self._slots[tid]
        t = slot.track
        dt = ts - t.last_ts
        if dt > 0:
            inst = tuple((n - o) / dt for n, o in zip(d.box, t.box, strict=True))
            a = 0.5 if t.hits > 1 else 1.0
            slot.velocity = tuple(a * i + (1 - a) * v for i, v in zip(inst, slot.velocity, strict=True))  # type: ignore[assignment]
        slot.votes[d.label] = slot.votes.get(d.label, 0.0) + d.score
        slot.seen_as = d.label
        label = max(slot.votes, key=lambda k: slot.votes[k])
        slot.track = replace(t, label=label, box=d.box, score=d.score, last_ts=ts, hits=t.hits + 1, missed=0)

    def _seen_as_other_class(self, d: Detection, matched: set[int]) -> bool:
        """Whether ``d`` is a track just matched, seen as another class of its group (class-wise
        non-maximum suppression keeps a ``bus`` box and a ``car`` box over one vehicle)."""
        return any(
            self._slots[tid].seen_as != d.label
            and self._same_kind(self._slots[tid].seen_as, d.label)
            and iou(self._slots[tid].track.box, d.box) >= self.cfg.iou_threshold
            for tid in matched
        )

    def update(self, detections: list[Detection], ts: float) -> list[Track]:
        """Advance one frame; return the confirmed tracks matched in this frame."""
        self.ended = []
        high = [d for d in detections if d.score >= self.high]
        low = [d for d in detections if self.cfg.low_score <= d.score < self.high]
        first = self._match(high, set(self._slots), ts, self.cfg.iou_threshold)
        matched = {tid for tid, _ in first}
        second = self._match(low, set(self._slots) - matched, ts, self.cfg.low_iou_threshold)
        for tid, di in first:
            self._extend(tid, high[di], ts)
        for tid, di in second:
            self._extend(tid, low[di], ts)
        matched |= {tid for tid, _ in second}
        for tid in list(self._slots):
            if tid in matched:
                continue
            slot = self._slots[tid]
            t = slot.track
            if t.missed + 1 > self.cfg.max_missed and ts - t.last_ts > self.cfg.max_gap_s:
                del self._slots[tid]
                self.ended.append(t)
            else:
                slot.track = replace(t, missed=t.missed + 1)
        taken = {di for _, di in first}
        for di, d in sorted(enumerate(high), key=lambda p: -p[1].score):
            if di not in taken and not self._seen_as_other_class(d, matched):
                tid = self._next_id
                self._next_id += 1
                matched.add(tid)
                track = Track(tid, d.label, d.score, d.box, ts, ts, 1, 0)
                self._slots[tid] = _Slot(track, votes={d.label: d.score}, seen_as=d.label)
        return [
            s.track
            for s in self._slots.values()
            if s.track.missed == 0 and s.track.hits >= self.cfg.min_hits
        ]

    @property
    def active(self) -> int:
        return len(self._slots)


IouTracker = ByteTracker
"""The former name: with ``low_score`` at the detector's threshold, no class groups and no
prediction, the tracker matches by IoU alone, as it used to."""


def make_tracker(cfg: BoxConfig) -> ByteTracker:
    """The tracker of a box config, knowing which detections are confident."""
    return ByteTracker(cfg.tracker, cfg.detector.score_threshold)
