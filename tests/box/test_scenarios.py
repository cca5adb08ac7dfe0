"""Scenario tests on the real shared videos, with the real YOLOX-nano model.

Expected values were checked by looking at the frames (see the comments on each).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import pytest

from edge.capture import VideoSource
from edge.config import BoxConfig, SourceConfig
from edge.detect import make_detector
from edge.modelstore import ModelStore
from edge.records import Event, Frame, Track
from edge.rules import build_rules
from edge.rules.camera_tamper import CameraTamper
from edge.rules.configs import CameraTamperRule
from edge.stats import StatsAggregator
from edge.track import detector_config, make_tracker
from tests.kits import scenes

pytestmark = pytest.mark.slow


@dataclass(frozen=True)
class Step:
    frame: Frame
    tracks: list[Track]


def _detect_all(video: Path, store: ModelStore, cfg: BoxConfig) -> list[Step]:
    det = make_detector(detector_config(cfg), store)
    tracker = make_tracker(cfg)
    blank: np.ndarray | None = None
    steps = []
    for f in VideoSource(SourceConfig(url=str(video), realtime=False)).frames():
        blank = blank if blank is not None else np.zeros_like(f.image)
        tracks = tracker.update(det.detect(f.image), f.ts)
        steps.append(Step(Frame(f.index, f.ts, f.wall, blank), tracks))  # drop pixels: keep memory low
    return steps


def _box(tmp: Path, video: Path, **scene: Any) -> BoxConfig:
    return scenes.load_box(tmp / "box.toml", scenes.box_scene(
        video, camera="cam-1", data_dir=tmp, health_s=None, **scene))


PERSON_LAYOUT: dict[str, Any] = {"zones": [scenes.TABLE], "lines": [scenes.EXIT]}


@pytest.fixture(scope="module")
def person_steps(
    model_store: ModelStore, media: Path, tmp_path_factory: pytest.TempPathFactory
) -> list[Step]:
    video = media / "video/one-by-one-person-detection.mp4"
    cfg = _box(tmp_path_factory.mktemp("p"), video, **PERSON_LAYOUT)
    return _detect_all(video, model_store, cfg)


def test_line_crossing_count_one_by_one(person_steps: list[Step], tmp_path: Path, media: Path) -> None:
    """one-by-one-person-detection.mp4 (1394 frames, 10 fps): six people, one at a time, walk
    in from the bottom edge, stop at the standing table (x ~ 0.45-0.65) and leave through
    the right edge. Looking at frames 175/190, 425/445, 675/694, 845/863, 1175/1194 and
    1340/1356, each of the six crosses x = 0.75 left to right, and nobody comes back.
    The line a=(0.75, 1.0) -> b=(0.75, 0.4) points up, so left-to-right is ``forward``."""
    cfg = _box(tmp_path, media / scenes.PERSON_VIDEO, **PERSON_LAYOUT, stats={"interval_s": 60})
    agg = StatsAggregator(cfg)
    records = [r for s in person_steps if (r := agg.update(s.frame, s.tracks))]
    records.append(agg.flush(person_steps[-1].frame))  # type: ignore[arg-type]
    assert len(records) == 3, "139 s of video in 60 s intervals: 60 + 60 + 19 s"
    forward = sum(f for r in records for (_, _, f, _) in r.lines)
    backward = sum(b for r in records for (_, _, _, b) in r.lines)
    assert (forward, backward) == (6, 0)
    # Exactly one visitor at a time at the table: occupancy never above one person.
    person_max = [m for r in records for (z, c, m, _) in r.zones if c == "person"]
    assert max(person_max) == 1


def test_intrusion_fires_once_per_visitor_at_the_table(person_steps: list[Step], tmp_path: Path,
                                                      media: Path) -> None:
    """Each of the six visitors stands at the table for 10-25 s (frames ~100-180,
    ~300-430, ...). The shortest empty spell between two visitors is ~4 s (visitor 1 is
    gone by frame 194, visitor 2 appears at frame 230), so a 3 s clear time keeps the six
    visits apart while one visitor's detection flickers do not split a visit."""
    cfg = _box(tmp_path, media / scenes.PERSON_VIDEO, **PERSON_LAYOUT,
               rules=[scenes.intrusion(classes=None, dwell_s=2, clear_s=3)])
    rules = build_rules(cfg)
    events: list[Event] = []
    for s in person_steps:
        for r in rules:
            events += r.update(s.frame, s.tracks)
    starts = [e for e in events if e.state == "start"]
    assert len(starts) == 6, [round(e.started_wall - person_steps[0].frame.wall, 1) for e in starts]


