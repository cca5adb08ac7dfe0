"""The tracker in the ByteTrack manner and the rule timers that bridge short lapses."""

from __future__ import annotations

from pathlib import Path

import cv2

from edge.config import BoxConfig, SourceConfig, TrackerConfig, ZoneConfig
from edge.detect import make_detector
from edge.modelstore import ModelStore
from edge.records import Detection, Track
from edge.rules.common import Held
from edge.rules.configs import IntrusionRule, WrongWayRule
from edge.rules.intrusion import Intrusion
from edge.rules.wrong_way import WrongWay
from edge.track import ByteTracker, confident, detector_config, make_tracker
from tests.kits.rulekit import Timeline, nothing, track

LEGACY = TrackerConfig(low_score=0.35, class_groups=[], predict=False, max_gap_s=0.0)
"""What the former IoU tracker did: no weak detections, no class groups, no prediction."""


def _det(x: float, label: str = "car", score: float = 0.9) -> Detection:
    return Detection(label, score, (x, 100.0, x + 40.0, 140.0))


def _ids(frames: list[list[Track]]) -> set[int]:
    return {t.id for tracks in frames for t in tracks}


def _moving_with_miss(cfg: TrackerConfig) -> list[list[Track]]:
    """A box moving 20 px a frame (10 fps), not detected in frames 5, 6 and 7."""
    tr = ByteTracker(cfg)
    return [tr.update([] if i in (5, 6, 7) else [_det(10 + 20 * i)], i * 0.1) for i in range(14)]


def test_track_survives_three_missed_frames_of_a_moving_object() -> None:
    seen = _moving_with_miss(TrackerConfig())
    assert [len(s) for s in seen[5:8]] == [0, 0, 0]  # unmatched frames are not reported
    assert len(_ids(seen)) == 1 and all(seen[i] for i in range(8, 14))
    # Without prediction the box has moved 80 px (no overlap left): a new id.
    assert len(_ids(_moving_with_miss(LEGACY.model_copy(update={"max_missed": 10})))) == 2


def test_car_seen_as_truck_keeps_one_id_and_its_majority_label() -> None:
    tr = ByteTracker()
    labels = ["car"] * 5 + ["truck"] * 3 + ["car"] * 2
    seen = [tr.update([_det(10 + 5 * i, lab)], i * 0.1) for i, lab in enumerate(labels)]
    assert len(_ids(seen)) == 1
    assert {t.label for s in seen for t in s} == {"car"}
    legacy = ByteTracker(LEGACY)
    assert len(_ids([legacy.update([_det(10 + 5 * i, lab)], i * 0.1) for i, lab in enumerate(labels)])) == 2


def test_person_is_not_in_the_vehicle_group() -> None:
    tr = ByteTracker()
    seen = [tr.update([_det(10, "car" if i < 3 else "person")], i * 0.1) for i in range(6)]
    assert len(_ids(seen)) == 2


def test_weak_detection_never_starts_a_track_but_continues_one() -> None:
    tr = ByteTracker(score_threshold=0.35)
    for i in range(10):
        assert tr.update([_det(10, score=0.2)], i * 0.1) == []
    assert tr.active == 0
    strong = [tr.update([_det(10 + 2 * i)], 1 + i * 0.1) for i in range(3)]
    weak = [tr.update([_det(16 + 2 * i, score=0.2)], 1.3 + i * 0.1) for i in range(3)]
    assert len(_ids(strong + weak)) == 1 and all(weak)
    assert tr.update([_det(500, score=0.2)], 2.0) == [] and tr.active == 1  # far away: nothing new


def test_two_classes_over_one_vehicle_make_one_track() -> None:
    """Class-wise NMS keeps a ``bus`` and a ``car`` box over one vehicle."""
    tr = ByteTracker()
    seen = [tr.update([_det(10 + 3 * i, "bus"), _det(11 + 3 * i, "car", 0.5)], i * 0.1) for i in range(6)]
    assert len(_ids(seen)) == 1 and tr.active == 1


def test_track_ends_after_the_time_gap(tmp_path: Path) -> None:
    tr = ByteTracker(TrackerConfig(min_hits=1, max_missed=0, max_gap_s=1.0))
    first = tr.update([_det(10)], 0.0)[0].id
    tr.update([], 0.9)
    assert tr.active == 1
    tr.update([], 1.2)
    assert tr.active == 0 and [t.id for t in tr.ended] == [first]


