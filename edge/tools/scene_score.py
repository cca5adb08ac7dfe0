"""Scoring of a replay against ground truth: alerts per event type, and track identities.

An alert (an event from its start to its end) is *true* when it overlaps a ground-truth
interval of its type (and zone, when the truth names one) not yet matched; a further alert
over an already matched interval is a *duplicate*; one overlapping no interval is *false*; an
interval no alert overlaps is *missed*. Latency is alert start minus truth start.

Identities: each true object is a path of normalised box centres over time; in every frame a
track of the object's classes within ``radius`` of the interpolated point (nearest first) is
that object's. Fragmentation is the number of track ids per object that was tracked at all;
an id switch is a change of id between two frames where the object was tracked; coverage is
the share of the objects' frames in which they had a track.
"""

from __future__ import annotations

import itertools
import logging
import math
import statistics
from collections.abc import Sequence
from dataclasses import dataclass, field

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Alert:
    type: str
    zone: str | None
    start: float
    end: float


@dataclass(frozen=True)
class Truth:
    type: str
    zone: str | None
    start: float
    end: float


@dataclass(frozen=True)
class Seen:
    """One reported track in one frame: id, label, normalised box centre."""

    id: int
    label: str
    x: float
    y: float


@dataclass(frozen=True)
class PathObject:
    classes: tuple[str, ...]
    path: tuple[tuple[float, float, float], ...]
    radius: float

    def at(self, ts: float) -> tuple[float, float] | None:
        """The interpolated centre at ``ts``, or None outside the path's span."""
        p = self.path
        if ts < p[0][0] or ts > p[-1][0]:
            return None
        for (t0, x0, y0), (t1, x1, y1) in itertools.pairwise(p):
            if t0 <= ts <= t1:
                a = (ts - t0) / (t1 - t0) if t1 > t0 else 0.0
                return (x0 + a * (x1 - x0), y0 + a * (y1 - y0))
        return (p[-1][1], p[-1][2])


@dataclass
class Tally:
    """Alert counts of one event type (summed over scenes)."""

    true: int = 0
    false: int = 0
    duplicate: int = 0
    missed: int = 0
    latencies: list[float] = field(default_factory=list)

    def add(self, other: Tally) -> None:
        self.true += other.true
        self.false += other.false
        self.duplicate += other.duplicate
        self.missed += other.missed
        self.latencies += other.latencies

    def row(self, hours: float) -> dict[str, float | int | None]:
        lat = self.latencies
        return {
            "true": self.true, "false": self.false, "duplicate": self.duplicate, "missed": self.missed,
            "latency_median_s": round(statistics.median(lat), 2) if lat else None,
            "latency_max_s": round(max(lat), 2) if lat else None,
            "false_per_hour": round(self.false / hours, 1) if hours > 0 else None,
        }


def _overlap(a: Alert, t: Truth) -> bool:
    return a.start <= t.end and a.end >= t.start and (t.zone is None or a.zone == t.zone)


def score_alerts(alerts: Sequence[Alert], truths: Sequence[Truth]) -> Tally:
    """Match one event type's alerts to its truth intervals (earliest first)."""
    tally = Tally()
    matched: set[int] = set()
    for a in sorted(alerts, key=lambda a: a.start):
        hits = [i for i, t in enumerate(truths) if _overlap(a, t)]
        fresh = [i for i in hits if i not in matched]
        if fresh:
            i = min(fresh, key=lambda i: truths[i].start)
            matched.add(i)
            tally.true += 1
            tally.latencies.append(a.start - truths[i].start)
        elif hits:
            tally.duplicate += 1
        else:
            tally.false += 1
    tally.missed = len(truths) - len(matched)
    return tally


@dataclass
class Identity:
    """Tracker figures over true objects (summed over scenes)."""

    objects: int = 0
    tracked: int = 0
    """Objects that had a track in at least one frame."""
    ids: int = 0
    switches: int = 0
    frames_present: int = 0
    frames_tracked: int = 0

    def add(self, other: Identity) -> None:
        for k in ("objects", "tracked", "ids", "switches", "frames_present", "frames_tracked"):
            setattr(self, k, getattr(self, k) + getattr(other, k))

    def row(self) -> dict[str, float | int | None]:
        return {
            "objects": self.objects, "tracked": self.tracked, "track_ids": self.ids,
            "ids_per_object": round(self.ids / self.tracked, 2) if self.tracked else None,
            "id_switches": self.switches,
            "coverage": round(self.frames_tracked / self.frames_present, 3) if self.frames_present else None,
        }


def score_identities(objects: Sequence[PathObject], frames: Sequence[tuple[float, list[Seen]]]) -> Identity:
    """Fragmentation and id switches of ``objects`` over the reported tracks of each frame."""
    out = Identity(objects=len(objects))
    history: list[list[int]] = [[] for _ in objects]
    for ts, seen in frames:
        pairs = []
        for oi, obj in enumerate(objects):
            p = obj.at(ts)
            if p is None:
                continue
            out.frames_present += 1
            for s in seen:
                d = math.dist(p, (s.x, s.y))
                if s.label in obj.classes and d <= obj.radius:
                    pairs.append((d, oi, s.id))
        used_o: set[int] = set()
        used_t: set[int] = set()
        for _, oi, tid in sorted(pairs):
            if oi in used_o or tid in used_t:
                continue
            used_o.add(oi)
            used_t.add(tid)
            history[oi].append(tid)
            out.frames_tracked += 1
    for ids in history:
        out.tracked += bool(ids)
        out.ids += len(set(ids))
        out.switches += sum(1 for a, b in itertools.pairwise(ids) if a != b)
    return out
