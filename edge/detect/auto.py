"""``backend = "auto"``: time every runtime that can run the model here and keep the fastest."""

from __future__ import annotations

import logging
import time

import numpy as np

from edge.config import DetectorConfig
from edge.detect import Detector, DetectorError, backends_for, load_detector
from edge.modelstore import ModelStore

log = logging.getLogger(__name__)

WARMUP_RUNS = 2
TIMED_RUNS = 5


def probe_image(width: int = 768, height: int = 432) -> np.ndarray:
    """A fixed synthetic BGR frame (smooth gradients plus noise) for warm-up timings."""
    rng = np.random.default_rng(0)
    yy, xx = np.mgrid[0:height, 0:width]
    base = np.stack([xx * 255 // width, yy * 255 // height, (xx + yy) * 255 // (width + height)], -1)
    return np.clip(base + rng.integers(-20, 20, base.shape), 0, 255).astype(np.uint8)


def time_detector(det: Detector, image: np.ndarray, warmup: int = WARMUP_RUNS,
                  runs: int = TIMED_RUNS) -> float:
    """Median wall time of ``det.detect(image)`` in ms after ``warmup`` untimed runs."""
    for _ in range(warmup):
        det.detect(image)
    times = []
    for _ in range(runs):
        t0 = time.perf_counter()
        det.detect(image)
        times.append((time.perf_counter() - t0) * 1000)
    return float(np.median(times))


def choose(cfg: DetectorConfig, store: ModelStore) -> Detector:
    """Load the model on each available backend, time it, return the fastest.

    The detector returned carries ``timings_ms`` (backend -> median ms) for the health
    message. A backend that is not installed or cannot load the model is skipped with a log
    line; if none can, the DetectorError lists why each failed.
    """
    spec = store.manifest.get(cfg.model)
    path = store.path(cfg.model)
    image = probe_image()
    timings: dict[str, float] = {}
    loaded: dict[str, Detector] = {}
    failures: list[str] = []
    for backend in backends_for(spec):
        try:
            det = load_detector(spec, backend, path, cfg, store)
            timings[backend] = round(time_detector(det, image), 2)
            loaded[backend] = det
        except DetectorError as exc:
            failures.append(f"{backend}: {exc}")
            log.info("auto: %s skipped: %s", backend, exc)
    if not loaded:
        raise DetectorError(f"no backend can run {cfg.model!r}: " + "; ".join(failures))
    best = min(timings, key=lambda b: timings[b])
    log.info("auto: %s on %s (median ms %s)", cfg.model, best, timings)
    det = loaded[best]
    det.timings_ms = timings  # type: ignore[attr-defined]
    return det
