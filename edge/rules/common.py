"""What the rules share: zone membership, per-track motion history, per-track condition
timers, and the episode state machine (dwell before start, hysteresis before end, cooldown
after end).

Detectors miss objects for a frame or two and trackers leave a track unmatched; every timer
here bridges such lapses of up to the rule's ``gap_s``: a condition that lapses for less has
not lapsed, and a run restarts only after a longer one.
"""

from __future__ import annotations

import logging
import math
from collections import deque
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from edge.geometry import foot_point, point_in_polygon
from edge.records import Event, Frame, Track
from edge.wire.messages import uuid7

log = logging.getLogger(__name__)

Polygon = Sequence[tuple[float, float]]


def in_zone(frame: Frame, track: Track, polygon: Polygon | None) -> bool:
    """Is the track's foot point inside ``polygon`` (always, when there is no polygon)?"""
    if polygon is None:
        return True
    return point_in_polygon(*foot_point(track.box, frame.width, frame.height), polygon)


def select(frame: Frame, tracks: list[Track], classes: Sequence[str], polygon: Polygon | None) -> list[Track]:
    """The tracks of ``classes`` whose foot point is in ``polygon``."""
    return [t for t in tracks if t.label in classes and in_zone(frame, t, polygon)]


class Motion:
    """Recent normalised foot points of each track, forgotten once the track has been
    unseen for longer than ``gap_s``."""

    def __init__(self, horizon_s: float, gap_s: float = 0.0):
        self.horizon_s = horizon_s
        self.gap_s = gap_s
        self._hist: dict[int, deque[tuple[float, float, float]]] = {}

    def update(self, frame: Frame, tracks: list[Track]) -> None:
        seen = set()
        for t in tracks:
            x, y = foot_point(t.box, frame.width, frame.height)
            h = self._hist.setdefault(t.id, deque())
            h.append((frame.ts, x, y))
            while h and frame.ts - h[0][0] > self.horizon_s:
                h.popleft()
            seen.add(t.id)
        for tid in list(self._hist):
            if tid not in seen and frame.ts - self._hist[tid][-1][0] > self.gap_s:
                del self._hist[tid]

    def displacement(self, tid: int) -> tuple[float, float, float]:
        """(dx, dy, seconds) from the oldest kept point to the newest."""
        h = self._hist.get(tid)
        if not h or len(h) < 2:
            return (0.0, 0.0, 0.0)
        return (h[-1][1] - h[0][1], h[-1][2] - h[0][2], h[-1][0] - h[0][0])

    def span(self, tid: int) -> float:
        """Seconds of history kept for the track."""
        h = self._hist.get(tid)
        return h[-1][0] - h[0][0] if h else 0.0

    def spread(self, tid: int) -> float:
        """Largest distance of a kept point from the newest one (how much it moved)."""
        h = self._hist.get(tid)
        if not h:
            return 0.0
        _, x, y = h[-1]
        return max(math.hypot(px - x, py - y) for _, px, py in h)

    def speed(self, tid: int) -> float:
        """Mean speed over the kept history, in normalised units per second."""
        dx, dy, dt = self.displacement(tid)
        return math.hypot(dx, dy) / dt if dt > 0 else 0.0


@dataclass
class _Run:
    start: float
    last: float
    track: Track


class Held:
    """Per-track runs of a condition (in the zone, lying, still, against the direction...),
    bridging lapses of up to ``gap_s``: a missed detection, an unmatched frame, a test that
    flickers. A track's run restarts only after a longer lapse."""

    def __init__(self, gap_s: float):
        self.gap_s = gap_s
        self._runs: dict[int, _Run] = {}
        self._prev: float | None = None

    def update(self, ts: float, holding: Iterable[Track]) -> list[Track]:
        """Record the tracks for which the condition holds at ``ts``; return every track whose
        condition holds now or held within the gap (as last seen)."""
        for t in holding:
            run = self._runs.get(t.id)
            held_before = run is not None and (run.last == self._prev or ts - run.last <= self.gap_s)
            if run is None or not held_before:
                self._runs[t.id] = _Run(ts, ts, t)
            else:
                run.last, run.track = ts, t
        for tid in [tid for tid, r in self._runs.items() if ts - r.last > self.gap_s]:
            del self._runs[tid]
        self._prev = ts
        return [r.track for r in self._runs.values()]

    def held_s(self, tid: int) -> float:
        """Seconds from the start of the track's current run to when the condition was last
        seen holding (0 when it has none): a lapse bridges a run, it never lengthens it."""
        run = self._runs.get(tid)
        return run.last - run.start if run is not None else 0.0

    def longer_than(self, seconds: float) -> list[Track]:
        """The tracks whose run has lasted at least ``seconds``."""
        return [r.track for r in self._runs.values() if r.last - r.start >= seconds]

    @property
    def last_seen(self) -> float | None:
        """When the condition was last seen holding for any track within the gap."""
        return max((r.last for r in self._runs.values()), default=None)

    def clear(self) -> None:
        self._runs.clear()


