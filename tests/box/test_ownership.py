"""Static objects with ownership (abandoned_object's main path) on synthetic frames: who brought
an object, when it is unattended, what becomes background, how big an object must be."""

from __future__ import annotations

import cv2
import numpy as np

from edge.calibration import GroundPlane
from edge.rules.abandoned_object import AbandonedObject
from edge.rules.configs import AbandonedObjectRule
from tests.kits.rulekit import H, Timeline, W, nothing, track

_rng = np.random.default_rng(5)
BG = cv2.GaussianBlur(_rng.integers(0, 255, (H, W, 3), dtype=np.uint8), (7, 7), 0)
WITH_OBJECT = BG.copy()
cv2.rectangle(WITH_OBJECT, (100, 58), (112, 70), (235, 235, 235), -1)
"""A 12 x 12 px object whose foot point is at (0.53, 0.70)."""


def _object_from(t0: float):  # type: ignore[no-untyped-def]
    return lambda ts: WITH_OBJECT if ts >= t0 else BG


def _owner(t: float) -> list:
    return [track(8, "person", 0.6, 0.72, w=0.05, h=0.3)]


def _cfg(**kw: object) -> AbandonedObjectRule:
    base = {"type": "abandoned_object", "classes": [], "static_s": 3.0, "dwell_s": 5.0, "clear_s": 2.0}
    return AbandonedObjectRule(**(base | kw))  # type: ignore[arg-type]


def test_fires_once_when_the_owner_has_been_away_for_dwell() -> None:
    tl = Timeline(AbandonedObject(_cfg(), None), image=_object_from(2.0))
    tl.run([(12, _owner), (10, nothing)])
    assert len(tl.starts()) == 1 and 12 + 5 <= tl.starts()[0] <= 12 + 5 + 0.3, tl.starts()
    box = tl.events[0][1].objects[0].box
    assert abs(box[0] - 100) <= 4 and abs(box[2] - 113) <= 4, box


def test_quiet_while_the_owner_stays_or_comes_back() -> None:
    tl = Timeline(AbandonedObject(_cfg(), None), image=_object_from(2.0))
    assert tl.run([(12, _owner), (3, nothing), (5, _owner), (3, nothing)]).events == []


def test_a_stranger_does_not_attend_it() -> None:
    stranger = lambda t: [track(9, "person", 0.45, 0.72, w=0.05, h=0.3)]  # noqa: E731
    tl = Timeline(AbandonedObject(_cfg(), None), image=_object_from(2.0))
    tl.run([(12, _owner), (10, stranger)])
    assert len(tl.starts()) == 1 and tl.starts()[0] <= 12 + 5 + 0.3


def test_an_object_nobody_brought_is_learned_as_background() -> None:
    rule = AbandonedObject(_cfg(learn_s=8.0), None)
    tl = Timeline(rule, image=_object_from(2.0)).run([(14, nothing)])
    assert tl.events == [] and rule.owners.objects == [], "absorbed after 2 + 8 s"
    tl.run([(3, _owner), (10, nothing)])
    assert tl.events == [], "a passer-by later does not make the background an abandoned object"


def test_a_still_person_is_not_an_object() -> None:
    """The changed region is covered by a person track: it is that person, standing still."""
    person = lambda t: [track(3, "person", 0.53, 0.72, w=0.12, h=0.3)]  # noqa: E731
    tl = Timeline(AbandonedObject(_cfg(), None), image=_object_from(2.0)).run([(20, person)])
    assert tl.events == []


def test_minimum_size_in_square_metres_with_calibration() -> None:
    """The frame is 10 m x 5 m of ground: 0.05 m a pixel, the 12 x 12 px object is 0.36 m2."""
    plane = GroundPlane.from_points([(0, 0), (1, 0), (1, 1), (0, 1)], [(0, 5), (10, 5), (10, 0), (0, 0)])
    phases = [(12, _owner), (10, nothing)]
    small_enough = Timeline(AbandonedObject(_cfg(min_object_m2=0.1), None, plane), image=_object_from(2.0))
    assert len(small_enough.run(phases).starts()) == 1
    too_small = Timeline(AbandonedObject(_cfg(min_object_m2=1.0), None, plane), image=_object_from(2.0))
    assert too_small.run(phases).events == []
    # Owner distance in metres: 3 m by default; an owner 2 m away (0.2 of 10 m) still attends it.
    near = lambda t: [track(8, "person", 0.73, 0.72, w=0.05, h=0.3)]  # noqa: E731
    tl = Timeline(AbandonedObject(_cfg(), None, plane), image=_object_from(2.0))
    assert tl.run([(2.5, _owner), (20, near)]).events == []
