"""Every detector x backend on real images, cross-backend agreement, INT8 accuracy, auto choice,
corrupt model files."""

from __future__ import annotations

import shutil
from pathlib import Path

import cv2
import pytest
from click.testing import CliRunner

from edge.cli import main
from edge.config import DetectorConfig
from edge.detect import DetectorError, backends_for, load_detector, make_detector
from edge.modelstore import DERIVED_NAME, ModelStore, ModelStoreError, sha256_file
from edge.records import Detection, iou
from edge.tools.detector_eval import ap50, evaluate_all, pairs
from tests.conftest import MEDIA, SHARED

VIDEOS = MEDIA / "video"
IMAGES = MEDIA / "images"
CALIBRATION = [VIDEOS / "car-detection.mp4", VIDEOS / "one-by-one-person-detection.mp4"]


@pytest.fixture(scope="session")
def int8_store(tmp_path_factory: pytest.TempPathFactory) -> ModelStore:
    """A store of its own with the shared detectors plus INT8 YOLOX built by the real CLI
    (4 calibration frames per video: small to stay fast)."""
    root = tmp_path_factory.mktemp("int8-store")
    ModelStore(root).fetch(mirror=SHARED / "models", allow_download=False)
    result = CliRunner().invoke(
        main, ["models", "quantize", "--store", str(root), "--frames", "4", *map(str, CALIBRATION)]
    )
    assert result.exit_code == 0, result.output
    assert "yolox-nano-int8-onnx" in result.output and "yolox-nano-int8-ov" in result.output
    return ModelStore(root)


def _all_pairs() -> list[tuple[str, str]]:
    # The manifest's detectors plus the two INT8 models the fixture builds.
    store = ModelStore(Path("/nonexistent-store"))
    out = [p for p in pairs(store)]
    out += [("yolox-nano-int8-onnx", "onnxruntime"), ("yolox-nano-int8-onnx", "openvino"),
            ("yolox-nano-int8-ov", "openvino")]
    return out


PAIRS = _all_pairs()
_loaded: dict[tuple[str, str], object] = {}


def detector(store: ModelStore, model: str, backend: str):  # type: ignore[no-untyped-def]
    key = (model, backend)
    if key not in _loaded:
        cfg = DetectorConfig(model=model, backend=backend)  # type: ignore[arg-type]
        _loaded[key] = make_detector(cfg, store)
    return _loaded[key]


def persons(dets: list[Detection]) -> list[Detection]:
    return [d for d in dets if d.label == "person"]


def test_pairs_cover_every_backend_and_shared_detector() -> None:
    assert {b for _, b in PAIRS} == {"onnxruntime", "openvino", "tflite"}
    models = {m for m, _ in PAIRS}
    assert {"yolox-nano", "ssd-mobilenet-v1-quant", "person-vehicle-bike-2000-fp16",
            "person-vehicle-bike-2000-int8", "yolox-nano-int8-onnx", "yolox-nano-int8-ov"} <= models


@pytest.mark.parametrize(("model", "backend"), PAIRS, ids=[f"{m}@{b}" for m, b in PAIRS])
def test_every_pair_finds_the_persons(int8_store: ModelStore, model: str, backend: str) -> None:
    det = detector(int8_store, model, backend)
    assert det.backend == backend and det.model_name == model
    two = cv2.imread(str(IMAGES / "two_people.png"))
    found = persons(det.detect(two))
    assert len(found) == 2, found
    h, w = two.shape[:2]
    for d in found:  # pixel boxes inside the image, each a standing person (taller than wide)
        x1, y1, x2, y2 = d.box
        assert 0 <= x1 < x2 <= w and 0 <= y1 < y2 <= h
        assert (y2 - y1) > 1.5 * (x2 - x1)
    # the two people stand side by side: one box on each half of the pair
    centres = sorted((d.box[0] + d.box[2]) / 2 for d in found)
    assert centres[1] - centres[0] > 60
    kite = cv2.imread(str(IMAGES / "kite_and_cold.jpg"))
    assert len(persons(det.detect(kite))) >= 2
    labels = {d.label for d in det.detect(kite)}
    assert labels <= {"person", "bicycle", "car", "motorcycle", "bus", "truck"}


