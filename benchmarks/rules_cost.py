"""Per-frame cost of the event rules and statistics next to the detector, on a real video.

Usage: ``python benchmarks/rules_cost.py [VIDEO] [--frames N]``; prints a markdown table.
Ratios within one run are what to quote: the machine may be shared.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

from edge.capture import VideoSource
from edge.config import SourceConfig, parse
from edge.detect import make_detector
from edge.modelstore import ModelStore
from edge.rules import build_rules
from edge.stats import StatsAggregator
from edge.track import detector_config, make_tracker

ROOT = Path(__file__).resolve().parent.parent
VIDEO = ROOT.parent / "shared/media/video/one-by-one-person-detection.mp4"

CONFIG = """
site = "bench"
camera = "c"
data_dir = "{tmp}"
[source]
url = "{video}"
realtime = false
[detector]
classes = ["person", "car", "bus", "truck", "backpack", "handbag", "suitcase", "knife"]
[calibration]
image = [[0.1, 0.6], [0.9, 0.6], [0.95, 0.98], [0.05, 0.98]]
ground = [[0, 4], [4, 4], [4, 0], [0, 0]]
[[zones]]
name = "table"
polygon = [[0.40, 0.70], [0.78, 0.70], [0.78, 1.0], [0.40, 1.0]]
[[lines]]
name = "exit"
a = [0.75, 1.0]
b = [0.75, 0.4]
[[rules]]
type = "intrusion"
zone = "table"
[[rules]]
type = "wrong_way"
zone = "table"
direction = [-1, 0]
classes = ["person"]
[[rules]]
type = "abandoned_object"
foreground_blob = true
[[rules]]
type = "person_down"
[[rules]]
type = "crowd_density"
zone = "table"
[[rules]]
type = "crowd_movement"
[[rules]]
type = "crowd_movement"
method = "flow"
[[rules]]
type = "weapon"
[[rules]]
type = "fire"
[[rules]]
type = "fire"
smoke = true
[[rules]]
type = "camera_tamper"
"""


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("video", nargs="?", type=Path, default=VIDEO)
    ap.add_argument("--frames", type=int, default=300)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        cfg = parse(CONFIG.format(tmp=tmp, video=args.video.resolve()), Path(tmp) / "box.toml")
        det = make_detector(detector_config(cfg), ModelStore(cfg.models_dir))
        tracker = make_tracker(cfg)
        rules = build_rules(cfg)
        agg = StatsAggregator(cfg)
        cost = {"detector": 0.0, "tracker": 0.0, "stats": 0.0} | {f"rule {r.type}#{i}": 0.0
                                                                    for i, r in enumerate(rules)}
        n = 0
        for frame in VideoSource(SourceConfig(url=str(args.video), realtime=False)).frames():
            if n >= args.frames:
                break
            t0 = time.perf_counter()
            dets = det.detect(frame.image)
            t1 = time.perf_counter()
            tracks = tracker.update(dets, frame.ts)
            t2 = time.perf_counter()
            cost["detector"] += t1 - t0
            cost["tracker"] += t2 - t1
            for i, r in enumerate(rules):
                t = time.perf_counter()
                r.update(frame, tracks)
                cost[f"rule {r.type}#{i}"] += time.perf_counter() - t
            t = time.perf_counter()
            agg.update(frame, tracks)
            cost["stats"] += time.perf_counter() - t
            n += 1
    base = cost["detector"]
    print(f"{n} frames of {args.video.name}\n")
    print("| stage | ms/frame | vs detector |")
    print("|---|---:|---:|")
    for k, v in cost.items():
        print(f"| {k} | {v / n * 1000:.2f} | {v / base:.3f} |")
    rules_total = sum(v for k, v in cost.items() if k.startswith("rule"))
    print(f"| **all rules** | {rules_total / n * 1000:.2f} | {rules_total / base:.3f} |")


if __name__ == "__main__":
    main()
