"""``vigie models quantize``: INT8 YOLOX-nano for ONNX Runtime and OpenVINO.

NNCF post-training quantization of the ONNX model (opset upgraded to 13) gives a static QDQ
ONNX file for ONNX Runtime; the same quantized graph converted to an IR serves OpenVINO.
Both are calibrated on frames sampled from the videos given on the command line. The
detection head (the last 1x1 convolutions that predict boxes, objectness and classes, and
everything after them) stays in float: quantizing it costs accuracy for little speed. The
results go into the model store under ``derived/`` and are registered in the store's
``derived.toml`` with their sha256, so that :class:`edge.modelstore.ModelStore` serves them
like any pinned model.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from tqdm import tqdm

from edge.detect.yolox import letterbox
from edge.modelstore import ModelSpec, ModelStore, sha256_file

log = logging.getLogger(__name__)

HEAD_WEIGHTS = ("head.cls_preds.", "head.reg_preds.", "head.obj_preds.")
TARGET_OPSET = 13
DERIVED_DIR = "derived"


class QuantizeError(Exception):
    """Quantization could not run; the text says what is missing or wrong."""


@dataclass(frozen=True)
class Derived:
    """One quantized artefact registered in the store."""

    name: str
    backend: str
    files: tuple[Path, ...]
    sha256: str


def head_nodes(model: Any, depth: int = 0) -> list[str]:
    """Names of the YOLOX head's prediction convolutions, everything downstream of them, and
    (``depth`` > 0) the nodes feeding them up to ``depth`` more convolutions back (3 reaches
    the head's stems, so the whole decoupled head stays in float)."""
    graph = model.graph
    seeds = [n for n in graph.node if n.op_type == "Conv" and any(
        i.startswith(HEAD_WEIGHTS) for i in n.input[1:])]
    if not seeds:
        raise QuantizeError("no YOLOX head convolutions (head.*_preds.*) found in the model")
    tainted = {o for n in seeds for o in n.output}
    names = [n.name for n in seeds]
    for n in graph.node:  # nodes are topologically sorted in a valid ONNX graph
        if n.name not in names and any(i in tainted for i in n.input):
            names.append(n.name)
            tainted.update(n.output)
    producer = {o: n for n in graph.node for o in n.output}
    frontier = [(n, 0) for n in seeds]
    seen = set(names)
    while frontier:
        node, convs = frontier.pop()
        for i in node.input:
            up = producer.get(i)
            if up is None:
                continue
            c = convs + (up.op_type == "Conv")
            if c > depth or up.name in seen:
                continue
            seen.add(up.name)
            names.append(up.name)
            frontier.append((up, c))
    return names


def calibration_tensors(frames: Sequence[np.ndarray], size: int) -> list[np.ndarray]:
    """Letterboxed NCHW float tensors, as the detector feeds the model."""
    return [letterbox(f, size)[0] for f in frames]


def upgrade_opset(model: Any) -> Any:
    """The ONNX model at opset 13 or later (QDQ per-channel needs 13)."""
    from onnx import version_converter

    opset = next((o.version for o in model.opset_import if o.domain in ("", "ai.onnx")), 0)
    if opset >= TARGET_OPSET:
        return model
    log.info("upgrading the model from opset %d to %d", opset, TARGET_OPSET)
    return version_converter.convert_version(model, TARGET_OPSET)


def quantize_onnx(
    src: Path, dst: Path, tensors: Sequence[np.ndarray], keep_head_float: bool = True
) -> Path:
    """Static INT8 QDQ ONNX (runs on ONNX Runtime) calibrated with NNCF after an opset upgrade.

    NNCF rather than ``onnxruntime.quantization.quantize_static``: with MinMax calibration the
    latter's person AP50 swung between 0.89 and 0.98 with the number of calibration frames,
    NNCF's stayed at 0.996 (see the README's Detectors section)."""
    try:
        import nncf
        import onnx
    except ImportError as exc:
        raise QuantizeError(f"{exc.name} is missing: pip install 'vigie[quantize]'") from None

    model = upgrade_opset(onnx.load(str(src)))
    input_name = model.graph.input[0].name
    ignored = nncf.IgnoredScope(names=head_nodes(model), validate=False) if keep_head_float else None
    data = [{input_name: t} for t in tqdm(tensors, desc="calibration frames", unit="frame")]
    quantized = nncf.quantize(
        model, nncf.Dataset(data), subset_size=len(data), preset=nncf.QuantizationPreset.MIXED,
        ignored_scope=ignored,
    )
    dst.parent.mkdir(parents=True, exist_ok=True)
    onnx.save(quantized, str(dst))
    return dst


def onnx_to_ir(src: Path, dst_xml: Path) -> Path:
    """Convert a (quantized) ONNX model to an OpenVINO IR, keeping FP32 weights."""
    import openvino as ov

    dst_xml.parent.mkdir(parents=True, exist_ok=True)
    ov.save_model(ov.convert_model(str(src)), str(dst_xml), compress_to_fp16=False)
    return dst_xml


def quantize_yolox(
    store: ModelStore,
    videos: Sequence[Path],
    frames_per_video: int = 30,
    base: str = "yolox-nano",
    backends: Sequence[str] = ("onnxruntime", "openvino"),
    keep_head_float: bool = True,
) -> list[Derived]:
    """Build the INT8 models of ``base`` for ``backends`` and register them in the store."""
    from edge.tools.frames import sample_media

    spec = store.manifest.get(base)
    if spec.adapter != "yolox":
        raise QuantizeError(f"{base!r} is not a YOLOX model (adapter {spec.adapter!r})")
    src = store.path(base)
    frames = sample_media(list(videos), frames_per_video)
    size = _input_size(src)
    tensors = calibration_tensors(frames, size)
    log.info("calibrating on %d frames from %d source(s)", len(tensors), len(videos))
    out: list[Derived] = []
    calibration = f"{len(tensors)} frames from " + ", ".join(p.name for p in videos)
    for backend in backends:
        if backend not in ("onnxruntime", "openvino"):
            raise QuantizeError(f"no INT8 recipe for backend {backend!r} (onnxruntime, openvino)")
    with tqdm(total=1 + ("openvino" in backends), desc="quantize", unit="model") as bar:
        # The QDQ ONNX is always rebuilt and registered (the IR is converted from it, and an
        # unregistered rebuild would leave a stale sha256 pinned for it).
        qdq = quantize_onnx(src, store.root / DERIVED_DIR / f"{src.stem}-int8-qdq.onnx", tensors,
                            keep_head_float)
        out.append(register(store, f"{base}-int8-onnx", spec, (qdq,), calibration, "onnxruntime"))
        bar.update(1)
        if "openvino" in backends:
            dst = onnx_to_ir(qdq, store.root / DERIVED_DIR / f"{src.stem}-int8-ov.xml")
            out.append(register(store, f"{base}-int8-ov", spec, (dst, dst.with_suffix(".bin")),
                                calibration, "openvino"))
            bar.update(1)
    return out


def _input_size(path: Path) -> int:
    import onnx

    dims = onnx.load(str(path), load_external_data=False).graph.input[0].type.tensor_type.shape.dim
    return int(dims[2].dim_value)


def register(
    store: ModelStore, name: str, base: ModelSpec, files: Sequence[Path], calibration: str, backend: str
) -> Derived:
    """Add (or replace) ``name`` in the store's ``derived.toml`` and reload the manifest."""
    label_key = next((k for k, v in store.manifest.label_sets.items() if tuple(v) == base.labels), None)
    entries = [e for e in store.derived_entries() if e["name"] != name]
    entry: dict[str, Any] = {
        "name": name, "kind": base.kind, "adapter": base.adapter,
        "licence": base.licence, "upstream": f"derived from {base.name}",
        "derived_from": base.name, "precision": "int8", "backend": backend,
        "calibration": calibration,
        "files": [{"path": str(f.relative_to(store.root)), "sha256": sha256_file(f)} for f in files],
    }
    if label_key:
        entry["labels"] = label_key
    entries.append(entry)
    store.write_derived(entries)
    log.info("registered %s (%s) in %s", name, entry["files"][0]["sha256"][:12], store.root)
    return Derived(name, backend, tuple(files), entry["files"][0]["sha256"])
