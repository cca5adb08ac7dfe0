"""Object detectors: one protocol, backends imported only when used.

Every backend returns :class:`edge.records.Detection` records in pixel coordinates of the
image it was given, with labels from one vocabulary (COCO names: person, car, ...).

Backends: ``onnxruntime`` (YOLOX ONNX, FP32 or INT8 QDQ), ``openvino`` (YOLOX ONNX or IR,
SSD-style IRs such as person-vehicle-bike) and ``tflite`` (SSD with the TFLite post-process).
``auto`` measures the ones that can run the model and keeps the fastest (:mod:`edge.detect.auto`).
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Protocol

import numpy as np

from edge.config import DetectorConfig
from edge.modelstore import ModelSpec, ModelStore
from edge.records import Detection

log = logging.getLogger(__name__)

BACKENDS = ("onnxruntime", "openvino", "tflite")


class DetectorError(Exception):
    """A model that cannot be loaded or run; the text names the file and the cause."""


class Detector(Protocol):
    """A loaded model on one runtime. ``detect`` takes a BGR uint8 image."""

    model_name: str
    model_sha256: str
    backend: str

    def detect(self, image: np.ndarray) -> list[Detection]: ...


def backends_for(spec: ModelSpec) -> tuple[str, ...]:
    """The runtimes that can run a manifest model, by its adapter and file type."""
    if spec.adapter == "yolox":
        return ("openvino",) if spec.primary.path.endswith(".xml") else ("onnxruntime", "openvino")
    return {"openvino-ssd": ("openvino",), "tflite-ssd": ("tflite",)}.get(spec.adapter, ())


def make_detector(cfg: DetectorConfig, store: ModelStore) -> Detector:
    """Load the configured model on the configured backend (``auto``: the fastest one here)."""
    if cfg.backend == "auto":
        from edge.detect.auto import choose

        return choose(cfg, store)
    spec = store.manifest.get(cfg.model)
    return load_detector(spec, cfg.backend, store.path(cfg.model), cfg, store)


def load_detector(
    spec: ModelSpec, backend: str, path: Path, cfg: DetectorConfig, store: ModelStore
) -> Detector:
    """Load ``spec``'s file at ``path`` on ``backend`` (imports that runtime only now)."""
    if backend not in backends_for(spec):
        raise DetectorError(
            f"model {spec.name!r} (adapter {spec.adapter!r}) has no {backend!r} backend; "
            f"it runs on: {', '.join(backends_for(spec)) or 'nothing known'}"
        )
    vocabulary = store.manifest.label_sets.get("coco80", [])
    common = dict(
        labels=spec.labels, model_name=spec.name, model_sha256=spec.primary.sha256,
        score_threshold=cfg.score_threshold, classes=cfg.classes, threads=cfg.threads,
        vocabulary=vocabulary,
    )
    try:
        if spec.adapter == "yolox" and backend == "onnxruntime":
            from edge.detect.onnx_yolox import OnnxYolox

            return OnnxYolox(path, nms_iou=cfg.nms_iou, **common)  # type: ignore[arg-type]
        if spec.adapter == "yolox":
            from edge.detect.openvino_yolox import OvYolox

            return OvYolox(path, nms_iou=cfg.nms_iou, **common)  # type: ignore[arg-type]
        if spec.adapter == "openvino-ssd":
            from edge.detect.openvino_ssd import OvSsd

            return OvSsd(path, **common)  # type: ignore[arg-type]
        from edge.detect.labels import read_labelmap
        from edge.detect.tflite_ssd import TfliteSsd

        labels_file = spec.extra.get("labels_file")
        if not labels_file:
            raise DetectorError(f"model {spec.name!r}: the manifest gives no labels_file")
        common["labels"] = read_labelmap(str(store.root / labels_file))
        return TfliteSsd(path, **common)  # type: ignore[arg-type]
    except ImportError as exc:
        raise DetectorError(
            f"backend {backend!r} is not installed ({exc.name}); install the 'edge' extra"
        ) from None
