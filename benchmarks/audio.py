"""Real-time factor of gunshot detection: CPU seconds per second of audio, gate on and off.

Runs the whole path a box runs (decode, resample to 16 kHz, ring buffer, impulse gate,
YAMNet on LiteRT with one thread, burst tracker) over the shared recordings and prints a
markdown table. Usage: ``python benchmarks/audio.py [--repeat N]``.
"""

from __future__ import annotations

import argparse
import logging
import time
from collections.abc import Callable
from functools import partial
from pathlib import Path

import numpy as np

from edge.audio.burst import BurstTracker
from edge.audio.classifier import SAMPLE_RATE, Yamnet
from edge.audio.detector import GunshotDetector
from edge.audio.listener import burst_params
from edge.audio.source import FileSource
from edge.config_wings import AudioConfig
from edge.modelstore import ModelStore, default_mirror

log = logging.getLogger(__name__)

MEDIA = Path(__file__).resolve().parent.parent.parent / "shared" / "media" / "audio"


def run(files: list[Path], yamnet: Yamnet, gate: float | None) -> tuple[float, float, int, int, float]:
    """(audio s, CPU s, windows, model runs, wall s) over ``files``."""
    cfg = AudioConfig()
    audio_s = 0.0
    windows = runs = 0
    cpu0, wall0 = time.process_time(), time.perf_counter()
    for path in files:
        src = FileSource(path)
        det = GunshotDetector(yamnet, gate_rise_db=gate)
        tracker = BurstTracker(burst_params(cfg))
        for block in src.blocks():
            for w in det.feed(block.samples, block.wall):
                tracker.update(w)
        tracker.close()
        audio_s += src.duration_s
        windows += det.windows
        runs += det.model_runs
    return audio_s, time.process_time() - cpu0, windows, runs, time.perf_counter() - wall0


def run_quiet(seconds: int, yamnet: Yamnet, gate: float | None) -> tuple[float, float, int, int, float]:
    """The same over ``seconds`` of seeded white noise at -50 dBFS fed in 0.1 s blocks (a quiet street)."""
    x = (0.00316 * np.random.default_rng(0).standard_normal(seconds * SAMPLE_RATE)).astype(np.float32)
    det = GunshotDetector(yamnet, gate_rise_db=gate)
    tracker = BurstTracker(burst_params(AudioConfig()))
    cpu0, wall0 = time.process_time(), time.perf_counter()
    step = SAMPLE_RATE // 10
    for i in range(0, len(x), step):
        for w in det.feed(x[i : i + step]):
            tracker.update(w)
    cpu, wall = time.process_time() - cpu0, time.perf_counter() - wall0
    return float(seconds), cpu, det.windows, det.model_runs, wall


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeat", type=int, default=3, help="Runs per row; the fastest is kept.")
    ap.add_argument("--store", type=Path, help="Model store (default $VIGIE_MODELS).")
    args = ap.parse_args()
    store = ModelStore(args.store)
    store.fetch(["yamnet"], mirror=default_mirror(), allow_download=False)
    yamnet = Yamnet(store, threads=1)
    sets: dict[str, Callable[[float | None], tuple[float, float, int, int, float]]] = {
        "162 gunshot recordings": partial(run, sorted((MEDIA / "gunshots").glob("*.wav")), yamnet),
        "5 speech/noise files": partial(run, sorted((MEDIA / "other").glob("*.wav")), yamnet),
        "quiet: 300 s noise at -50 dBFS": partial(run_quiet, 300, yamnet),
    }
    gate_db = AudioConfig().gate_rise_db
    print("| audio | seconds | gate | windows | YAMNet runs | CPU s | real-time factor |")
    print("|---|---|---|---|---|---|---|")
    for name, measure in sets.items():
        rtf = {}
        for gate in (None, gate_db):
            best = min((measure(gate) for _ in range(args.repeat)), key=lambda r: r[1])
            audio_s, cpu_s, windows, runs, _wall = best
            rtf[gate] = cpu_s / audio_s
            label = "off" if gate is None else f"{gate} dB"
            print(f"| {name} | {audio_s:.0f} | {label} | {windows} | {runs} | {cpu_s:.2f} | "
                  f"{cpu_s / audio_s:.4f} |")
        print(f"| {name}: gate on / gate off | | | | | | {rtf[gate_db] / rtf[None]:.2f} |")


if __name__ == "__main__":
    logging.basicConfig(level=logging.WARNING)
    main()
