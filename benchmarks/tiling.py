"""Small and far objects, and persons lying at the frame's edge: recall by object size and CPU
per frame of today's full-frame pass against tiles and quarter turns, measured in one run.

    .venv/bin/python benchmarks/tiling.py [--frames 12] [--seed 0]

Ground truth by construction (there are no human labels of the shared footage's own small
objects): real persons (four visitors cut from one-by-one-person-detection.mp4) and real cars
(cut from traffic_frames.mp4 where YOLOX scores them 0.7 or more) are shrunk to heights drawn
log-uniformly between 12 and 160 px and pasted, six per frame, into real frames: the kite beach
photo (1352x900), traffic_frames.mp4 (960x540) and car-detection.mp4 (768x432). An object is
found when a detection of its class (any vehicle class for a car) overlaps its box with IoU 0.5
or more. The objects already in the backgrounds are not counted either way. The lying table
turns the four visitors a quarter turn and lays them across the bottom edge of the empty room
(one-by-one-person-detection.mp4 frame 0), 0-30 % of the body below the edge. Prints markdown.
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from edge.config import DetectorConfig, TilingConfig  # noqa: E402
from edge.detect import Detector, make_detector  # noqa: E402
from edge.detect.labels import VEHICLES  # noqa: E402
from edge.detect.tiling import TiledDetector  # noqa: E402
from edge.modelstore import ModelStore, default_mirror  # noqa: E402
from edge.records import Box, Detection, iou  # noqa: E402

MEDIA = ROOT.parent / "shared" / "media"
PERSON_VIDEO = MEDIA / "video/one-by-one-person-detection.mp4"
VISITOR_FRAMES = (300, 600, 750, 1050)
BUCKETS = ((0, 24), (24, 48), (48, 96), (96, 10_000))
WHOLE = [(0.0, 0.0, 1.0, 1.0)]
RIGHT_HALF = [(0.5, 0.0, 1.0, 1.0)]


@dataclass(frozen=True)
class Pasted:
    label: str
    box: Box


def frames_of(path: Path, indices: Sequence[int]) -> list[np.ndarray]:
    cap = cv2.VideoCapture(str(path))
    out = []
    for i in indices:
        cap.set(cv2.CAP_PROP_POS_FRAMES, i)
        ok, f = cap.read()
        if ok:
            out.append(f)
    cap.release()
    return out


def cutouts(det: Detector) -> list[tuple[str, np.ndarray]]:
    """Real persons and cars cut from the shared clips at their detected boxes."""
    out = []
    for f in frames_of(PERSON_VIDEO, VISITOR_FRAMES):
        best = max((d for d in det.detect(f) if d.label == "person"), key=lambda d: d.score)
        x1, y1, x2, y2 = (round(v) for v in best.box)
        out.append(("person", f[y1:y2, x1:x2].copy()))
    for f in frames_of(MEDIA / "video/traffic_frames.mp4", (0, 10)):
        for d in det.detect(f):
            x1, y1, x2, y2 = (round(v) for v in d.box)
            if d.label == "car" and d.score >= 0.7 and y2 - y1 >= 40:
                out.append(("car", f[y1:y2, x1:x2].copy()))
    return out


def backgrounds(n: int) -> list[np.ndarray]:
    per = max(1, n // 3)
    kite = cv2.imread(str(MEDIA / "images/kite_and_cold.jpg"))
    traffic = frames_of(MEDIA / "video/traffic_frames.mp4", range(0, 20, max(1, 20 // per)))
    cars = frames_of(MEDIA / "video/car-detection.mp4", range(0, 377, max(1, 377 // per)))
    return [kite] * per + traffic[:per] + cars[:per]


def compose(bg: np.ndarray, objects: list[tuple[str, np.ndarray]], rng: np.random.Generator,
            per_frame: int = 6) -> tuple[np.ndarray, list[Pasted]]:
    """``per_frame`` objects at random sizes and places, not overlapping one another."""
    img = bg.copy()
    h, w = img.shape[:2]
    placed: list[Pasted] = []
    while len(placed) < per_frame:
        label, patch = objects[int(rng.integers(len(objects)))]
        ph = round(np.exp(rng.uniform(np.log(12), np.log(min(160, h // 2)))))
        pw = max(4, round(patch.shape[1] * ph / patch.shape[0]))
        if pw >= w:
            continue
        x0, y0 = int(rng.integers(0, w - pw)), int(rng.integers(0, h - ph))
        box = (float(x0), float(y0), float(x0 + pw), float(y0 + ph))
        if any(iou(box, p.box) > 0 or _overlap(box, p.box) for p in placed):
            continue
        img[y0:y0 + ph, x0:x0 + pw] = cv2.resize(patch, (pw, ph), interpolation=cv2.INTER_AREA)
        placed.append(Pasted(label, box))
    return img, placed


def _overlap(a: Box, b: Box) -> bool:
    return not (a[2] <= b[0] or b[2] <= a[0] or a[3] <= b[1] or b[3] <= a[1])


def _same(label: str, d: Detection) -> bool:
    return d.label == label or (label == "car" and d.label in VEHICLES)


def found(p: Pasted, dets: list[Detection]) -> bool:
    return any(_same(p.label, d) and iou(d.box, p.box) >= 0.5 for d in dets)


@dataclass
class Row:
    name: str
    hits: list[int]
    totals: list[int]
    cpu_ms: float
    wall_ms: float
    passes: str


def measure(name: str, det: Detector | TiledDetector, scenes: list[tuple[np.ndarray, list[Pasted]]],
            keep: Callable[[Pasted, int, int], bool] = lambda p, w, h: True) -> Row:
    """Recall by size bucket and CPU/wall ms per frame of ``det`` on the composed frames."""
    hits, totals = [0] * (len(BUCKETS) + 1), [0] * (len(BUCKETS) + 1)
    det.detect(scenes[0][0])  # warm-up
    cpu = wall = 0.0
    for img, pasted in scenes:
        c0, w0 = time.process_time(), time.perf_counter()
        dets = det.detect(img)
        cpu += time.process_time() - c0
        wall += time.perf_counter() - w0
        for p in pasted:
            if not keep(p, img.shape[1], img.shape[0]):
                continue
            k = next(i for i, (lo, hi) in enumerate(BUCKETS) if lo <= p.box[3] - p.box[1] < hi)
            ok = found(p, dets)
            for i in (k, len(BUCKETS)):
                totals[i] += 1
                hits[i] += ok
    plans = sorted({det.plan(i.shape[1], i.shape[0]).passes for i, _ in scenes}) \
        if isinstance(det, TiledDetector) else [1]
    return Row(name, hits, totals, cpu * 1000 / len(scenes), wall * 1000 / len(scenes),
               "-".join(map(str, plans)))


def table(rows: list[Row]) -> str:
    heads = [f"{lo}-{hi} px" if hi < 10_000 else f">= {lo} px" for lo, hi in BUCKETS] + ["all"]
    out = ["| configuration | passes/frame | " + " | ".join(f"recall {h}" for h in heads)
           + " | CPU ms/frame | wall ms/frame | frames/s per camera |",
           "|" + "---|" * (len(heads) + 5)]
    for r in rows:
        rec = [f"{h / t:.2f} ({h}/{t})" if t else "n/a" for h, t in zip(r.hits, r.totals, strict=True)]
        out.append(f"| {r.name} | {r.passes} | " + " | ".join(rec)
                   + f" | {r.cpu_ms:.0f} | {r.wall_ms:.0f} | {1000 / r.wall_ms:.1f} |")
    return "\n".join(out)


def lying_scenes(objects: list[tuple[str, np.ndarray]]) -> list[tuple[np.ndarray, list[Pasted]]]:
    """Each visitor turned both ways, laid across the empty room's bottom edge, 0-30 % cut."""
    bg = frames_of(PERSON_VIDEO, (0,))[0]
    h, w = bg.shape[:2]
    out = []
    for label, patch in objects:
        if label != "person":
            continue
        for turn in (cv2.ROTATE_90_CLOCKWISE, cv2.ROTATE_90_COUNTERCLOCKWISE):
            for cut, x0 in ((0.0, 40), (0.15, 200), (0.3, 380)):
                lying = cv2.rotate(patch, turn)
                lying = cv2.resize(lying, None, fx=0.8, fy=0.8, interpolation=cv2.INTER_AREA)
                y0 = h - round(lying.shape[0] * (1 - cut))
                x1 = min(x0 + lying.shape[1], w)
                img = bg.copy()
                img[y0:h, x0:x1] = lying[: h - y0, : x1 - x0]
                out.append((img, [Pasted("person", (float(x0), float(y0), float(x1), float(h)))]))
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--frames", type=int, default=12, help="composed frames (a third per background)")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--threads", type=int, default=2)
    args = ap.parse_args()
    logging.basicConfig(level=logging.WARNING)
    store = ModelStore()
    store.fetch(mirror=default_mirror(), allow_download=False)
    det = make_detector(DetectorConfig(threads=args.threads, classes=["person", *VEHICLES]), store)
    objects = cutouts(det)
    rng = np.random.default_rng(args.seed)
    scenes = [compose(bg, objects, rng) for bg in backgrounds(args.frames)]
    tiles = TilingConfig(mode="on")
    right = lambda p, w, h: (p.box[0] + p.box[2]) / 2 >= w / 2  # noqa: E731
    rows = [
        measure("full frame (today)", det, scenes),
        measure("full frame + tiles over the whole frame",
                TiledDetector(det, tiles, WHOLE, [], 0.45), scenes),
        measure("full frame, objects in the right half", det, scenes, right),
        measure("full frame + tiles over a right-half zone", TiledDetector(det, tiles, RIGHT_HALF, [], 0.45),
                scenes, right),
    ]
    print(f"{len(scenes)} composed frames, {sum(len(p) for _, p in scenes)} pasted objects "
          f"({sum(p.label == 'person' for _, ps in scenes for p in ps)} persons), YOLOX-nano 416 px on "
          f"onnxruntime, {args.threads} threads, load average {os.getloadavg()[0]:.1f}\n")
    print(table(rows))
    lying = lying_scenes(objects)
    turned = TiledDetector(det, TilingConfig(), [], WHOLE, 0.45)
    print(f"\nPersons lying across the bottom edge ({len(lying)} composed frames, 768x432):\n")
    print(table([measure("full frame (today)", det, lying),
                 measure("full frame + quarter turns", turned, lying)]))


if __name__ == "__main__":
    main()
