"""Statistics: line-crossing counts and zone occupancy per class, aggregated per interval.

Counts, never identities: a crossing is counted when a track's foot point passes from one
side of a line segment to the other between two frames; the track id is used only for that
and is not in the message. Intervals follow the frames' media time (``Frame.ts``) so a file
replayed faster than real time gives the same counts; message timestamps use wall time.
"""

from __future__ import annotations

import logging
from collections import defaultdict
from dataclasses import dataclass

from edge.config import BoxConfig
from edge.geometry import foot_point, point_in_polygon
from edge.records import Frame, Track
from edge.wire.messages import LineCount, StatsMessage, ZoneCount, utc_iso

log = logging.getLogger(__name__)

Pt = tuple[float, float]


def _side(a: Pt, b: Pt, p: Pt) -> float:
    """> 0 when ``p`` is right of ``a -> b`` in image coordinates (y down)."""
    return (b[0] - a[0]) * (p[1] - a[1]) - (b[1] - a[1]) * (p[0] - a[0])


def crossing(a: Pt, b: Pt, p: Pt, q: Pt) -> int:
    """+1 when the step ``p -> q`` crosses segment ``a-b`` from its left to its right
    (image coordinates, y down), -1 the other way, 0 when it does not cross. A point
    exactly on the line counts as left, so touching it twice is not two crossings."""
    right_p, right_q = _side(a, b, p) > 0, _side(a, b, q) > 0
    if right_p == right_q:
        return 0
    t1, t2 = _side(p, q, a), _side(p, q, b)
    if t1 * t2 > 0:
        return 0  # the step passes beside the segment, not through it
    return 1 if right_q else -1


@dataclass(frozen=True)
class StatsRecord:
    """One interval's counts (what a ``vigie.stats/1`` message carries, without ``seq``)."""

    start_wall: float
    end_wall: float
    lines: tuple[tuple[str, str, int, int], ...]
    """(line, class, forward, backward)."""
    zones: tuple[tuple[str, str, int, float], ...]
    """(zone, class, max, mean)."""

    def to_message(self, site: str, camera: str) -> StatsMessage:
        """The interval's ``vigie.stats/1`` message (means to 3 decimals, wall-clock times)."""
        return StatsMessage(
            site=site, camera=camera,
            interval_start=utc_iso(self.start_wall), interval_end=utc_iso(self.end_wall),
            lines=tuple(LineCount(ln, c, f, b) for ln, c, f, b in self.lines),
            zones=tuple(ZoneCount(z, c, m, round(mean, 3)) for z, c, m, mean in self.zones),
        )


class StatsAggregator:
    """Feed every frame's tracks; :meth:`update` returns a record when an interval closes."""

    def __init__(self, cfg: BoxConfig):
        self.cfg = cfg
        self.interval_s = cfg.stats.interval_s
        self.classes = set(cfg.stats.classes)
        names = cfg.stats.zones
        self.zones = [z for z in cfg.zones if names is None or z.name in names]
        self._last_foot: dict[int, tuple[Pt, float]] = {}
        self.forget_s = 3.0
        """A track unseen this long is forgotten (its next sighting starts afresh)."""
        self._reset(None, None)

    def _reset(self, ts: float | None, wall: float | None) -> None:
        self._t0 = ts
        self._wall0 = wall
        self._frames = 0
        self._cross: dict[tuple[str, str], list[int]] = defaultdict(lambda: [0, 0])
        self._occ_sum: dict[tuple[str, str], int] = defaultdict(int)
        self._occ_max: dict[tuple[str, str], int] = defaultdict(int)

    def update(self, frame: Frame, tracks: list[Track]) -> StatsRecord | None:
        """Count one frame; return the finished interval's record when it closes."""
        out = None
        if self._t0 is None:
            self._reset(frame.ts, frame.wall)
        elif frame.ts - self._t0 >= self.interval_s:
            out = self._record(frame.wall)
            self._reset(frame.ts, frame.wall)
        self._frames += 1
        feet: dict[int, Pt] = {}
        for t in tracks:
            if t.label not in self.classes:
                continue
            p = foot_point(t.box, frame.width, frame.height)
            feet[t.id] = p
            prev = self._last_foot.get(t.id)
            if prev is not None:
                for line in self.cfg.lines:
                    if t.label in line.classes and (d := crossing(line.a, line.b, prev[0], p)):
                        self._cross[(line.name, t.label)][0 if d > 0 else 1] += 1
            self._last_foot[t.id] = (p, frame.ts)
        for tid, (_, seen) in list(self._last_foot.items()):
            if frame.ts - seen > self.forget_s:
                del self._last_foot[tid]
        for z in self.zones:
            counts: dict[str, int] = defaultdict(int)
            for t in tracks:
                if t.id in feet and point_in_polygon(*feet[t.id], z.polygon):
                    counts[t.label] += 1
            for cls, n in counts.items():
                key = (z.name, cls)
                self._occ_sum[key] += n
                self._occ_max[key] = max(self._occ_max[key], n)
        return out

    def flush(self, frame: Frame) -> StatsRecord | None:
        """The partial interval at shutdown (None if no frame was counted)."""
        if self._t0 is None or self._frames == 0:
            return None
        out = self._record(frame.wall)
        self._reset(None, None)
        return out

    def _record(self, end_wall: float) -> StatsRecord:
        lines = tuple(
            (ln.name, c, *self._cross.get((ln.name, c), (0, 0)))
            for ln in self.cfg.lines
            for c in sorted(set(ln.classes) & self.classes)
        )
        n = max(self._frames, 1)
        zones = tuple(
            (z.name, c, self._occ_max.get((z.name, c), 0), self._occ_sum.get((z.name, c), 0) / n)
            for z in self.zones
            for c in sorted(self.classes)
        )
        return StatsRecord(self._wall0 or end_wall, end_wall, lines, zones)