SAME_MODEL = [m for m in {m for m, _ in PAIRS} if sum(1 for mm, _ in PAIRS if mm == m) > 1]


@pytest.mark.parametrize("model", sorted(SAME_MODEL))
@pytest.mark.parametrize("image", ["two_people.png", "kite_and_cold.jpg"])
def test_backends_agree_on_boxes(int8_store: ModelStore, model: str, image: str) -> None:
    backends = [b for m, b in PAIRS if m == model]
    assert len(backends) >= 2
    frame = cv2.imread(str(IMAGES / image))
    results = {b: persons(detector(int8_store, model, b).detect(frame)) for b in backends}
    ref_backend, *others = backends
    ref = results[ref_backend]
    assert ref
    for b in others:
        # the confident persons of each backend are found by the other with IoU >= 0.5
        for a_list, b_list in ((ref, results[b]), (results[b], ref)):
            for d in a_list:
                if d.score < 0.5:
                    continue
                best = max((iou(d.box, e.box) for e in b_list), default=0.0)
                assert best >= 0.5, (model, ref_backend, b, d, best)


def test_int8_keeps_ap50_person_on_held_out_frames(int8_store: ModelStore) -> None:
    # Calibration used frames 0, step, 2*step... of two videos; evaluation uses other frames of
    # those videos (skip=3), a video never seen in calibration, and the still images.
    media = [*CALIBRATION, VIDEOS / "traffic_frames.mp4", *sorted(IMAGES.glob("*"))]
    rows = evaluate_all(
        int8_store, media, per_video=6, runs=3, skip=3,
        only=[("yolox-nano", "onnxruntime"), ("yolox-nano-int8-onnx", "onnxruntime"),
              ("yolox-nano-int8-ov", "openvino")],
    )
    by = {(r.model, r.backend): r for r in rows}
    assert by[("yolox-nano", "onnxruntime")].ap50_person == pytest.approx(1.0)
    for key in (("yolox-nano-int8-onnx", "onnxruntime"), ("yolox-nano-int8-ov", "openvino")):
        assert by[key].ap50_person is not None and by[key].ap50_person >= 0.95, by[key]
        assert by[key].p50_ms > 0 and by[key].cpu_ms > 0


def test_ap50_scores_misses_and_false_alarms() -> None:
    ref = [[Detection("person", 0.9, (0, 0, 10, 20)), Detection("car", 0.9, (50, 50, 90, 80))]]
    assert ap50(ref, ref, "person") == pytest.approx(1.0)
    shifted = [[Detection("person", 0.9, (8, 0, 18, 20))]]  # IoU 0.11: a miss and a false alarm
    assert ap50(shifted, ref, "person") == pytest.approx(0.0)
    half = [[Detection("person", 0.9, (0, 0, 10, 20)), Detection("person", 0.95, (30, 30, 40, 50))]]
    assert ap50(half, ref, "person") == pytest.approx(0.5)
    assert ap50(ref, ref, "vehicle") == pytest.approx(1.0)
    assert ap50([[]], [[]], "person") is None


def test_derived_models_are_pinned_in_the_store(int8_store: ModelStore) -> None:
    text = (int8_store.root / DERIVED_NAME).read_text()
    for name in ("yolox-nano-int8-onnx", "yolox-nano-int8-ov"):
        spec = int8_store.manifest.get(name)
        assert spec.extra["derived_from"] == "yolox-nano" and spec.extra["precision"] == "int8"
        for mf in spec.files:
            assert sha256_file(int8_store.root / mf.path) == mf.sha256
            assert mf.sha256 in text
    # a fresh ModelStore on the same folder sees them (derived.toml is merged on load)
    assert "yolox-nano-int8-ov" in ModelStore(int8_store.root).manifest.models
    assert backends_for(int8_store.manifest.get("yolox-nano-int8-ov")) == ("openvino",)


def test_auto_times_backends_and_keeps_the_fastest(model_store: ModelStore) -> None:
    det = make_detector(DetectorConfig(backend="auto"), model_store)
    timings = det.timings_ms  # type: ignore[attr-defined]
    assert set(timings) == {"onnxruntime", "openvino"}
    assert all(t > 0 for t in timings.values())
    assert det.backend == min(timings, key=timings.get)
    # the only runtime of the TFLite model is chosen, with its timing
    ssd = make_detector(DetectorConfig(model="ssd-mobilenet-v1-quant", backend="auto"), model_store)
    assert ssd.backend == "tflite" and set(ssd.timings_ms) == {"tflite"}  # type: ignore[attr-defined]