def test_no_false_alarm_on_car_park(model_store: ModelStore, media: Path, tmp_path: Path) -> None:
    """car-detection.mp4 (377 frames, 12.5 fps): a top-down car park, cars driving
    through (frames ~50-140, ~200-240, ~330-377), nobody on foot and nothing left behind.
    A person-only zone over the whole frame and an abandoned-object rule (bags and static
    foreground blobs) must stay silent, and so must camera_tamper on this untouched clip."""
    video = media / "video/car-detection.mp4"
    lot = {"name": "lot", "polygon": [[0, 0], [1, 0], [1, 1], [0, 1]]}
    cfg = _box(tmp_path, video, zones=[lot],
               detector={"classes": ["person", "car", "bus", "truck", "backpack", "handbag",
                                     "suitcase"]},
               rules=[scenes.intrusion("lot", dwell_s=1),
                      {"type": "abandoned_object", "zone": "lot", "foreground_blob": True,
                       "dwell_s": 5},
                      {"type": "camera_tamper"}])
    det = make_detector(detector_config(cfg), model_store)
    tracker = make_tracker(cfg)
    rules = build_rules(cfg)
    events: list[Event] = []
    labels: set[str] = set()
    n = 0
    for f in VideoSource(cfg.source).frames():
        tracks = tracker.update(det.detect(f.image), f.ts)
        labels |= {t.label for t in tracks}
        for r in rules:
            events += r.update(f, tracks)
        n += 1
    assert n == 377
    assert "person" not in labels
    assert events == [], [(e.type, e.state, e.measure) for e in events]


def _tamper_run(video: Path, data_dir: Path, edit) -> list[tuple[int, Event]]:  # type: ignore[no-untyped-def]
    rule = CameraTamper(CameraTamperRule(type="camera_tamper", cooldown_s=2), data_dir)
    out = []
    for f in VideoSource(SourceConfig(url=str(video), realtime=False)).frames():
        img = edit(f.index, f.image)
        for ev in rule.update(Frame(f.index, f.ts, f.wall, img), []):
            out.append((f.index, ev))
    return out


def test_camera_tamper_blackout_and_blur_on_real_clip(media: Path, tmp_path: Path) -> None:
    """car-detection.mp4 at 12.5 fps; the reference is learnt over the first 3 s (38 frames).
    Frames 100-199 are blacked out (8 s, lens covered): one event starting 2 s (the dwell)
    after frame 100, i.e. at frame 125, ending 3 s (clear) after frame 199, at frame 237.
    Frames 260-359 are blurred (defocus): a second event at frame 285 once the blur has
    lasted its 2 s (the cooldown, set to 2 s here, ended at frame 262). Observed, and kept
    as a known limit: that event ends at frame 358, before the blur stops, because from
    frame ~321 a car drives in and its outline, even blurred, lifts the edge energy back
    over 35 % of this bare-asphalt reference's."""
    video = media / "video/car-detection.mp4"

    def edit(i: int, img: np.ndarray) -> np.ndarray:
        if 100 <= i < 200:
            return np.zeros_like(img)
        if 260 <= i < 360:
            return cv2.GaussianBlur(img, (31, 31), 0)
        return img

    events = _tamper_run(video, tmp_path, edit)
    assert [(i, e.state) for i, e in events] == [(125, "start"), (237, "end"), (285, "start"), (358, "end")]
    assert events[0][1].measure["covered"] == 1.0
    assert events[2][1].measure.get("defocused") == 1.0
