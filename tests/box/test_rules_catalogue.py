"""Unit tests of every rule on synthetic track sequences: fires once, stays quiet below its
dwell or threshold, ends, and respects its cooldown."""

from __future__ import annotations

import math
from pathlib import Path

import cv2
import numpy as np
import pytest

from edge.calibration import GroundPlane
from edge.config import ZoneConfig
from edge.rules.abandoned_object import AbandonedObject
from edge.rules.camera_tamper import CameraTamper
from edge.rules.configs import (
    AbandonedObjectRule,
    CameraTamperRule,
    CrowdDensityRule,
    CrowdMovementRule,
    FireRule,
    IntrusionRule,
    PersonDownRule,
    WeaponRule,
    WrongWayRule,
)
from edge.rules.crowd_density import CrowdDensity
from edge.rules.crowd_movement import CrowdMovement
from edge.rules.fire import Fire
from edge.rules.intrusion import Intrusion
from edge.rules.person_down import PersonDown
from edge.rules.weapon import Weapon
from edge.rules.wrong_way import WrongWay
from tests.kits.rulekit import Timeline, nothing, track

FULL = ZoneConfig(name="all", polygon=[(0.0, 0.0), (1.0, 0.0), (1.0, 1.0), (0.0, 1.0)])
LEFT = ZoneConfig(name="left", polygon=[(0.0, 0.0), (0.5, 0.0), (0.5, 1.0), (0.0, 1.0)])


# -- intrusion (spine rule, same contract) ---------------------------------------------------
def test_intrusion_fires_once_ends_and_ignores_short_visits() -> None:
    rule = Intrusion(IntrusionRule(type="intrusion", zone="left", dwell_s=2, clear_s=3), LEFT)
    inside = lambda t: [track(1, "person", 0.25, 0.8)]  # noqa: E731
    tl = Timeline(rule).run([(1.5, inside), (4, nothing), (5, inside), (5, nothing)])
    assert len(tl.starts()) == 1 and tl.starts()[0] == pytest.approx(5.5 + 2.0, abs=0.11)
    assert len(tl.ends()) == 1 and tl.ends()[0] == pytest.approx(10.5 + 3.0, abs=0.11)


# -- wrong_way --------------------------------------------------------------------------------
def _walker(vx: float, tid: int = 1, x0: float = 0.8):
    return lambda t: [track(tid, "person", x0 + vx * t, 0.8)]


def test_wrong_way_fires_once_against_direction_only() -> None:
    cfg = WrongWayRule(type="wrong_way", zone="all", direction=(1.0, 0.0), min_distance=0.08,
                       clear_s=2, cooldown_s=10)
    tl = Timeline(WrongWay(cfg, FULL)).run([(3, _walker(-0.2)), (4, nothing)])
    assert len(tl.starts()) == 1, "walking right to left against direction [1, 0] must fire once"
    assert tl.events[0][1].measure["distance"] >= 0.08
    assert len(tl.ends()) == 1 and tl.ends()[0] > tl.starts()[0]
    allowed = Timeline(WrongWay(cfg, FULL)).run([(3, _walker(+0.2, x0=0.1)), (4, nothing)])
    assert allowed.events == [], "walking the allowed way must not fire"


def test_wrong_way_below_min_distance_is_quiet() -> None:
    cfg = WrongWayRule(type="wrong_way", zone="all", direction=(1.0, 0.0), min_distance=0.08, window_s=3)
    tl = Timeline(WrongWay(cfg, FULL)).run([(6, _walker(-0.02)), (4, nothing)])  # 0.06 per 3 s window
    assert tl.events == []


def test_wrong_way_cooldown() -> None:
    cfg = WrongWayRule(type="wrong_way", zone="all", direction=(1.0, 0.0), clear_s=1, cooldown_s=8)
    tl = Timeline(WrongWay(cfg, FULL)).run(
        [(2, _walker(-0.2, 1)), (1.5, nothing), (2, _walker(-0.2, 2)), (8, nothing), (2, _walker(-0.2, 3))]
    )
    starts = tl.starts()
    assert len(starts) == 2, f"second walker inside the cooldown must not fire; starts at {starts}"
    assert starts[1] > 13.0


