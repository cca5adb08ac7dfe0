"""YOLOX-nano on ONNX Runtime with real images, the IoU tracker, and the intrusion rule."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest

from edge.config import DetectorConfig, TrackerConfig, ZoneConfig
from edge.detect import DetectorError, make_detector
from edge.detect.onnx_yolox import OnnxYolox
from edge.detect.yolox import nms_per_class
from edge.modelstore import ModelStore
from edge.records import Detection, Frame, Track
from edge.rules.configs import IntrusionRule
from edge.rules.intrusion import Intrusion
from edge.track import IouTracker


def test_two_people_are_found(model_store: ModelStore, media: Path) -> None:
    det = make_detector(DetectorConfig(), model_store)
    image = cv2.imread(str(media / "images" / "two_people.png"))
    people = [d for d in det.detect(image) if d.label == "person"]
    assert len(people) == 2
    assert all(d.score > 0.6 for d in people)
    xs = sorted((d.box[0] + d.box[2]) / 2 for d in people)
    assert xs[0] < image.shape[1] / 2 < xs[1] + 60  # one left of the other, both in frame


def test_cars_on_street_and_class_filter(model_store: ModelStore, media: Path) -> None:
    image = cv2.imread(str(media / "images" / "street_cars.png"))
    cars = make_detector(DetectorConfig(classes=["car"]), model_store).detect(image)
    assert cars and {d.label for d in cars} == {"car"}
    people_only = make_detector(DetectorConfig(classes=["person"]), model_store).detect(image)
    assert all(d.label == "person" for d in people_only)


def test_corrupt_model_file_is_a_clear_error(tmp_path: Path, model_store: ModelStore) -> None:
    bad = tmp_path / "yolox_nano.onnx"
    bad.write_bytes(model_store.path("yolox-nano").read_bytes()[:5000])
    with pytest.raises(DetectorError, match=str(bad)):
        OnnxYolox(bad, labels=["person"], model_name="x", model_sha256="0" * 64)


def test_nms_keeps_best_per_class() -> None:
    boxes = np.array([[0, 0, 10, 10], [1, 1, 11, 11], [0, 0, 10, 10]], dtype=np.float32)
    scores = np.array([0.9, 0.8, 0.7], dtype=np.float32)
    classes = np.array([0, 0, 1])
    assert sorted(nms_per_class(boxes, scores, classes, 0.45)) == [0, 2]


def _det(x: float, label: str = "person") -> Detection:
    return Detection(label, 0.9, (x, 100.0, x + 40.0, 200.0))


def test_tracker_keeps_ids_through_motion_and_short_gaps() -> None:
    tr = IouTracker(TrackerConfig(min_hits=2, max_missed=3))
    seen: list[list[Track]] = []
    for i in range(10):
        dets = [] if i in (5, 6) else [_det(10 + 3 * i), _det(300 - 3 * i)]
        seen.append(tr.update(dets, i * 0.1))
    assert seen[0] == []  # not yet confirmed
    ids_before = {t.id for t in seen[4]}
    ids_after = {t.id for t in seen[9]}
    assert len(ids_before) == 2 and ids_before == ids_after


def test_tracker_forgets_after_max_missed() -> None:
    tr = IouTracker(TrackerConfig(min_hits=1, max_missed=2, max_gap_s=0.0))
    first = tr.update([_det(10)], 0.0)[0].id
    for i in range(3):
        tr.update([], 0.1 * (i + 1))
    assert tr.active == 0
    assert tr.update([_det(10)], 1.0)[0].id != first


ZONE = ZoneConfig(name="yard", polygon=[(0.0, 0.5), (0.5, 0.5), (0.5, 1.0), (0.0, 1.0)])


def _frame(i: float) -> Frame:
    return Frame(int(i * 10), i, 1_795_000_000 + i, np.zeros((100, 100, 3), np.uint8))


def _track(tid: int, x: float, y: float, label: str = "person") -> Track:
    return Track(tid, label, 0.9, (x - 5, y - 20, x + 5, y), 0.0, 0.0, 5, 0)


def _run(rule: Intrusion, timeline: list[tuple[float, list[Track]]]):  # type: ignore[no-untyped-def]
    out = []
    for t, tracks in timeline:
        out.extend(rule.update(_frame(t), tracks))
    return out


def test_intrusion_fires_once_per_situation_and_ends() -> None:
    rule = Intrusion(IntrusionRule(type="intrusion", zone="yard", dwell_s=2, clear_s=1), ZONE)
    inside = [_track(1, 20, 80)]
    timeline = [(t / 10, inside) for t in range(0, 50)]  # 5 s inside
    timeline += [(5.0 + t / 10, [_track(2, 25, 85)]) for t in range(0, 10)]  # someone else
    timeline += [(6.0 + t / 10, []) for t in range(0, 20)]  # empty for 2 s
    events = _run(rule, timeline)
    assert [e.state for e in events] == ["start", "end"]
    start, end = events
    assert start.id == end.id
    assert start.started_wall == pytest.approx(1_795_000_002.0)
    assert end.ended_wall is not None and end.ended_wall - start.started_wall == pytest.approx(5.0, abs=0.15)
    assert start.objects[0].label == "person" and start.zone == "yard"


def test_intrusion_quiet_below_dwell_outside_zone_or_other_class() -> None:
    rule = Intrusion(IntrusionRule(type="intrusion", zone="yard", dwell_s=2, clear_s=1), ZONE)
    short = [(t / 10, [_track(1, 20, 80)]) for t in range(0, 15)]  # 1.5 s < dwell
    outside = [(2 + t / 10, [_track(2, 80, 80)]) for t in range(0, 40)]
    car = [(6 + t / 10, [_track(3, 20, 80, "car")]) for t in range(0, 40)]
    assert _run(rule, short + outside + car) == []


def test_intrusion_new_situation_after_clear() -> None:
    rule = Intrusion(IntrusionRule(type="intrusion", zone="yard", dwell_s=1, clear_s=1), ZONE)
    visit = [(t / 10, [_track(1, 20, 80)]) for t in range(0, 20)]
    gap = [(2 + t / 10, []) for t in range(0, 20)]
    again = [(4 + t / 10, [_track(2, 20, 80)]) for t in range(0, 20)]
    events = _run(rule, visit + gap + again)
    assert [e.state for e in events] == ["start", "end", "start"]
    assert events[0].id != events[2].id
    closing = rule.close(_frame(6.0))
    assert [e.state for e in closing] == ["end"] and closing[0].id == events[2].id
