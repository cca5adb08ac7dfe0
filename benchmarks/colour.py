"""Cost of the vehicle colour classifier on the box: milliseconds per crop and per track.

Times :func:`edge.search.colour.crop_colour` on the labelled crops of ``tests/data/colour_labels.csv``
(cut from ../shared/media, as the box cuts them from its frames) and on the same crops scaled
to a few sizes, and :func:`edge.search.colour.dominant_colour` over 8 crops of one track, against one
YOLOX-nano detection for scale. Prints a markdown table. Usage:
``python benchmarks/colour.py [--repeat N]``.
"""

from __future__ import annotations

import argparse
import logging
import time
from collections.abc import Callable

import cv2
import numpy as np

from edge.config import DetectorConfig
from edge.detect import make_detector
from edge.modelstore import ModelStore, default_mirror
from edge.search.colour import crop_colour, dominant_colour
from edge.tools.colour_eval import DEFAULT_LABELS, cut_crops, default_media, load_labels

log = logging.getLogger(__name__)


def timed(fn: Callable[[], object], repeat: int) -> tuple[float, float]:
    """(p50, p95) milliseconds of ``fn`` over ``repeat`` calls."""
    fn()
    times = []
    for _ in range(repeat):
        t = time.perf_counter()
        fn()
        times.append((time.perf_counter() - t) * 1000)
    return float(np.percentile(times, 50)), float(np.percentile(times, 95))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--repeat", type=int, default=200)
    args = ap.parse_args()
    labels = load_labels(DEFAULT_LABELS)
    crops = cut_crops(labels, default_media())
    rows: list[tuple[str, float, float]] = []
    i = 0

    def one_labelled() -> None:
        nonlocal i
        c = crops[i % len(crops)]
        i += 1
        crop_colour(c, (0, 0, c.shape[1], c.shape[0]))

    rows.append((f"crop_colour, labelled crops ({len(crops)}, {min(c.shape[0] for c in crops)}-"
                 f"{max(c.shape[0] for c in crops)} px high)", *timed(one_labelled, args.repeat)))
    sample = crops[len(crops) // 2]
    for side in (64, 256, 1024):
        scaled = cv2.resize(sample, (side, side * sample.shape[0] // sample.shape[1] or 1))
        rows.append((f"crop_colour, {scaled.shape[1]}x{scaled.shape[0]} crop",
                     *timed(lambda s=scaled: crop_colour(s, (0, 0, s.shape[1], s.shape[0])),
                            args.repeat)))
    track = crops[:8]
    rows.append(("dominant_colour, 8 crops of one track", *timed(lambda: dominant_colour(track),
                                                                 args.repeat)))
    store = ModelStore()
    store.fetch(["yolox-nano"], mirror=default_mirror(), allow_download=False)
    det = make_detector(DetectorConfig(threads=1), store)
    frame = np.zeros((432, 768, 3), np.uint8)
    frame[:] = (90, 90, 90)
    rows.append(("(for scale) YOLOX-nano, one 768x432 frame, 1 thread",
                 *timed(lambda: det.detect(frame), max(10, args.repeat // 10))))
    print("| what | p50 ms | p95 ms |")
    print("|---|---|---|")
    for name, p50, p95 in rows:
        print(f"| {name} | {p50:.2f} | {p95:.2f} |")


if __name__ == "__main__":
    logging.basicConfig(level=logging.WARNING)
    main()