# -- person_down --------------------------------------------------------------------------------
def _lying(t: float) -> list:
    return [track(1, "person", 0.5, 0.9, w=0.3, h=0.15)]  # 60x15 px box: lying


def _standing(t: float) -> list:
    return [track(1, "person", 0.5, 0.9, w=0.05, h=0.4)]


def test_person_down_fires_once_after_dwell_and_ends() -> None:
    cfg = PersonDownRule(type="person_down", posture="box", dwell_s=5, clear_s=2, cooldown_s=20)
    tl = Timeline(PersonDown(cfg, None)).run([(2, _standing), (8, _lying), (4, _standing)])
    assert len(tl.starts()) == 1 and tl.starts()[0] == pytest.approx(2 + 5, abs=0.11)
    assert len(tl.ends()) == 1 and tl.ends()[0] == pytest.approx(10 + 2, abs=0.11)
    assert tl.events[0][1].severity == "critical"


def test_person_down_below_dwell_or_moving_is_quiet() -> None:
    cfg = PersonDownRule(type="person_down", posture="box", dwell_s=5)
    short = Timeline(PersonDown(cfg, None)).run([(4, _lying), (5, _standing)])
    assert short.events == []
    crawling = lambda t: [track(1, "person", 0.2 + 0.05 * t, 0.9, w=0.3, h=0.15)]  # noqa: E731
    assert Timeline(PersonDown(cfg, None)).run([(10, crawling)]).events == []


def test_person_down_cooldown() -> None:
    cfg = PersonDownRule(type="person_down", posture="box", dwell_s=2, clear_s=1, cooldown_s=10)
    tl = Timeline(PersonDown(cfg, None)).run(
        [(3, _lying), (1.5, _standing), (3, _lying), (1.5, _standing), (8, nothing), (3, _lying)]
    )
    assert len(tl.starts()) == 2 and tl.starts()[1] > 3 + 1 + 10


# -- abandoned_object ----------------------------------------------------------------------------
def _bag(t: float) -> list:
    return [track(7, "suitcase", 0.3, 0.9, w=0.05, h=0.1)]


def _bag_and_owner(t: float) -> list:
    return [*_bag(t), track(8, "person", 0.35, 0.9)]


def test_abandoned_object_fires_once_when_left_alone() -> None:
    cfg = AbandonedObjectRule(type="abandoned_object", dwell_s=5, clear_s=2, cooldown_s=30)
    tl = Timeline(AbandonedObject(cfg, None)).run([(3, _bag_and_owner), (8, _bag), (4, nothing)])
    assert len(tl.starts()) == 1 and tl.starts()[0] == pytest.approx(3 + 5, abs=0.11)
    assert len(tl.ends()) == 1 and tl.ends()[0] == pytest.approx(11 + 2, abs=0.11)
    assert tl.events[0][1].objects[0].label == "suitcase"


def test_abandoned_object_quiet_with_owner_or_below_dwell() -> None:
    cfg = AbandonedObjectRule(type="abandoned_object", dwell_s=5)
    assert Timeline(AbandonedObject(cfg, None)).run([(20, _bag_and_owner)]).events == []
    assert Timeline(AbandonedObject(cfg, None)).run([(4, _bag), (3, _bag_and_owner), (4, _bag)]).events == []


def test_abandoned_object_cooldown() -> None:
    cfg = AbandonedObjectRule(type="abandoned_object", dwell_s=2, clear_s=1, cooldown_s=10)
    tl = Timeline(AbandonedObject(cfg, None)).run(
        [(3, _bag), (2, nothing), (3, _bag), (2, nothing), (8, nothing), (3, _bag)]
    )
    assert len(tl.starts()) == 2 and tl.starts()[1] > 18