def test_weak_detections_reach_the_tracker_only(model_store: ModelStore, media: Path, tmp_path: Path) -> None:
    """The real detector run at ``tracker.low_score`` gives weak boxes; only confident ones start tracks."""
    cfg = BoxConfig(site="s", camera="c", data_dir=tmp_path, source=SourceConfig(url="x.mp4"))
    assert detector_config(cfg).score_threshold == cfg.tracker.low_score < cfg.detector.score_threshold
    image = cv2.imread(str(media / "images" / "street_cars.png"))
    dets = make_detector(detector_config(cfg), model_store).detect(image)
    strong = confident(dets, cfg.detector.score_threshold)
    assert len(strong) < len(dets), "the street image has detections between 0.1 and 0.35"
    tracker = make_tracker(cfg)
    tracker.update(dets, 0.0)
    reported = tracker.update(dets, 0.1)
    # One track per confident box (a truck box over a car is that car), none from a weak one.
    assert 1 <= tracker.active <= len(strong) and len(reported) == tracker.active
    assert {t.box for t in reported} <= {d.box for d in strong}


ROOM = ZoneConfig(name="room", polygon=[(0.0, 0.0), (1.0, 0.0), (1.0, 1.0), (0.0, 1.0)])


def _person(_t: float) -> list[Track]:
    return [track(1, "person", 0.5, 0.8)]


def test_held_bridges_a_short_lapse_and_restarts_after_a_long_one() -> None:
    held = Held(gap_s=1.0)
    t = track(7, "person", 0.5, 0.8)
    held.update(0.0, [t])
    held.update(1.0, [t])
    assert held.update(1.8, []) == [t]  # unseen 0.8 s: still held
    held.update(2.0, [t])
    assert held.held_s(7) == 2.0
    held.update(2.5, [])
    held.update(3.5, [t])  # unseen for 1.5 s (the 2.5 s frame did not see it): a new run
    assert held.held_s(7) == 0.0
    held.update(4.5, [t])  # seen in consecutive frames, however far apart: one run
    assert held.held_s(7) == 1.0


def test_dwell_survives_a_gap_shorter_than_the_tolerance() -> None:
    rule = Intrusion(IntrusionRule(type="intrusion", zone="room", dwell_s=2.0, gap_s=1.0), ROOM)
    tl = Timeline(rule).run([(1.5, _person), (0.5, nothing), (1.0, _person)])
    assert tl.starts() == [2.0]  # the dwell counted from 0 s through the 0.5 s miss


def test_dwell_restarts_after_a_gap_longer_than_the_tolerance() -> None:
    rule = Intrusion(IntrusionRule(type="intrusion", zone="room", dwell_s=2.0, gap_s=1.0), ROOM)
    tl = Timeline(rule).run([(1.5, _person), (1.5, nothing), (2.5, _person)])
    assert len(tl.starts()) == 1 and abs(tl.starts()[0] - (3.0 + 2.0)) < 0.11


def _wrong_way_with_misses(gap_s: float) -> Timeline:
    """A car drives right to left (against ``[1, 0]``) for 8 s, missed every tenth frame."""
    cfg = WrongWayRule(type="wrong_way", zone="room", direction=(1.0, 0.0), clear_s=0.2, cooldown_s=0.0,
                       gap_s=gap_s, min_distance=0.05, window_s=1.0)

    def driving(t: float) -> list[Track]:
        return [] if round(t * 10) % 10 == 9 else [track(3, "car", 0.95 - 0.1 * t, 0.6)]

    return Timeline(WrongWay(cfg, ROOM)).run([(8.0, driving), (2.0, nothing)]).close()


def test_wrong_way_episode_stays_open_while_the_track_is_within_the_gap() -> None:
    tl = _wrong_way_with_misses(gap_s=1.0)
    assert len(tl.starts()) == 1 and len(tl.ends()) == 1
    assert tl.ends()[0] > 8.0  # not before the car has gone
    legacy = _wrong_way_with_misses(gap_s=0.0)
    assert len(legacy.starts()) > 1  # every miss ended the event and opened another
