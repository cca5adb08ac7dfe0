"""SSD-style OpenVINO IRs with a ``DetectionOutput`` layer (Intel person-vehicle-bike-2000)."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from pathlib import Path

import cv2
import numpy as np

from edge.detect import DetectorError
from edge.detect.labels import select_classes
from edge.detect.ov_common import compile_ov
from edge.records import Detection

log = logging.getLogger(__name__)


class OvSsd:
    """Input ``[1,3,H,W]`` BGR (plain resize), output ``[1,1,N,7]``
    (image_id, label, conf, x_min, y_min, x_max, y_max normalised)."""

    backend = "openvino"

    def __init__(
        self,
        path: Path,
        labels: Sequence[str],
        model_name: str,
        model_sha256: str,
        score_threshold: float = 0.35,
        classes: Sequence[str] | None = None,
        threads: int = 2,
        vocabulary: Sequence[str] = (),
    ):
        self.compiled, shape = compile_ov(path, threads)
        if len(shape) != 4 or shape[1] != 3:
            raise DetectorError(f"{path}: expected an NCHW BGR input, got {shape}")
        self.height, self.width = int(shape[2]), int(shape[3])
        out_shape = list(self.compiled.output(0).get_partial_shape().to_shape())
        if len(out_shape) != 4 or out_shape[-1] != 7:
            raise DetectorError(f"{path}: expected a [1,1,N,7] DetectionOutput, got {out_shape}")
        self.labels = tuple(labels)
        self.keep = select_classes(self.labels, classes, model_name, vocabulary)
        self.request = self.compiled.create_infer_request()
        self.model_name = model_name
        self.model_sha256 = model_sha256
        self.score_threshold = score_threshold

    def detect(self, image: np.ndarray) -> list[Detection]:
        """Detect objects in a BGR uint8 image; boxes in its pixels."""
        h, w = image.shape[:2]
        resized = cv2.resize(image, (self.width, self.height), interpolation=cv2.INTER_LINEAR)
        tensor = resized.transpose(2, 0, 1)[None].astype(np.float32)
        self.request.infer({0: tensor})
        rows = self.request.get_output_tensor(0).data.reshape(-1, 7)
        out: list[Detection] = []
        for image_id, label, conf, x1, y1, x2, y2 in rows:
            if image_id < 0:
                break
            cls = int(label)
            if conf < self.score_threshold or not 0 <= cls < len(self.labels):
                continue
            if self.keep is not None and cls not in self.keep:
                continue
            box = (
                float(np.clip(x1 * w, 0, w)), float(np.clip(y1 * h, 0, h)),
                float(np.clip(x2 * w, 0, w)), float(np.clip(y2 * h, 0, h)),
            )
            out.append(Detection(self.labels[cls], float(conf), box))
        out.sort(key=lambda d: -d.score)
        return out
