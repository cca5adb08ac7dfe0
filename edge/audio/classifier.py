"""YAMNet on the TFLite runtime: one 0.975 s window of 16 kHz audio -> gun-class scores."""

from __future__ import annotations

import csv
import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from edge.detect import DetectorError
from edge.modelstore import ModelStore

log = logging.getLogger(__name__)

SAMPLE_RATE = 16_000
WINDOW = 15_600
"""YAMNet's input: 0.975 s at 16 kHz."""

GUN_CLASSES: dict[int, str] = {
    420: "Explosion",
    421: "Gunshot, gunfire",
    422: "Machine gun",
    423: "Fusillade",
    424: "Artillery fire",
    425: "Cap gun",
    426: "Fireworks",
    427: "Firecracker",
    428: "Burst, pop",
    430: "Boom",
}
"""AudioSet classes a gunshot is labelled as (YAMNet often says "Explosion" for real shots)."""


class ClassifierError(DetectorError):
    """The audio model cannot be loaded or run; the text names the file and the cause."""


def load_interpreter(path: Path, threads: int) -> Any:
    """A TFLite interpreter from ``tflite-runtime`` if it works here, else ``ai-edge-litert``."""
    errors = []
    try:
        from ai_edge_litert.interpreter import Interpreter
    except ImportError as exc:
        errors.append(f"ai-edge-litert: {exc}")
        try:
            from tflite_runtime.interpreter import Interpreter
        except ImportError as exc2:
            errors.append(f"tflite-runtime: {exc2}")
            raise ClassifierError(
                "no TFLite runtime: install the 'audio' extra (pip install 'vigie[audio]'); "
                + "; ".join(errors)
            ) from None
    try:
        interp = Interpreter(model_path=str(path), num_threads=threads)
        interp.allocate_tensors()
    except (ValueError, RuntimeError, SystemError) as exc:
        raise ClassifierError(f"cannot load TFLite model {path}: {exc}") from None
    return interp


@dataclass(frozen=True)
class Scores:
    """The gun-related class scores of one window, in :data:`GUN_CLASSES` order."""

    gun: tuple[float, ...]
    top_class: int
    top_score: float


class Yamnet:
    """YAMNet on one CPU thread; :meth:`scores` runs one window."""

    model_name = "yamnet"

    def __init__(self, store: ModelStore, threads: int = 1):
        path = store.path("yamnet")
        self.model_sha256 = store.sha256("yamnet")
        self.class_names = read_class_map(path.parent / "yamnet_class_map.csv")
        self._interp = load_interpreter(path, threads)
        inp = self._interp.get_input_details()[0]
        if int(np.prod(inp["shape"])) != WINDOW:
            raise ClassifierError(f"{path}: expected a [{WINDOW}] waveform input, got {inp['shape']}")
        self._in = inp["index"]
        outs = self._interp.get_output_details()
        scores = [o for o in outs if int(o["shape"][-1]) == len(self.class_names)]
        if not scores:
            raise ClassifierError(f"{path}: no output with {len(self.class_names)} class scores")
        self._out = scores[0]["index"]
        self._in_shape = tuple(int(v) for v in inp["shape"])
        self._gun_idx = np.array(sorted(GUN_CLASSES))

    def scores(self, window: np.ndarray) -> Scores:
        """Class scores of one float32 window of :data:`WINDOW` samples in [-1, 1]."""
        if window.shape != (WINDOW,):
            raise ValueError(f"YAMNet takes {WINDOW} samples, got shape {window.shape}")
        x = np.ascontiguousarray(window, dtype=np.float32).reshape(self._in_shape)
        self._interp.set_tensor(self._in, x)
        self._interp.invoke()
        out = self._interp.get_tensor(self._out)
        s = np.asarray(out, dtype=np.float32).reshape(-1, len(self.class_names)).mean(axis=0)
        top = int(np.argmax(s))
        return Scores(tuple(float(v) for v in s[self._gun_idx]), top, float(s[top]))


def read_class_map(path: Path) -> tuple[str, ...]:
    """Display names from YAMNet's ``class_map.csv`` (index, mid, display_name)."""
    try:
        with path.open(newline="", encoding="utf-8") as f:
            rows = list(csv.DictReader(f))
    except OSError as exc:
        raise ClassifierError(f"cannot read YAMNet class map {path}: {exc.strerror}") from None
    names = tuple(r["display_name"] for r in sorted(rows, key=lambda r: int(r["index"])))
    if len(names) != 521:
        raise ClassifierError(f"{path}: expected 521 classes, found {len(names)}")
    return names
