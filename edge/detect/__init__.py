"""Object detectors: one protocol, backends imported only when used.

Every backend returns :class:`edge.records.Detection` records in pixel coordinates of the
image it was given, with labels from one vocabulary (COCO names: person, car, ...).
"""

from __future__ import annotations

import logging
from typing import Protocol

import numpy as np

from edge.config import DetectorConfig
from edge.modelstore import ModelStore
from edge.records import Detection

log = logging.getLogger(__name__)


class DetectorError(Exception):
    """A model that cannot be loaded or run; the text names the file and the cause."""


class Detector(Protocol):
    """A loaded model on one runtime. ``detect`` takes a BGR uint8 image."""

    model_name: str
    model_sha256: str
    backend: str

    def detect(self, image: np.ndarray) -> list[Detection]: ...


def make_detector(cfg: DetectorConfig, store: ModelStore) -> Detector:
    """Load the configured model on the configured backend."""
    spec = store.manifest.get(cfg.model)
    path = store.path(cfg.model)
    if spec.adapter == "yolox" and cfg.backend == "onnxruntime":
        from edge.detect.onnx_yolox import OnnxYolox

        return OnnxYolox(
            path,
            labels=spec.labels,
            model_name=spec.name,
            model_sha256=spec.primary.sha256,
            score_threshold=cfg.score_threshold,
            nms_iou=cfg.nms_iou,
            classes=cfg.classes,
            threads=cfg.threads,
        )
    raise DetectorError(
        f"model {cfg.model!r} (adapter {spec.adapter!r}) has no {cfg.backend!r} backend"
    )