class Episode:
    """One situation at a time: ``step(active)`` each frame returns the start/end events.

    Starts once ``active`` has held for ``dwell_s`` (lapses up to ``gap_s`` do not restart
    the dwell); ends once it has been false for ``clear_s`` (and at least ``gap_s``); after
    an end, a new start waits ``cooldown_s``.
    """

    def __init__(
        self, type_: str, severity: str, zone: str | None, dwell_s: float, clear_s: float, cooldown_s: float,
        gap_s: float = 0.0,
    ):
        self.type = type_
        self.severity = severity
        self.zone = zone
        self.dwell_s = dwell_s
        self.clear_s = clear_s
        self.cooldown_s = cooldown_s
        self.gap_s = gap_s
        self.open: Event | None = None
        self._since: float | None = None
        self._last_active = -math.inf
        self._was_active = False
        self._ended_at = -math.inf
        self._peak: dict[str, float] = {}

    def step(
        self,
        frame: Frame,
        active: bool,
        objects: Sequence[Track] = (),
        measure: dict[str, float] | None = None,
        seen: float | None = None,
    ) -> list[Event]:
        """``seen``: when the condition was last observed (a rule whose ``active`` includes
        tracks within the gap passes :attr:`Held.last_seen`); default this frame."""
        measure = measure or {}
        if active:
            at = frame.ts if seen is None else seen
            if self._since is None or (not self._was_active and at - self._last_active > self.gap_s):
                self._since = at
            self._last_active = at
        elif frame.ts - self._last_active > self.gap_s:
            self._since = None
        self._was_active = active
        if self.open is None:
            if (
                active
                and self._since is not None
                and frame.ts - self._since >= self.dwell_s
                and frame.ts - self._ended_at >= self.cooldown_s
            ):
                self._peak = dict(measure)
                self.open = self._event(frame, "start", tuple(objects), measure, None)
                log.info("%s start (zone %s) %s", self.type, self.zone, measure)
                return [self.open]
            return []
        for k, v in measure.items():
            self._peak[k] = max(self._peak.get(k, v), v)
        if not active and frame.ts - self._last_active >= max(self.clear_s, self.gap_s):
            return [self._end(frame)]
        return []

    def close(self, frame: Frame) -> list[Event]:
        """End the open episode, if any (shutdown)."""
        return [self._end(frame)] if self.open is not None else []

    def _end(self, frame: Frame) -> Event:
        opened = self.open
        assert opened is not None
        ev = self._event(frame, "end", opened.objects, self._peak, opened)
        self.open = None
        self._since = None
        self._ended_at = frame.ts
        log.info("%s end (zone %s)", self.type, self.zone)
        return ev

    def _event(
        self,
        frame: Frame,
        state: str,
        objects: tuple[Track, ...],
        measure: dict[str, float],
        opened: Event | None,
    ) -> Event:
        return Event(
            id=opened.id if opened else uuid7(),
            type=self.type,
            state="start" if state == "start" else "end",
            severity=self.severity,  # type: ignore[arg-type]
            started_wall=opened.started_wall if opened else frame.wall,
            ended_wall=frame.wall if state == "end" else None,
            zone=self.zone,
            objects=objects[:64],
            measure={k: round(float(v), 4) for k, v in list(measure.items())[:16]},
            frame_w=frame.width,
            frame_h=frame.height,
        )


class KofN:
    """True when the condition held in at least ``k`` of the last ``n`` frames."""

    def __init__(self, k: int, n: int):
        self.k = k
        self._window: deque[bool] = deque(maxlen=n)

    def update(self, hit: bool) -> bool:
        self._window.append(hit)
        return sum(self._window) >= self.k

    @property
    def hits(self) -> int:
        return sum(self._window)


def pseudo_track(label: str, box: tuple[float, float, float, float], ts: float) -> Track:
    """A Track record for something that is not a tracked detection (a foreground blob)."""
    return Track(id=-1, label=label, score=1.0, box=box, first_ts=ts, last_ts=ts, hits=1, missed=0)