def test_wrong_backend_for_a_model_is_a_clear_error(model_store: ModelStore) -> None:
    with pytest.raises(DetectorError, match="has no 'tflite' backend; it runs on: onnxruntime, openvino"):
        make_detector(DetectorConfig(backend="tflite"), model_store)
    with pytest.raises(DetectorError, match="not labels of model"):
        make_detector(DetectorConfig(model="ssd-mobilenet-v1-quant", backend="tflite",
                                     classes=["persn"]), model_store)


def test_pvb_labels_map_to_coco_names(model_store: ModelStore) -> None:
    spec = model_store.manifest.get("person-vehicle-bike-2000-fp16")
    assert spec.labels == ("car", "person", "bicycle")
    det = make_detector(DetectorConfig(model=spec.name, backend="openvino"), model_store)
    cars = cv2.imread(str(IMAGES / "street_cars.png"))
    assert any(d.label == "car" for d in det.detect(cars))


CORRUPTIBLE = [
    ("yolox-nano", "onnxruntime"),
    ("yolox-nano", "openvino"),
    ("person-vehicle-bike-2000-fp16", "openvino"),
    ("ssd-mobilenet-v1-quant", "tflite"),
]


@pytest.mark.parametrize(("model", "backend"), CORRUPTIBLE, ids=[f"{m}@{b}" for m, b in CORRUPTIBLE])
@pytest.mark.parametrize("damage", ["truncated", "garbage"])
def test_corrupt_model_file_names_the_file(
    model_store: ModelStore, tmp_path: Path, model: str, backend: str, damage: str
) -> None:
    spec = model_store.manifest.get(model)
    # copy the model's files into a store of our own, then damage the largest one
    store = ModelStore(tmp_path / "store", manifest=model_store.manifest)
    for mf in spec.files:
        dst = store.root / mf.path
        dst.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(model_store.root / mf.path, dst)
    victim = max((store.root / mf.path for mf in spec.files), key=lambda p: p.stat().st_size)
    data = victim.read_bytes()
    victim.write_bytes(data[: len(data) // 3] if damage == "truncated" else b"\x07not a model" * 500)
    cfg = DetectorConfig(model=model, backend=backend)  # type: ignore[arg-type]
    # through the store: the sha256 check refuses it, naming the file
    with pytest.raises(ModelStoreError, match=f"{victim}.*corrupt"):
        make_detector(cfg, store)
    # straight to the runtime (no hash check): a DetectorError naming the file, no native crash
    with pytest.raises(DetectorError) as info:
        load_detector(spec, backend, store.root / spec.primary.path, cfg, store)
    assert str(store.root / spec.primary.path) in str(info.value)
    assert "Traceback" not in str(info.value) and ".cpp" not in str(info.value)


def test_eval_cli_prints_a_markdown_table(int8_store: ModelStore) -> None:
    result = CliRunner().invoke(main, [
        "models", "eval", "--store", str(int8_store.root), "--frames", "1", "--runs", "3",
        str(IMAGES / "two_people.png"), str(IMAGES / "kite_and_cold.jpg"),
    ])
    assert result.exit_code == 0, result.output
    lines = [ln for ln in result.stdout.splitlines() if ln.startswith("|")]
    assert lines[0].startswith("| model | backend | precision | p50 ms"), lines
    assert len(lines) == 2 + len(PAIRS)
    assert any("| yolox-nano-int8-onnx | onnxruntime | int8 |" in ln for ln in lines)


def test_quantize_cli_rejects_a_bad_video(tmp_path: Path, model_store: ModelStore) -> None:
    bad = tmp_path / "not-a-video.mp4"
    bad.write_bytes(b"nope")
    result = CliRunner().invoke(main, ["models", "quantize", "--store", str(model_store.root), str(bad)])
    assert result.exit_code != 0
    assert f"cannot open video {bad}" in result.output or "no frame" in result.output
