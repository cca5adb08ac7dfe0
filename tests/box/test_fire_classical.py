"""The classical fire detector on scenes composed from real footage (tests/kits/composed.py):
a flickering, growing flame fires; a steady lit sign, a beacon blinking at 2 Hz and a headlight
reflection sliding along the ground do not; smoke fires when asked for.

The flame, smoke and distractors are painted on the shared videos' frames: real fire footage
is still needed to measure this detector (docs/reference/rules.md names datasets)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from edge.config import ZoneConfig
from edge.records import Event
from edge.rules.configs import FireRule
from edge.rules.fire import Fire
from edge.rules.flame import peak_share
from tests.kits import composed

PERSON = "video/one-by-one-person-detection.mp4"
CAR_PARK = "video/car-detection.mp4"
LEFT = ZoneConfig(name="left", polygon=[(0.0, 0.5), (0.4, 0.5), (0.4, 1.0), (0.0, 1.0)])
RIGHT = ZoneConfig(name="right", polygon=[(0.6, 0.0), (1.0, 0.0), (1.0, 1.0), (0.6, 1.0)])


def _run(video: Path, paint: composed.Painter | None, cfg: FireRule | None = None,
         zone: ZoneConfig | None = None, seconds: float = 10.0) -> list[tuple[float, Event]]:
    rule = Fire(cfg or FireRule(type="fire"), zone)
    out = []
    for f in composed.frames(video, seconds, paint):
        out += [(f.ts, e) for e in rule.update(f, [])]
    return out


def test_flickering_growing_flame_fires_once_where_it_burns(media: Path) -> None:
    events = _run(media / PERSON, composed.flame(150, 400))
    starts = [(t, e) for t, e in events if e.state == "start"]
    assert len(starts) == 1, [(t, e.state, e.measure) for t, e in events]
    t, ev = starts[0]
    assert t <= 4.0, "the window (2 s) and k of n frames: the event starts within 4 s"
    assert ev.type == "fire" and ev.severity == "critical" and ev.measure["flame"] >= 1
    x1, y1, x2, y2 = ev.objects[0].box
    assert x1 <= 150 <= x2 and y1 < 400 and y2 >= 380, ev.objects[0].box
    assert ev.measure["peak"] <= 0.6 and ev.measure["flicker"] >= 8


@pytest.mark.parametrize(("video", "paint"), [
    (PERSON, composed.lit_sign(600, 60)),
    (PERSON, composed.beacon(700, 150, hz=2.0)),
    (CAR_PARK, composed.reflection(380)),
], ids=["steady-lit-sign", "beacon-2hz", "headlight-reflection"])
def test_paris_2024_distractors_do_not_fire(media: Path, video: str, paint: composed.Painter) -> None:
    events = _run(media / video, paint, seconds=12.0)
    assert events == [], [(t, e.state, e.measure, e.objects[0].box) for t, e in events]


def test_flame_counts_only_in_its_zone(media: Path) -> None:
    flame = composed.flame(150, 400)
    assert any(e.state == "start" for _, e in _run(media / PERSON, flame, zone=LEFT))
    assert _run(media / PERSON, composed.flame(150, 400), zone=RIGHT) == []


def test_smoke_rising_and_growing_fires_when_enabled(media: Path) -> None:
    cfg = FireRule(type="fire", smoke=True)
    events = _run(media / PERSON, composed.smoke(150, 420), cfg=cfg, zone=LEFT)
    starts = [e for _, e in events if e.state == "start"]
    assert len(starts) == 1 and starts[0].measure["smoke"] >= 1, events
    assert _run(media / PERSON, composed.smoke(150, 420), zone=LEFT) == [], "smoke is off by default"


def test_peak_share_tells_a_beacon_from_flicker() -> None:
    """A 2 Hz on/off light sampled at 10 fps puts its power in one peak; irregular flicker spreads."""
    t = np.arange(20) / 10.0
    square = np.where((t * 2.0) % 1.0 < 0.5, 255.0, 60.0)[:, None] * np.ones((1, 30))
    noise = np.random.default_rng(0).normal(150, 25, (20, 30))
    assert peak_share(square) > 0.8
    assert peak_share(noise) < 0.6
    assert peak_share(np.full((20, 4), 200.0)) == 1.0, "no variation: no flicker to call broadband"
