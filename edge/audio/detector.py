"""16 kHz stream -> overlapping windows -> impulse gate -> YAMNet -> pooled gun score.

:class:`GunshotDetector` turns audio blocks into :class:`WindowResult` records (one per
0.975 s window, hop about half a window); :class:`edge.audio.burst.BurstTracker` turns those
into events. Only numbers come out of here: scores and impulse times.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Literal, Protocol

import numpy as np

from edge.audio.classifier import SAMPLE_RATE, WINDOW, Scores
from edge.audio.gate import FRAME, LOOKBACK, frame_db, onset_strength, onsets
from edge.audio.ring import RingBuffer

log = logging.getLogger(__name__)

HOP = WINDOW // 2
"""7800 samples (0.4875 s): 50% overlap."""
HISTORY = LOOKBACK * FRAME
"""Samples before a window the onset detector needs."""

Pooling = Literal["max", "sum"]


class Classifier(Protocol):
    model_name: str
    model_sha256: str

    def scores(self, window: np.ndarray) -> Scores: ...


@dataclass(frozen=True)
class WindowResult:
    """One analysed window. Times are stream seconds; ``gun`` is empty when the gate
    skipped the model."""

    start_s: float
    end_s: float
    end_wall: float
    gun: tuple[float, ...]
    onsets_s: tuple[float, ...]

    @property
    def ran_model(self) -> bool:
        return bool(self.gun)


def pool(gun: tuple[float, ...], how: Pooling) -> float:
    """One score from the gun-related class scores: their max, or their sum capped at 1."""
    if not gun:
        return 0.0
    return max(gun) if how == "max" else min(1.0, float(sum(gun)))


class GunshotDetector:
    """Windows a stream of 16 kHz samples and scores each window.

    With ``gate_rise_db`` set, a window whose loudest onset rises less than that over the
    50 ms before it is not given to the classifier (its scores are empty).
    """

    def __init__(self, classifier: Classifier, gate_rise_db: float | None = 4.5,
                 onset_rise_db: float = 10.0):
        self.classifier = classifier
        self.gate_rise_db = gate_rise_db
        self.onset_rise_db = onset_rise_db
        self.ring = RingBuffer(WINDOW + HISTORY + 4 * SAMPLE_RATE)
        self._next_end = WINDOW
        self._wall_at_zero: float | None = None
        self.windows = 0
        self.model_runs = 0
        self.model_seconds = 0.0

    def feed(self, samples: np.ndarray, wall: float | None = None) -> list[WindowResult]:
        """Add samples (16 kHz mono float32); return the windows they complete.

        ``wall`` is the Unix time of the first sample, used to time-stamp windows.
        """
        if wall is not None and self._wall_at_zero is None:
            self._wall_at_zero = wall - self.ring.written / SAMPLE_RATE
        out = []
        for i in range(0, len(samples), HOP):  # never write past what the ring can hold
            self.ring.write(samples[i : i + HOP])
            while self.ring.written >= self._next_end:
                out.append(self._analyse(self._next_end))
                self._next_end += HOP
        return out

    def _analyse(self, end: int) -> WindowResult:
        chunk = self.ring.read(end, WINDOW + HISTORY)
        window = chunk[HISTORY:]
        start = end - WINDOW
        strength = onset_strength(frame_db(chunk))[LOOKBACK:]
        if start < HISTORY:  # no onset against the silence before the stream began
            strength[: LOOKBACK - start // FRAME] = 0.0
        on = onsets(strength, self.onset_rise_db)
        onset_times = tuple(round((start + int(i) * FRAME) / SAMPLE_RATE, 3) for i in on)
        self.windows += 1
        gun: tuple[float, ...] = ()
        if self.gate_rise_db is None or (len(strength) and float(strength.max()) >= self.gate_rise_db):
            t0 = time.process_time()
            gun = self.classifier.scores(window).gun
            self.model_seconds += time.process_time() - t0
            self.model_runs += 1
        base = self._wall_at_zero if self._wall_at_zero is not None else time.time() - end / SAMPLE_RATE
        return WindowResult(start / SAMPLE_RATE, end / SAMPLE_RATE, base + end / SAMPLE_RATE, gun,
                            onset_times)

    def run(self, samples: Iterable[np.ndarray]) -> list[WindowResult]:
        """All windows of a finite stream (for evaluation and benchmarks)."""
        out: list[WindowResult] = []
        for x in samples:
            out.extend(self.feed(x))
        return out
