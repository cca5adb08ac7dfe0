"""YOLOX on OpenVINO: the ONNX file itself or an IR (``.xml`` + ``.bin``, e.g. NNCF INT8)."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from edge.detect import DetectorError
from edge.detect.labels import select_classes
from edge.detect.ov_common import compile_ov
from edge.detect.yolox import decode, letterbox
from edge.records import Detection

log = logging.getLogger(__name__)


class OvYolox:
    """YOLOX through OpenVINO on the CPU; same pre/post-processing as ONNX Runtime."""

    backend = "openvino"

    def __init__(
        self,
        path: Path,
        labels: Sequence[str],
        model_name: str,
        model_sha256: str,
        score_threshold: float = 0.35,
        nms_iou: float = 0.45,
        classes: Sequence[str] | None = None,
        threads: int = 2,
        vocabulary: Sequence[str] = (),
    ):
        self.compiled, shape = compile_ov(path, threads)
        if len(shape) != 4 or shape[2] != shape[3]:
            raise DetectorError(f"{path}: expected a square NCHW input, got {shape}")
        self.size = int(shape[2])
        self.labels = tuple(labels)
        self.keep = select_classes(self.labels, classes, model_name, vocabulary)
        self.request = self.compiled.create_infer_request()
        self.model_name = model_name
        self.model_sha256 = model_sha256
        self.score_threshold = score_threshold
        self.nms_iou = nms_iou

    def detect(self, image: np.ndarray) -> list[Detection]:
        """Detect objects in a BGR uint8 image; boxes in its pixels."""
        tensor, ratio = letterbox(image, self.size)
        self.request.infer({0: tensor})
        raw = self.request.get_output_tensor(0).data
        return decode(
            raw, self.size, ratio, self.labels, self.score_threshold, self.nms_iou, self.keep,
            (image.shape[1], image.shape[0]),
        )