def test_abandoned_object_static_blob() -> None:
    """Foreground blob mode: a grey box appears on a textured background and stays."""
    rng = np.random.default_rng(0)
    bg = cv2.GaussianBlur(rng.integers(0, 255, (100, 200, 3), dtype=np.uint8), (7, 7), 0)
    dumped = bg.copy()
    cv2.rectangle(dumped, (60, 50), (100, 90), (230, 230, 230), -1)

    def image(ts: float) -> np.ndarray:
        return dumped if ts >= 5.0 else bg

    cfg = AbandonedObjectRule(type="abandoned_object", classes=[], foreground_blob=True, dwell_s=4,
                              clear_s=2, require_owner=False)
    tl = Timeline(AbandonedObject(cfg, None), image=image).run([(20, nothing)])
    assert len(tl.starts()) == 1, tl.events
    assert 5 + 4 <= tl.starts()[0] <= 5 + 4 + 3
    box = tl.events[0][1].objects[0].box
    assert box[0] == pytest.approx(60, abs=8) and box[2] == pytest.approx(100, abs=8)
    # The same blob under a tracked object (a parked car) is not abandoned.
    car = lambda t: [track(3, "car", 0.4, 0.92, w=0.25, h=0.5)]  # noqa: E731
    assert Timeline(AbandonedObject(cfg, None), image=image).run([(20, car)]).events == []


# -- crowd_density -------------------------------------------------------------------------------
PLANE = GroundPlane.from_points([(0, 0), (1, 0), (1, 1), (0, 1)], [(0, 10), (10, 10), (10, 0), (0, 0)])
"""The whole frame is 10 m x 10 m; the left half is 50 m2."""


def _crowd(n: int):
    return lambda t: [track(i + 1, "person", 0.05 + 0.4 * i / max(n, 1), 0.5) for i in range(n)]


def test_crowd_density_fires_once_with_hysteresis() -> None:
    cfg = CrowdDensityRule(type="crowd_density", zone="left", max_density=0.1, hysteresis=0.2,
                           dwell_s=2, clear_s=2, cooldown_s=30)
    rule = CrowdDensity(cfg, LEFT, PLANE)
    assert rule.area_m2 == pytest.approx(50.0)
    # 6 persons / 50 m2 = 0.12 > 0.1 starts; 5 (0.10) stays above the end limit 0.08; 3 ends it.
    tl = Timeline(rule).run([(3, _crowd(6)), (5, _crowd(5)), (4, _crowd(3))])
    assert len(tl.starts()) == 1 and tl.starts()[0] == pytest.approx(2.0, abs=0.11)
    assert len(tl.ends()) == 1 and tl.ends()[0] == pytest.approx(8 + 2, abs=0.11)
    assert tl.events[-1][1].measure["density"] == pytest.approx(0.12)


def test_crowd_density_below_threshold_or_dwell_is_quiet() -> None:
    cfg = CrowdDensityRule(type="crowd_density", zone="left", max_density=0.1, dwell_s=2)
    assert Timeline(CrowdDensity(cfg, LEFT, PLANE)).run([(10, _crowd(4))]).events == []
    assert Timeline(CrowdDensity(cfg, LEFT, PLANE)).run([(1.5, _crowd(8)), (1, _crowd(2))] * 3).events == []


def test_crowd_density_cooldown() -> None:
    cfg = CrowdDensityRule(type="crowd_density", zone="left", max_density=0.1, dwell_s=1, clear_s=1,
                           cooldown_s=10)
    tl = Timeline(CrowdDensity(cfg, LEFT, PLANE)).run(
        [(2, _crowd(8)), (2, _crowd(1)), (2, _crowd(8)), (9, _crowd(1)), (2, _crowd(8))]
    )
    assert len(tl.starts()) == 2 and tl.starts()[1] > 15


# -- crowd_movement ------------------------------------------------------------------------------
def _lane(n: int, speed: float, t_offset: float = 0.0):
    """``n`` persons walking down in parallel lanes at ``speed`` (frame heights per second)."""
    def fn(t: float) -> list:
        phase = (speed * (t + t_offset)) % 1.4  # back and forth over 0.7 of the frame height
        y = 0.2 + (phase if phase < 0.7 else 1.4 - phase)
        return [track(i + 1, "person", 0.1 + 0.15 * i, y) for i in range(n)]
    return fn


