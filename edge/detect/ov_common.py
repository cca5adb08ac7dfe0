"""Loading a model into OpenVINO with errors that name the file instead of a C++ trace."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

from edge.detect import DetectorError

log = logging.getLogger(__name__)


def compile_ov(path: Path, threads: int) -> tuple[Any, list[int]]:
    """Read and compile ``path`` (ONNX or IR ``.xml``) for the CPU; return it and its input shape."""
    import openvino as ov

    if path.suffix == ".xml" and not path.with_suffix(".bin").is_file():
        raise DetectorError(f"cannot load OpenVINO IR {path}: weights {path.with_suffix('.bin')} missing")
    core = ov.Core()
    try:
        # convert_model, not read_model, for ONNX: read_model mis-runs NNCF's QDQ ONNX graphs
        # (objectness 0.11 instead of 0.99 on the same image, OpenVINO 2026.4).
        model = core.read_model(str(path)) if path.suffix == ".xml" else ov.convert_model(str(path))
        compiled = core.compile_model(
            model, "CPU", {"INFERENCE_NUM_THREADS": threads, "PERFORMANCE_HINT": "LATENCY"}
        )
    except Exception as exc:  # OpenVINO raises RuntimeError carrying a C++ location
        raise DetectorError(f"cannot load model {path} with OpenVINO: {_reason(exc)}") from None
    pshape = compiled.input(0).get_partial_shape()
    if pshape.is_dynamic:
        raise DetectorError(f"{path}: dynamic input shape {pshape} is not supported")
    return compiled, [int(d) for d in pshape.to_shape()]


def _reason(exc: Exception) -> str:
    """The useful line of an OpenVINO exception (it starts with C++ file locations)."""
    lines = [ln.strip() for ln in str(exc).splitlines() if ln.strip()]
    useful = [ln for ln in lines if not ln.startswith(("Exception from", "Check '"))]
    return (useful or lines or [type(exc).__name__])[-1][:300]
