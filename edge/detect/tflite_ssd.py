"""SSD with ``TFLite_Detection_PostProcess`` on a TFLite interpreter.

The interpreter comes from ``ai_edge_litert`` (the current LiteRT wheels, which work with
NumPy 2) or, on boards that only have it, ``tflite_runtime``.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from edge.detect import DetectorError
from edge.detect.labels import select_classes
from edge.records import Detection

log = logging.getLogger(__name__)


def interpreter_class() -> Any:
    """The TFLite ``Interpreter`` class of whichever runtime is installed."""
    try:
        from ai_edge_litert.interpreter import Interpreter
    except ImportError:
        try:
            from tflite_runtime.interpreter import Interpreter
        except ImportError:
            raise DetectorError(
                "no TFLite runtime: pip install ai-edge-litert (or tflite-runtime on ARM boards)"
            ) from None
    return Interpreter


class TfliteSsd:
    """Input ``[1,H,W,3]`` RGB uint8 (plain resize); outputs boxes (y1,x1,y2,x2 normalised),
    classes, scores, count. Label of class ``c`` is ``labels[c + 1]`` (TF label maps)."""

    backend = "tflite"

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
        interpreter = interpreter_class()
        try:
            self.interp = interpreter(model_path=str(path), num_threads=threads)
            self.interp.allocate_tensors()
        except Exception as exc:  # ValueError / RuntimeError from the C++ interpreter
            reason = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
            raise DetectorError(f"cannot load TFLite model {path}: {reason}") from None
        inp = self.interp.get_input_details()[0]
        shape = [int(v) for v in inp["shape"]]
        if len(shape) != 4 or shape[3] != 3 or inp["dtype"] != np.uint8:
            raise DetectorError(f"{path}: expected a [1,H,W,3] uint8 input, got {shape} {inp['dtype']}")
        self.input_index = inp["index"]
        self.height, self.width = shape[1], shape[2]
        outs = {d["name"]: d["index"] for d in self.interp.get_output_details()}
        base = "TFLite_Detection_PostProcess"
        try:
            self.out_idx = [outs[base], outs[base + ":1"], outs[base + ":2"], outs[base + ":3"]]
        except KeyError:
            raise DetectorError(f"{path}: no {base} outputs (got {sorted(outs)})") from None
        # Shift so that labels[c] is class c; "???" ids are unused and never reported.
        self.labels = tuple(labels[1:])
        self.keep = select_classes(self.labels, classes, model_name, vocabulary)
        self.model_name = model_name
        self.model_sha256 = model_sha256
        self.score_threshold = score_threshold

    def detect(self, image: np.ndarray) -> list[Detection]:
        """Detect objects in a BGR uint8 image; boxes in its pixels."""
        h, w = image.shape[:2]
        rgb = cv2.cvtColor(cv2.resize(image, (self.width, self.height)), cv2.COLOR_BGR2RGB)
        self.interp.set_tensor(self.input_index, rgb[None])
        self.interp.invoke()
        boxes, classes, scores, count = (self.interp.get_tensor(i) for i in self.out_idx)
        out: list[Detection] = []
        for i in range(int(count.reshape(-1)[0])):
            cls, score = int(classes[0, i]), float(scores[0, i])
            if score < self.score_threshold or not 0 <= cls < len(self.labels):
                continue
            if self.labels[cls] == "???" or (self.keep is not None and cls not in self.keep):
                continue
            y1, x1, y2, x2 = (float(v) for v in boxes[0, i])
            box = (
                min(max(x1 * w, 0.0), w), min(max(y1 * h, 0.0), h),
                min(max(x2 * w, 0.0), w), min(max(y2 * h, 0.0), h),
            )
            out.append(Detection(self.labels[cls], score, box))
        return out
