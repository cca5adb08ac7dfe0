"""A cheap impulse (onset energy) gate: finds sharp rises of short-time energy.

Gunshots are impulses: the energy of a 10 ms frame jumps well above the frames just before
it. Windows without such a jump cannot hold a shot, so the classifier is skipped on them.
The same onsets, spaced apart, count the impulses of a burst.
"""

from __future__ import annotations

import logging

import numpy as np

log = logging.getLogger(__name__)

FRAME = 160
"""10 ms at 16 kHz."""
LOOKBACK = 5
"""Frames (50 ms) before a frame that it is compared with."""
FLOOR_DB = -80.0


def frame_db(x: np.ndarray) -> np.ndarray:
    """Energy in dBFS of consecutive 10 ms frames of ``x`` (a trailing partial frame is dropped)."""
    n = len(x) // FRAME
    if n == 0:
        return np.zeros(0, np.float32)
    f = x[: n * FRAME].reshape(n, FRAME).astype(np.float32)
    e = np.mean(f * f, axis=1)
    return np.maximum(10.0 * np.log10(e + 1e-12), FLOOR_DB).astype(np.float32)


def onset_strength(db: np.ndarray) -> np.ndarray:
    """Per frame: its energy minus the mean of the :data:`LOOKBACK` frames before it (dB).

    The first ``LOOKBACK`` frames have no history and get 0.
    """
    out = np.zeros(len(db), np.float32)
    if len(db) <= LOOKBACK:
        return out
    c = np.concatenate([[0.0], np.cumsum(db, dtype=np.float64)])
    idx = np.arange(LOOKBACK, len(db))
    prev_mean = (c[idx] - c[idx - LOOKBACK]) / LOOKBACK
    out[LOOKBACK:] = db[LOOKBACK:] - prev_mean
    return out


def onsets(strength: np.ndarray, rise_db: float, min_gap_frames: int = 10) -> np.ndarray:
    """Indices of frames whose onset strength reaches ``rise_db``, at least
    ``min_gap_frames`` apart (the first of a run of frames is kept)."""
    hits = np.flatnonzero(strength >= rise_db)
    if len(hits) == 0:
        return hits
    keep = [int(hits[0])]
    for h in hits[1:]:
        if h - keep[-1] >= min_gap_frames:
            keep.append(int(h))
    return np.array(keep)
