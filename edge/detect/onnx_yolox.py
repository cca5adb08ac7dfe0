"""YOLOX on ONNX Runtime."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from edge.detect import DetectorError
from edge.detect.labels import select_classes
from edge.detect.yolox import decode, letterbox
from edge.records import Detection

log = logging.getLogger(__name__)


class OnnxYolox:
    """YOLOX (any input size) through ``onnxruntime`` on the CPU."""

    backend = "onnxruntime"

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
        import onnxruntime as ort

        opts = ort.SessionOptions()
        opts.intra_op_num_threads = threads
        opts.inter_op_num_threads = 1
        opts.log_severity_level = 3
        try:
            self.session = ort.InferenceSession(
                str(path), sess_options=opts, providers=["CPUExecutionProvider"]
            )
        except Exception as exc:  # onnxruntime raises its own exception classes
            raise DetectorError(f"cannot load ONNX model {path}: {str(exc).splitlines()[0]}") from None
        inp = self.session.get_inputs()[0]
        self.input_name = inp.name
        shape = inp.shape
        if len(shape) != 4 or not isinstance(shape[2], int) or shape[2] != shape[3]:
            raise DetectorError(f"{path}: expected a square NCHW input, got {shape}")
        self.size = int(shape[2])
        self.labels = tuple(labels)
        self.keep = select_classes(self.labels, classes, model_name, vocabulary)
        self.model_name = model_name
        self.model_sha256 = model_sha256
        self.score_threshold = score_threshold
        self.nms_iou = nms_iou

    def detect(self, image: np.ndarray) -> list[Detection]:
        """Detect objects in a BGR uint8 image; boxes in its pixels."""
        tensor, ratio = letterbox(image, self.size)
        raw = self.session.run(None, {self.input_name: tensor})[0]
        return decode(
            raw, self.size, ratio, self.labels, self.score_threshold, self.nms_iou, self.keep,
            (image.shape[1], image.shape[0]),
        )