def test_crowd_movement_fires_on_a_sudden_rush() -> None:
    cfg = CrowdMovementRule(type="crowd_movement", min_tracks=4, rise=3.0, min_speed=0.15,
                            warmup_s=5, dwell_s=0.5, clear_s=2, cooldown_s=30)
    slow, fast = _lane(5, 0.03), _lane(5, 0.2)
    tl = Timeline(CrowdMovement(cfg, None)).run([(15, slow), (3, fast), (6, slow)])
    assert len(tl.starts()) == 1, tl.events
    assert 15 < tl.starts()[0] < 17
    assert len(tl.ends()) == 1
    start = tl.events[0][1]
    assert start.measure["speed"] > 3 * start.measure["baseline"]


def test_crowd_movement_quiet_for_few_tracks_or_steady_speed() -> None:
    cfg = CrowdMovementRule(type="crowd_movement", min_tracks=4, warmup_s=5)
    assert Timeline(CrowdMovement(cfg, None)).run([(15, _lane(2, 0.03)), (4, _lane(2, 0.3))]).events == []
    assert Timeline(CrowdMovement(cfg, None)).run([(25, _lane(5, 0.25))]).events == [], \
        "a crowd that always moves fast is its own baseline"


def test_crowd_movement_cooldown() -> None:
    cfg = CrowdMovementRule(type="crowd_movement", min_tracks=4, warmup_s=5, dwell_s=0.5, clear_s=1,
                            cooldown_s=20)
    slow, fast = _lane(5, 0.03), _lane(5, 0.3)
    tl = Timeline(CrowdMovement(cfg, None)).run([(10, slow), (2, fast), (3, slow), (2, fast), (20, slow),
                                                (2, fast)])
    assert len(tl.starts()) == 2 and tl.starts()[1] > 35


def test_crowd_movement_optical_flow() -> None:
    """Flow mode on images: a texture that suddenly slides fast across the frame."""
    rng = np.random.default_rng(1)
    tex = cv2.GaussianBlur(rng.integers(0, 255, (100, 400, 3), dtype=np.uint8), (5, 5), 0)

    def image(ts: float) -> np.ndarray:
        shift = int(ts * 2) if ts < 12 else int(24 + (ts - 12) * 100)
        return np.ascontiguousarray(tex[:, shift % 200: shift % 200 + 200])

    cfg = CrowdMovementRule(type="crowd_movement", method="flow", rise=3.0, min_speed=1.0, warmup_s=5,
                            dwell_s=0.3, clear_s=1)
    tl = Timeline(CrowdMovement(cfg, None), image=image).run([(14, nothing)])
    assert len(tl.starts()) == 1, tl.events
    assert tl.starts()[0] >= 12


# -- weapon / fire (k of n) ------------------------------------------------------------------------
def _knife_every(k: int, n: int, label: str = "knife"):
    return lambda t: [track(5, label, 0.5, 0.5, w=0.05, h=0.05)] if round(t * 10) % n < k else []


def test_weapon_k_of_n_fires_once_and_ends() -> None:
    cfg = WeaponRule(type="weapon", k=3, n=5, clear_s=2, cooldown_s=30)
    tl = Timeline(Weapon(cfg, None)).run([(3, _knife_every(3, 5)), (4, nothing)])
    assert len(tl.starts()) == 1 and tl.starts()[0] <= 0.5
    assert len(tl.ends()) == 1
    assert tl.events[0][1].severity == "critical"


def test_weapon_below_k_or_score_is_quiet() -> None:
    cfg = WeaponRule(type="weapon", k=3, n=5)
    assert Timeline(Weapon(cfg, None)).run([(10, _knife_every(2, 5))]).events == []
    weak = lambda t: [track(5, "knife", 0.5, 0.5, score=0.2)]  # noqa: E731
    assert Timeline(Weapon(cfg, None)).run([(5, weak)]).events == []


