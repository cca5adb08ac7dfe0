"""Candidate events re-checked before they leave the box, and false-alarm suppressions applied.

When a detector-based rule starts an event, :class:`EventGate` looks again at its objects on the
frame that raised it: the detector (or a second model) runs on an enlarged crop around each
object at the camera's native resolution, so a 40-px person is seen at the detector's full input
size, and, when that close look does not confirm, on a wide crop (an object cut by the frame's
edge needs its surroundings). The event is **confirmed** when one of its objects is found
again, of its class (vehicles: any vehicle), at ``confirm_score``, overlapping its box;
otherwise it is **refused**. A refused candidate is not published: it is written to the box
log with its objects and counted (:attr:`EventGate.counts`), and its later ``end`` is held
back too. Nothing is dropped
silently. Over ``max_per_hour`` verifications a candidate is sent unverified and says so
(``verify_unverified = 1`` in its measure), as is one none of whose objects has a class the
model can name (a foreground blob's "static object"); a verified one carries
``verify_score``.

A candidate whose rule and foot points fall in a live suppression the hub sent
(:mod:`edge.suppressions`) is **suppressed**: logged, counted, not sent.
"""

from __future__ import annotations

import logging
import time
from collections import deque
from dataclasses import replace

import numpy as np

from edge.config_wings import VERIFIED_RULES, VerifyConfig
from edge.detect import Detector
from edge.records import Box, Event, Frame, Track, iou
from edge.suppressions import SuppressionBook

log = logging.getLogger(__name__)

VEHICLES = frozenset({"car", "truck", "bus", "motorcycle", "bicycle"})
"""Classes a verifier takes for one another (a car seen as a truck is still a vehicle)."""
HOUR_S = 3600.0


def same_class(a: str, b: str) -> bool:
    return a == b or (a in VEHICLES and b in VEHICLES)


def crop_rect(box: Box, width: int, height: int, context: float, min_px: int) -> tuple[int, int, int, int]:
    """The enlarged crop around ``box`` in frame pixels: grown by ``context`` of its size on
    every side, at least ``min_px`` a side (centred), inside the frame."""
    x1, y1, x2, y2 = box
    w, h = max(x2 - x1, 1.0), max(y2 - y1, 1.0)
    cx, cy = (x1 + x2) / 2, (y1 + y2) / 2
    half_w = max(w * (1 + 2 * context), min_px) / 2
    half_h = max(h * (1 + 2 * context), min_px) / 2
    return (max(0, int(cx - half_w)), max(0, int(cy - half_h)),
            min(width, int(np.ceil(cx + half_w))), min(height, int(np.ceil(cy + half_h))))


class Verifier:
    """Crop re-detection with one detector (the box's own, untiled, or a second model)."""

    def __init__(self, detector: Detector, cfg: VerifyConfig):
        self.detector = getattr(detector, "inner", detector)  # the crop replaces the tiles
        self.cfg = cfg
        self.labels = frozenset(getattr(self.detector, "labels", ()))

    def knows(self, label: str) -> bool:
        """Whether this model can name ``label`` (a foreground blob's "static object": no)."""
        if not self.labels:
            return True
        return label in self.labels or (label in VEHICLES and bool(self.labels & VEHICLES))

    def score(self, image: np.ndarray, obj: Track) -> float:
        """The best matching score for ``obj`` on its close crop, then (unless that already
        confirms) on its wide crop; 0.0: not found."""
        best = 0.0
        for context in (self.cfg.context, self.cfg.wide_context):
            best = max(best, self._on_crop(image, obj, context))
            if best >= self.cfg.confirm_score:
                break
        return best

    def _on_crop(self, image: np.ndarray, obj: Track, context: float) -> float:
        h, w = image.shape[:2]
        x1, y1, x2, y2 = crop_rect(obj.box, w, h, context, self.cfg.min_crop_px)
        if x2 - x1 < 2 or y2 - y1 < 2:
            return 0.0
        crop = np.ascontiguousarray(image[y1:y2, x1:x2])
        best = 0.0
        for d in self.detector.detect(crop):
            box = (d.box[0] + x1, d.box[1] + y1, d.box[2] + x1, d.box[3] + y1)
            if same_class(d.label, obj.label) and iou(box, obj.box) >= self.cfg.min_iou:
                best = max(best, d.score)
        return best


