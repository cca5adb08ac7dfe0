"""Redaction models and encoder for the hub's subject-access export.

The hub depends on the box's code through the wire contract (:mod:`edge.wire`) and through
this package (:mod:`edge.privacy`) only: :mod:`central.privacy.subject_access` re-renders a
stored clip with the box's own primitives, imported from here:

- :class:`RedactionModels`: YOLOX-nano persons on ONNX Runtime and YuNet faces (OpenCV), built
  from a model store (``$VIGIE_MODELS`` by default) that holds both files and the manifest;
- :func:`obscure` and :func:`grow` (the box's face blur) and :class:`FaceFinder`;
- :func:`encode`, the box's WebM/VP8 encoder, and its :class:`ClipError`.

Installing the ``hub`` extra installs what this needs (onnxruntime, opencv-python-headless);
no other detector runtime (OpenVINO, LiteRT) and no audio stack.
"""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np

from edge.clips.encode import ClipError, ClipFile, encode
from edge.config import DetectorConfig
from edge.detect import Detector, make_detector
from edge.modelstore import ModelStore
from edge.privacy.faces import FaceFinder, grow, obscure
from edge.records import Box

__all__ = [
    "Box", "ClipError", "ClipFile", "FaceFinder", "RedactionModels", "encode", "grow", "obscure",
]

log = logging.getLogger(__name__)

PERSON_MODEL = "yolox-nano"
PERSON_SCORE = 0.05
"""A stored clip's heads are already obscured, which drops YOLOX's person scores to 0.05-0.2:
a low threshold errs on the side of blurring more."""
FACE_MODEL = "yunet"
FACE_THRESHOLD = 0.3
FACE_SCALE = 2.0
"""As on the box: YuNet at the frame's own size and upscaled twice."""


class RedactionModels:
    """The person detector (YOLOX-nano, ONNX Runtime) and face finder (YuNet) an export runs,
    with the sha256 of each model for the export's manifest."""

    def __init__(self, models_dir: Path | None = None):
        store = ModelStore(models_dir)
        self.detector: Detector = make_detector(
            DetectorConfig(model=PERSON_MODEL, backend="onnxruntime", classes=["person"],
                           score_threshold=PERSON_SCORE), store)
        self.faces = FaceFinder(store.path(FACE_MODEL), FACE_THRESHOLD, FACE_SCALE)
        self.models = {self.detector.model_name: self.detector.model_sha256,
                       FACE_MODEL: store.sha256(FACE_MODEL)}
        log.info("redaction models loaded from %s: %s", store.root, ", ".join(self.models))

    def persons(self, image: np.ndarray) -> list[Box]:
        """The person boxes (pixels of ``image``) YOLOX finds at ``PERSON_SCORE``."""
        return [d.box for d in self.detector.detect(image) if d.label == "person"]
