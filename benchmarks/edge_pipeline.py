"""Edge pipeline speed on the sample video: processed fps, and whole-pipeline time per frame
against bare detector inference per frame (the overhead of decode, tracking, rules, outbox).

    .venv/bin/python benchmarks/edge_pipeline.py [--video PATH] [--frames N]

Runs the real Agent (YOLOX-nano on ONNX Runtime, IoU tracker, intrusion rule, SQLite outbox)
non-realtime, so frames are processed as fast as the CPU allows; no broker is needed (events
stay in the outbox). Prints a markdown table.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import numpy as np

from central.devtools.demo import DEMO_ZONE
from edge.config import BoxConfig
from edge.modelstore import ModelStore, default_mirror
from edge.pipeline import Agent

ROOT = Path(__file__).resolve().parent.parent
VIDEO = ROOT.parent / "shared" / "media" / "video" / "one-by-one-person-detection.mp4"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--video", type=Path, default=VIDEO)
    ap.add_argument("--frames", type=int, default=600)
    args = ap.parse_args()

    with tempfile.TemporaryDirectory() as tmp:
        store = ModelStore(Path(tmp) / "models")
        store.fetch(["yolox-nano"], mirror=default_mirror(), allow_download=False)
        cfg = BoxConfig.model_validate({
            "site": "bench", "camera": "cam-01", "data_dir": str(Path(tmp) / "data"),
            "source": {"url": str(args.video), "realtime": False},
            "zones": [{"name": "table", "polygon": DEMO_ZONE}],
            "rules": [{"type": "intrusion", "zone": "table", "dwell_s": 2}],
            "motion": {"enabled": False},  # every frame through the detector, as measured here
        })
        agent = Agent(cfg, store)
        # Interleave the two measurements frame by frame so that load from other processes
        # hits both alike: bare inference on the frame, then the whole pipeline step.
        pipe_s = bare_s = 0.0
        n = 0
        it = iter(agent.source.frames())
        first = None
        while n < args.frames:
            t0 = time.perf_counter()
            frame = next(it, None)
            if frame is None:
                break
            agent.process(frame)
            t_done = time.perf_counter()
            agent.detector.detect(frame.image)
            bare_s += time.perf_counter() - t_done
            pipe_s += t_done - t0
            first = first or frame
            n += 1
        pipeline_s, detect_s = pipe_s, bare_s
        inf = np.array(agent.stats.inference_ms)
        events = agent.outbox.depth()
        agent.outbox.close()
        assert first is not None
        frames = [first]

    print(f"\nEdge pipeline on {args.video.name} ({n} frames, {frames[0].width}x{frames[0].height}),"
          f" {agent.detector.model_name} on {agent.detector.backend}\n")
    print("| measure | value |")
    print("|---|---|")
    print(f"| processed fps (decode + detect + track + rules + outbox) | {n / pipeline_s:.1f} |")
    print(f"| whole pipeline, ms per frame | {pipeline_s / n * 1000:.2f} |")
    print(f"| bare detector inference, ms per frame | {detect_s / n * 1000:.2f} |")
    print(f"| ratio pipeline / bare inference | {pipeline_s / detect_s:.2f} |")
    print(f"| inference p50 / p95 inside the pipeline, ms | {np.percentile(inf, 50):.2f} / "
          f"{np.percentile(inf, 95):.2f} |")
    print(f"| event messages stored | {events} |")


if __name__ == "__main__":
    main()
