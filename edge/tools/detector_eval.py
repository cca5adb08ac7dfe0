"""``vigie models eval``: speed of every detector x backend here, and its agreement with the
FP32 YOLOX-nano reference (AP50 of person and vehicle boxes, the reference's boxes standing
in for ground truth)."""

from __future__ import annotations

import logging
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from tqdm import tqdm

from edge.config import DetectorConfig
from edge.detect import Detector, DetectorError, backends_for, load_detector
from edge.detect.labels import VEHICLES
from edge.modelstore import ModelStore
from edge.records import Detection, iou
from edge.tools.frames import sample_media

log = logging.getLogger(__name__)

REFERENCE = ("yolox-nano", "onnxruntime")
REFERENCE_SCORE = 0.35
"""Reference boxes: FP32 YOLOX-nano at the agent's default score threshold."""
CANDIDATE_SCORE = 0.05
"""Candidates are scored over their whole precision-recall curve, from this score up."""
GROUPS = ("person", "vehicle")


@dataclass(frozen=True)
class EvalRow:
    """One model on one backend: speed here and agreement with the reference."""

    model: str
    backend: str
    precision: str
    p50_ms: float
    p95_ms: float
    fps: float
    cpu_ms: float
    """CPU time (all threads) per detection."""
    ap50_person: float | None
    ap50_vehicle: float | None

    @property
    def cpu_percent_at_5hz(self) -> float:
        """Share of one core one camera needs at 5 detections per second."""
        return self.cpu_ms * 5 / 10


def group_of(label: str) -> str | None:
    if label == "person":
        return "person"
    return "vehicle" if label in VEHICLES else None


def ap50(candidates: Sequence[Sequence[Detection]], reference: Sequence[Sequence[Detection]],
         group: str) -> float | None:
    """VOC all-point AP at IoU 0.5 of ``candidates`` against ``reference`` boxes of one group,
    over all frames; None when the reference has no box of that group."""
    gt = [[d.box for d in ref if group_of(d.label) == group] for ref in reference]
    n_gt = sum(len(g) for g in gt)
    if n_gt == 0:
        return None
    preds = sorted(
        ((d.score, fi, d.box) for fi, dets in enumerate(candidates) for d in dets
         if group_of(d.label) == group),
        key=lambda p: -p[0],
    )
    used = [[False] * len(g) for g in gt]
    tp = np.zeros(len(preds))
    for k, (_score, fi, box) in enumerate(preds):
        best, best_j = 0.5, -1
        for j, g in enumerate(gt[fi]):
            o = iou(box, g)
            if o >= best and not used[fi][j]:
                best, best_j = o, j
        if best_j >= 0:
            used[fi][best_j] = True
            tp[k] = 1
    if not len(preds):
        return 0.0
    ctp = np.cumsum(tp)
    recall = ctp / n_gt
    precision = ctp / np.arange(1, len(preds) + 1)
    mrec = np.concatenate([[0.0], recall, [1.0]])
    mpre = np.concatenate([[1.0], precision, [0.0]])
    mpre = np.maximum.accumulate(mpre[::-1])[::-1]
    idx = np.where(mrec[1:] != mrec[:-1])[0]
    return float(np.sum((mrec[idx + 1] - mrec[idx]) * mpre[idx + 1]))


def pairs(store: ModelStore) -> list[tuple[str, str]]:
    """Every (detector model, backend) the store can run, reference first."""
    out = [REFERENCE]
    for spec in store.manifest.models.values():
        if spec.kind != "detector":
            continue
        for backend in backends_for(spec):
            if (spec.name, backend) != REFERENCE:
                out.append((spec.name, backend))
    return out


def run_all(det: Detector, frames: Sequence[np.ndarray]) -> list[list[Detection]]:
    return [det.detect(f) for f in frames]


def time_detector(
    det: Detector, frames: Sequence[np.ndarray], runs: int
) -> tuple[float, float, float, float]:
    """p50 and p95 latency (ms), single-stream throughput (frames/s), CPU ms per detection."""
    det.detect(frames[0])  # warm-up
    det.detect(frames[-1])
    lat = []
    cpu0, wall0 = time.process_time(), time.perf_counter()
    for i in range(runs):
        t0 = time.perf_counter()
        det.detect(frames[i % len(frames)])
        lat.append((time.perf_counter() - t0) * 1000)
    wall = time.perf_counter() - wall0
    cpu = time.process_time() - cpu0
    return (float(np.percentile(lat, 50)), float(np.percentile(lat, 95)), runs / wall,
            cpu * 1000 / runs)


def evaluate_all(store: ModelStore, media: Sequence[Path], per_video: int = 20, runs: int = 30,
                 threads: int = 2, only: Sequence[tuple[str, str]] | None = None,
                 skip: int = 0) -> list[EvalRow]:
    """Measure every pair (or ``only`` those) on frames sampled from ``media`` (offset by
    ``skip`` frames, to keep them apart from calibration frames sampled with no offset)."""
    frames = sample_media(list(media), per_video, skip)
    log.info("evaluating on %d frames", len(frames))
    todo = list(only) if only else pairs(store)
    if REFERENCE not in todo:
        todo.insert(0, REFERENCE)
    reference: list[list[Detection]] | None = None
    rows: list[EvalRow] = []
    for name, backend in tqdm(todo, desc="eval", unit="pair"):
        spec = store.manifest.get(name)
        cfg = DetectorConfig(model=name, backend=backend, threads=threads,
                             score_threshold=CANDIDATE_SCORE, classes=[])
        try:
            det = load_detector(spec, backend, store.path(name), cfg, store)
        except DetectorError as exc:
            log.warning("skipping %s on %s: %s", name, backend, exc)
            continue
        found = run_all(det, frames)
        if (name, backend) == REFERENCE:
            reference = [[d for d in dets if d.score >= REFERENCE_SCORE] for dets in found]
        assert reference is not None
        p50, p95, fps, cpu_ms = time_detector(det, frames, runs)
        rows.append(EvalRow(
            name, backend, str(spec.extra.get("precision", "?")), p50, p95, fps, cpu_ms,
            ap50(found, reference, "person"), ap50(found, reference, "vehicle"),
        ))
    return rows


def markdown_table(rows: Sequence[EvalRow]) -> str:
    """The rows as a markdown table."""
    def f(v: float | None, fmt: str = "{:.3f}") -> str:
        return "n/a" if v is None else fmt.format(v)

    head = ("| model | backend | precision | p50 ms | p95 ms | frames/s | CPU ms/det "
            "| CPU % of a core at 5 det/s | AP50 person | AP50 vehicle |")
    out = [head, "|" + "---|" * 10]
    for r in rows:
        out.append(
            f"| {r.model} | {r.backend} | {r.precision} | {r.p50_ms:.1f} | {r.p95_ms:.1f} | "
            f"{r.fps:.1f} | {r.cpu_ms:.1f} | {r.cpu_percent_at_5hz:.0f} | "
            f"{f(r.ap50_person)} | {f(r.ap50_vehicle)} |"
        )
    return "\n".join(out)
