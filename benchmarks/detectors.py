"""Detector benchmark: every model x backend x precision here (latency, throughput, CPU per
camera at 5 detections/s, AP50 against FP32 YOLOX-nano), then the CPU that motion gating saves.

    VIGIE_MODELS=/tmp/vstore .venv/bin/python benchmarks/detectors.py

Builds the INT8 models first (``vigie models quantize``, 30 calibration frames per video of
car-detection.mp4 and one-by-one-person-detection.mp4) when the store has none. Evaluation
frames are sampled with an offset (skip=1) so they differ from the calibration frames;
traffic_frames.mp4 and the still images are never used for calibration. Prints markdown.
"""

from __future__ import annotations

import argparse
import logging
import os
import platform
import sys
import time
from pathlib import Path

import cv2
import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from edge.config import DetectorConfig, MotionConfig  # noqa: E402
from edge.detect import make_detector  # noqa: E402
from edge.modelstore import ModelStore, default_mirror  # noqa: E402
from edge.motion import MotionGate  # noqa: E402
from edge.records import Frame  # noqa: E402
from edge.tools.detector_eval import evaluate_all, markdown_table  # noqa: E402
from edge.tools.quantize import quantize_yolox  # noqa: E402

MEDIA = ROOT.parent / "shared" / "media"
VIDEOS = MEDIA / "video"
CALIBRATION = [VIDEOS / "car-detection.mp4", VIDEOS / "one-by-one-person-detection.mp4"]


def read_video(path: Path) -> tuple[list[np.ndarray], float]:
    cap = cv2.VideoCapture(str(path))
    fps = cap.get(cv2.CAP_PROP_FPS)
    frames = []
    while True:
        ok, image = cap.read()
        if not ok:
            break
        frames.append(image)
    cap.release()
    return frames, fps


def gating_rows(store: ModelStore) -> list[str]:
    """Detector calls and CPU seconds over whole videos: every frame vs the motion gate."""
    det = make_detector(DetectorConfig(), store)
    rows = []
    for name in ("car-detection.mp4", "one-by-one-person-detection.mp4"):
        frames, fps = read_video(VIDEOS / name)
        variants: list[tuple[str, MotionConfig | None]] = [
            ("every frame (no gate)", None),
            ("motion test only (min_interval_s=0)", MotionConfig(min_interval_s=0)),
            ("default gate (motion, <=5 runs/s, 2 s refresh)", MotionConfig()),
        ]
        base_cpu = None
        for label, cfg in variants:
            cpu0, wall0 = time.process_time(), time.perf_counter()
            if cfg is None:
                for image in frames:
                    det.detect(image)
                calls = len(frames)
            else:
                gate = MotionGate(cfg)
                for i, image in enumerate(frames):
                    gate.detections(Frame(i, i / fps, 0.0, image), det.detect)
                calls = gate.runs
            cpu = time.process_time() - cpu0
            wall = time.perf_counter() - wall0
            base_cpu = base_cpu or cpu
            media_s = len(frames) / fps
            rows.append(
                f"| {name} | {label} | {len(frames)} | {calls} | {100 * (1 - calls / len(frames)):.0f}% "
                f"| {cpu:.1f} | {100 * cpu / media_s:.0f}% | {100 * (1 - cpu / base_cpu):.0f}% | {wall:.1f} |"
            )
    head = ("| video | detector runs on | frames | detector calls | calls cut | CPU s | CPU % of a core "
            "(real time) | CPU saved | wall s |")
    return [head, "|" + "---|" * 9, *rows]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--frames", type=int, default=20, help="evaluation frames per video")
    ap.add_argument("--runs", type=int, default=50, help="timed detections per pair")
    ap.add_argument("--calibration-frames", type=int, default=30, help="per video, if quantizing")
    ap.add_argument("--no-gating", action="store_true", help="skip the (slow) gating table")
    args = ap.parse_args()
    logging.basicConfig(level=logging.WARNING)
    store = ModelStore()
    store.fetch(mirror=default_mirror(), allow_download=False)
    if "yolox-nano-int8-onnx" not in store.manifest.models:
        quantize_yolox(store, CALIBRATION, args.calibration_frames)
    media = [*CALIBRATION, VIDEOS / "traffic_frames.mp4", *sorted((MEDIA / "images").glob("*"))]
    cpu = platform.processor() or platform.machine()
    cpuinfo = Path("/proc/cpuinfo")
    flags = cpuinfo.read_text() if cpuinfo.exists() else ""
    vnni = "yes" if "vnni" in flags else "no"
    print(f"CPU: {os.cpu_count()} logical cores ({cpu}), VNNI: {vnni}; load average "
          f"{os.getloadavg()[0]:.1f} at start; 2 threads per detector.\n")
    rows = evaluate_all(store, media, args.frames, args.runs, threads=2, skip=1)
    print(markdown_table(rows))
    if not args.no_gating:
        print()
        print("\n".join(gating_rows(store)))


if __name__ == "__main__":
    main()