class EventGate:
    """Between the rules and the outbox: verification, suppressions, and their counters."""

    def __init__(self, cfg: VerifyConfig, detector: Detector, book: SuppressionBook | None = None,
                 second: Detector | None = None):
        self.cfg = cfg
        self.book = book
        self.crop = Verifier(detector, cfg)
        self.second = Verifier(second, cfg) if second is not None else None
        self._recent: deque[float] = deque()
        self._held: set[str] = set()
        self.counts = {"verified": 0, "confirmed": 0, "refused": 0, "unverified": 0,
                       "unverifiable": 0, "suppressed": 0}

    def health(self) -> dict[str, int]:
        """The counters for the health message, with the suppression set's version."""
        return {**self.counts, "suppression_version": self.book.version if self.book else 0}

    def mode(self, rule: str) -> str:
        return self.cfg.modes.get(rule, "off") if rule in VERIFIED_RULES else "off"  # type: ignore[call-overload]

    def admit(self, events: list[Event], frame: Frame, now: float | None = None) -> list[Event]:
        """The events that may be sent; refused and suppressed ones are logged and counted."""
        now = time.monotonic() if now is None else now
        out: list[Event] = []
        for ev in events:
            if ev.state == "end":
                if ev.id in self._held:
                    self._held.discard(ev.id)
                else:
                    out.append(ev)
                continue
            kept = self._start(ev, frame, now)
            if kept is None:
                self._held.add(ev.id)
            else:
                out.append(kept)
        return out

    def _start(self, ev: Event, frame: Frame, now: float) -> Event | None:
        if self.book is not None:
            hit = self.book.match(ev, time.time())
            if hit is not None:
                self.counts["suppressed"] += 1
                log.warning("event %s %s SUPPRESSED by false-alarm suppression %s (until %s)",
                            ev.type, ev.id, hit.id, hit.expires_at)
                return None
        mode = self.mode(ev.type)
        if mode == "off" or not ev.objects:
            return ev
        verifier = self.second if mode == "second_model" and self.second is not None else self.crop
        objects = [o for o in ev.objects if verifier.knows(o.label)][:8]
        if not objects:  # nothing the model can name: it cannot judge, the event goes
            self.counts["unverifiable"] += 1
            log.info("event %s %s sent unverified: no object of a class %s knows", ev.type,
                     ev.id, mode)
            return replace(ev, measure={**ev.measure, "verify_unverified": 1.0})
        while self._recent and now - self._recent[0] > HOUR_S:
            self._recent.popleft()
        if len(self._recent) >= self.cfg.max_per_hour:
            self.counts["unverified"] += 1
            log.info("event %s %s sent unverified: %d verifications in the last hour (cap %d)",
                     ev.type, ev.id, len(self._recent), self.cfg.max_per_hour)
            return replace(ev, measure={**ev.measure, "verify_unverified": 1.0})
        self._recent.append(now)
        self.counts["verified"] += 1
        best = max(verifier.score(frame.image, o) for o in objects)
        if best >= self.cfg.confirm_score:
            self.counts["confirmed"] += 1
            return replace(ev, measure={**ev.measure, "verify_score": round(best, 3)})
        self.counts["refused"] += 1
        log.warning("event %s %s REFUSED by verification (%s): best score %.2f < %.2f for %s; "
                    "not sent", ev.type, ev.id, mode, best, self.cfg.confirm_score,
                    [(o.label, round(o.score, 2), [round(v) for v in o.box]) for o in ev.objects[:8]])
        return None