def test_weapon_cooldown() -> None:
    cfg = WeaponRule(type="weapon", k=2, n=3, clear_s=1, cooldown_s=10)
    knife = _knife_every(3, 3)
    tl = Timeline(Weapon(cfg, None)).run([(1, knife), (2, nothing), (1, knife), (10, nothing), (1, knife)])
    assert len(tl.starts()) == 2 and tl.starts()[1] > 13


def test_fire_rule_uses_its_classes() -> None:
    cfg = FireRule(type="fire", source="model", k=3, n=5, clear_s=1)
    tl = Timeline(Fire(cfg, None)).run([(2, _knife_every(5, 5, "smoke")), (3, nothing)])
    assert [e.type for _, e in tl.events] == ["fire", "fire"]
    assert Timeline(Fire(cfg, None)).run([(3, _knife_every(5, 5, "knife"))]).events == []


# -- camera_tamper ---------------------------------------------------------------------------------
def _scene() -> np.ndarray:
    rng = np.random.default_rng(2)
    img = cv2.GaussianBlur(rng.integers(0, 255, (120, 200, 3), dtype=np.uint8), (3, 3), 0)
    for i in range(0, 200, 25):
        cv2.line(img, (i, 0), (i, 119), (255, 255, 255), 2)
    return img


def test_camera_tamper_covered_fires_once_and_ends(tmp_path: Path) -> None:
    scene, black = _scene(), np.zeros((120, 200, 3), np.uint8)
    cfg = CameraTamperRule(type="camera_tamper", learn_s=1, dwell_s=2, clear_s=2, cooldown_s=30)
    rule = CameraTamper(cfg, tmp_path)
    tl = Timeline(rule, image=lambda ts: black if 5 <= ts < 10 else scene).run([(15, nothing)])
    assert (tmp_path / "tamper-reference.png").is_file(), "the reference is kept on the box"
    assert len(tl.starts()) == 1 and tl.starts()[0] == pytest.approx(7.0, abs=0.11)
    assert tl.events[0][1].measure["covered"] == 1.0
    assert len(tl.ends()) == 1 and tl.ends()[0] == pytest.approx(12.0, abs=0.11)


def test_camera_tamper_short_glitch_and_cooldown(tmp_path: Path) -> None:
    scene, black = _scene(), np.zeros((120, 200, 3), np.uint8)
    cfg = CameraTamperRule(type="camera_tamper", learn_s=1, dwell_s=2, clear_s=1, cooldown_s=10)
    glitch = Timeline(CameraTamper(cfg, tmp_path / "a"),
                      image=lambda ts: black if 5 <= ts < 6.5 else scene).run([(10, nothing)])
    assert glitch.events == [], "1.5 s of black is below the 2 s dwell"
    blurred = cv2.GaussianBlur(scene, (21, 21), 0)

    def image(ts: float) -> np.ndarray:
        if 3 <= ts < 6 or 8 <= ts < 11:
            return black
        return blurred if ts >= 20 else scene

    tl = Timeline(CameraTamper(cfg, tmp_path / "b"), image=image).run([(25, nothing)])
    assert len(tl.starts()) == 2, tl.events  # black at 3 s; black at 8 s is within cooldown; blur at 20 s
    assert tl.starts()[1] == pytest.approx(22.0, abs=0.11)
    assert tl.events[-1][1].measure.get("defocused") == 1.0


def test_camera_tamper_reuses_stored_reference(tmp_path: Path) -> None:
    scene = _scene()
    cfg = CameraTamperRule(type="camera_tamper", learn_s=1, dwell_s=1, moved_s=1)
    Timeline(CameraTamper(cfg, tmp_path), image=lambda ts: scene).run([(2, nothing)])
    moved = np.roll(scene, 60, axis=1)
    tl = Timeline(CameraTamper(cfg, tmp_path), image=lambda ts: moved).run([(4, nothing)])
    assert len(tl.starts()) == 1 and tl.starts()[0] == pytest.approx(2.0, abs=0.11), \
        "no learning phase with a stored reference; a steady moved view fires after moved_s + dwell_s"
    assert tl.events[0][1].measure.get("moved") == 1.0
    assert math.isfinite(tl.events[0][1].measure["similarity"])
