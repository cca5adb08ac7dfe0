"""Motion gating: skip the detector on frames where nothing has changed.

A frame is compared, as a small blurred grey thumbnail, with the thumbnail of the last frame
the detector ran on (not the previous frame, so slow motion accumulates until it counts).
The detector runs when enough thumbnail pixels changed (at most once per
``min_interval_s``, 5 runs/s by default, while things keep moving), or when ``refresh_s`` of media time
passed since its last run (the periodic refresh that keeps stationary objects tracked and
lets the scene's drift re-baseline). On a skipped frame the gate hands back the last
detections: nothing moved, so the objects are where the detector last saw them, and the
tracker keeps ageing and confirming them as before (a person standing still in a zone keeps
dwelling).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal

import cv2
import numpy as np

from edge.config import MotionConfig
from edge.records import Detection, Frame

log = logging.getLogger(__name__)

Reason = Literal["first", "motion", "refresh", "still", "rate", "off"]


@dataclass(frozen=True)
class GateDecision:
    """Whether the detector runs on a frame, why, and the fraction of changed pixels."""

    run: bool
    reason: Reason
    changed: float


class MotionGate:
    """Decides per frame whether the detector must run; counts runs and skips."""

    def __init__(self, cfg: MotionConfig | None = None):
        self.cfg = cfg or MotionConfig()
        self._ref: np.ndarray | None = None
        self._ref_ts = 0.0
        self._last: list[Detection] = []
        self.runs = 0
        self.skips = 0

    def thumbnail(self, image: np.ndarray) -> np.ndarray:
        """Small blurred grey version of a BGR (or grey) frame."""
        h, w = image.shape[:2]
        tw = min(self.cfg.width, w)
        th = max(1, round(h * tw / w))
        small = cv2.resize(image, (tw, th), interpolation=cv2.INTER_AREA)
        if small.ndim == 3:
            small = cv2.cvtColor(small, cv2.COLOR_BGR2GRAY)
        return cv2.GaussianBlur(small, (5, 5), 0)

    def check(self, frame: Frame) -> GateDecision:
        """Decide for ``frame``; when it says run, the frame becomes the new reference."""
        if not self.cfg.enabled:
            return GateDecision(True, "off", 1.0)
        thumb = self.thumbnail(frame.image)
        if self._ref is None or self._ref.shape != thumb.shape:
            decision = GateDecision(True, "first", 1.0)
        else:
            diff = cv2.absdiff(thumb, self._ref)
            changed = float(np.count_nonzero(diff > self.cfg.pixel_threshold)) / diff.size
            since = frame.ts - self._ref_ts
            if since >= self.cfg.refresh_s or since < 0:
                decision = GateDecision(True, "refresh", changed)
            elif changed < self.cfg.min_changed:
                decision = GateDecision(False, "still", changed)
            elif since < self.cfg.min_interval_s:
                decision = GateDecision(False, "rate", changed)
            else:
                decision = GateDecision(True, "motion", changed)
        if decision.run:
            self._ref, self._ref_ts = thumb, frame.ts
        return decision

    def detections(self, frame: Frame, detect: Callable[[np.ndarray], list[Detection]]) -> list[Detection]:
        """``detect(frame.image)`` if the gate fires, else the last detections again."""
        if self.check(frame).run:
            self.runs += 1
            self._last = detect(frame.image)
        else:
            self.skips += 1
        return self._last

    @property
    def skipped_fraction(self) -> float:
        total = self.runs + self.skips
        return self.skips / total if total else 0.0
