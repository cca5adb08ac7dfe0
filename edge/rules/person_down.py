"""``person_down``: a person whose torso lies (far from the camera's vertical) and stays still
for ``dwell_s``.

With ``posture = "body"`` the torso axis comes from the pose model on the person's crop
(:mod:`edge.posture`); sitting keeps the torso upright and is not down. Stillness is that of
the torso's centre, so a lying person moving an arm stays still. A person unseen for up to
``gap_s`` (detector miss, new track id over the same place) keeps their timers: this rule keeps
its own per-person state across such gaps.
"""

from __future__ import annotations

import logging
import math
from collections import deque
from dataclasses import dataclass, field

from edge.calibration import GroundPlane
from edge.config import ZoneConfig
from edge.geometry import foot_point
from edge.posture import PoseEstimator, up_direction
from edge.records import Event, Frame, Track, iou
from edge.rules.common import Episode, select
from edge.rules.configs import PersonDownRule

log = logging.getLogger(__name__)

REBIND_IOU = 0.3
"""A new track id whose box overlaps a recently lost person's this much is that person."""


@dataclass
class _Person:
    """What the rule knows of one person, kept across short gaps."""

    track: Track
    last_seen: float
    lying: bool | None = None
    """Last posture verdict: True lying, False upright, None unknown."""
    last_lying: float = -math.inf
    lying_since: float | None = None
    pose_ts: float = -math.inf
    tilt: float = 0.0
    centres: deque[tuple[float, float, float]] = field(default_factory=deque)


class PersonDown:
    type = "person_down"

    def __init__(self, cfg: PersonDownRule, zone: ZoneConfig | None,
                 pose: PoseEstimator | None = None, plane: GroundPlane | None = None):
        if cfg.posture == "body" and pose is None:
            raise ValueError("person_down with posture = 'body' needs the pose model")
        self.cfg = cfg
        self.polygon = zone.polygon if zone else None
        self.pose = pose
        self.plane = plane
        self.horizon_s = max(cfg.dwell_s, 1.0)
        self._people: dict[int, _Person] = {}
        self.episode = Episode(
            self.type, cfg.severity, zone.name if zone else None, 0.0, cfg.clear_s, cfg.cooldown_s, cfg.gap_s
        )

    def update(self, frame: Frame, tracks: list[Track]) -> list[Event]:
        persons = select(frame, tracks, ["person"], self.polygon)
        for t in persons:
            self._observe(frame, t, self._person(t, frame.ts))
        for tid, p in list(self._people.items()):
            if frame.ts - p.last_seen > self.cfg.gap_s:
                del self._people[tid]
        down = [p for p in self._people.values() if self._is_down(p, frame.ts)]
        measure = {"count": float(len(down)), "tilt_deg": max((p.tilt for p in down), default=0.0)}
        return self.episode.step(frame, bool(down), [p.track for p in down], measure)

    def close(self, frame: Frame) -> list[Event]:
        return self.episode.close(frame)

    def _person(self, t: Track, ts: float) -> _Person:
        """The track's state; a new id takes over a lost person it overlaps (a re-found track)."""
        p = self._people.get(t.id)
        if p is None:
            seen = {q.track.id for q in self._people.values() if q.last_seen == ts}
            lost = [(iou(q.track.box, t.box), tid) for tid, q in self._people.items()
                    if q.track.id not in seen]
            best = max(lost, default=(0.0, -1))
            p = self._people.pop(best[1]) if best[0] >= REBIND_IOU else _Person(t, ts)
            self._people[t.id] = p
        p.track, p.last_seen = t, ts
        return p

    def _observe(self, frame: Frame, t: Track, p: _Person) -> None:
        """Update one person's posture verdict, lying timer and centre history."""
        ts = frame.ts
        if self.cfg.posture == "box":
            w, h = t.box[2] - t.box[0], t.box[3] - t.box[1]
            verdict: bool | None = h > 0 and w / h >= self.cfg.min_aspect
            centre = ((t.box[0] + t.box[2]) / 2, (t.box[1] + t.box[3]) / 2)
        elif ts - p.pose_ts >= self.cfg.pose_interval_s:
            verdict, found = self._posture(frame, t, p)
            p.pose_ts = ts
            if found is None:
                return
            centre = found
        else:
            return  # posture and centre are re-measured at the next pose time
        p.centres.append((ts, centre[0] / frame.width, centre[1] / frame.height))
        while p.centres and ts - p.centres[0][0] > self.horizon_s:
            p.centres.popleft()
        if verdict is True:
            p.last_lying = ts
            if p.lying_since is None:
                p.lying_since = ts
        elif verdict is False or ts - p.last_lying > self.cfg.gap_s:
            p.lying_since = None
        p.lying = verdict if verdict is not None else p.lying

    def _posture(self, frame: Frame, t: Track, p: _Person) -> tuple[bool | None, tuple[float, float] | None]:
        """(lying?, torso centre in pixels) from the pose model; (None, None) when unknown."""
        w, h = t.box[2] - t.box[0], t.box[3] - t.box[1]
        if max(w, h) < self.cfg.min_size_px:
            return None, None
        assert self.pose is not None
        body = self.pose.estimate(frame.image, t.box)
        if body is None or body.score < self.cfg.min_pose_score:
            return None, None
        if not 0.1 * max(w, h) <= body.length <= 1.2 * max(w, h):  # not a torso of this person
            return None, None
        feet = foot_point(t.box, frame.width, frame.height)
        up = up_direction(self.plane, frame.width, frame.height,
                          (feet[0] * frame.width, feet[1] * frame.height))
        p.tilt = body.tilt_deg(up)
        return p.tilt >= self.cfg.min_tilt_deg, body.centre

    def _is_down(self, p: _Person, ts: float) -> bool:
        if p.lying_since is None or ts - p.lying_since < self.cfg.dwell_s:
            return False
        return self._spread(p) <= self.cfg.max_motion

    @staticmethod
    def _spread(p: _Person) -> float:
        """Largest distance of a kept torso centre from the newest one."""
        if not p.centres:
            return 0.0
        _, x, y = p.centres[-1]
        return max(math.hypot(px - x, py - y) for _, px, py in p.centres)
