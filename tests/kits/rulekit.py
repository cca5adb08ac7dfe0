"""Synthetic frames and track sequences for rule unit tests."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np

from edge.records import Event, Frame, Track

W, H = 200, 100
FPS = 10.0
BLANK = np.zeros((H, W, 3), np.uint8)

TrackFn = Callable[[float], list[Track]]
"""Time since the start of the phase (s) -> the tracks of that frame."""


def track(tid: int, label: str, cx: float, foot_y: float, w: float = 0.05, h: float = 0.2,
          score: float = 0.9) -> Track:
    """A track whose foot point is at normalised ``(cx, foot_y)`` with a ``w`` x ``h`` box."""
    x1, x2 = (cx - w / 2) * W, (cx + w / 2) * W
    y1, y2 = (foot_y - h) * H, foot_y * H
    return Track(tid, label, score, (x1, y1, x2, y2), 0.0, 0.0, 5, 0)


def nothing(_t: float) -> list[Track]:
    return []


@dataclass
class Timeline:
    """Runs a rule through phases of (seconds, track function); records events with times."""

    rule: object
    image: Callable[[float], np.ndarray] | None = None
    ts: float = 0.0
    index: int = 0

    def __post_init__(self) -> None:
        self.events: list[tuple[float, Event]] = []

    def run(self, phases: Sequence[tuple[float, TrackFn]]) -> Timeline:
        for seconds, fn in phases:
            t0 = self.ts
            for _ in range(round(seconds * FPS)):
                img = self.image(self.ts) if self.image else BLANK
                frame = Frame(self.index, self.ts, 1_700_000_000 + self.ts, img)
                for ev in self.rule.update(frame, fn(self.ts - t0)):  # type: ignore[attr-defined]
                    self.events.append((self.ts, ev))
                self.ts = round(self.ts + 1 / FPS, 6)
                self.index += 1
        return self

    def close(self) -> Timeline:
        frame = Frame(self.index, self.ts, 1_700_000_000 + self.ts, BLANK)
        for ev in self.rule.close(frame):  # type: ignore[attr-defined]
            self.events.append((self.ts, ev))
        return self

    def starts(self) -> list[float]:
        return [t for t, e in self.events if e.state == "start"]

    def ends(self) -> list[float]:
        return [t for t, e in self.events if e.state == "end"]
