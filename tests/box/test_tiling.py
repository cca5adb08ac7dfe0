"""Detector tiling on real frames: tiles find a small far person the full-frame pass misses,
the merge keeps one box per object, the quarter-turn passes find a person lying at the frame's
bottom edge, and ``auto`` does not tile beyond its budget."""

from __future__ import annotations

from itertools import pairwise
from pathlib import Path

import pytest

from edge.config import BoxConfig, DetectorConfig, TilingConfig
from edge.detect import Detector, make_detector
from edge.detect.tiling import TiledDetector, make_box_detector, merge, tile_grid
from edge.modelstore import ModelStore
from edge.records import Detection, iou
from tests.kits import bodies

WHOLE = [(0.0, 0.0, 1.0, 1.0)]


@pytest.fixture(scope="module")
def yolox(model_store: ModelStore) -> Detector:
    return make_detector(DetectorConfig(), model_store)


def _persons(dets: list[Detection]) -> list[Detection]:
    return [d for d in dets if d.label == "person"]


def _best_iou(dets: list[Detection], box: tuple[float, float, float, float]) -> float:
    return max((iou(d.box, box) for d in _persons(dets)), default=0.0)


def test_tile_grid_covers_the_region_with_overlap() -> None:
    tiles = tile_grid((0, 0, 1352, 900), 416, 0.25)
    assert len(tiles) == 12 and all(t[2] - t[0] == 416 and t[3] - t[1] == 416 for t in tiles)
    xs = sorted({t[0] for t in tiles})
    assert xs[0] == 0 and max(t[2] for t in tiles) == 1352
    assert all(b - a <= 416 * 0.75 for a, b in pairwise(xs)), "neighbours overlap"
    assert tile_grid((0, 0, 768, 432), 416, 0.25)[0][3] == 432, "432 rows are one tile, not two"


def test_tiles_find_a_small_far_person_the_full_frame_misses(yolox: Detector, media: Path) -> None:
    scene = bodies.small_person(yolox, media, height=24, at=(900, 600))
    assert _best_iou(yolox.detect(scene.image), scene.box) < 0.5, "precondition: full frame misses it"
    tiled = TiledDetector(yolox, TilingConfig(mode="on"), WHOLE, [], 0.45)
    assert _best_iou(tiled.detect(scene.image), scene.box) >= 0.5


def test_merge_keeps_one_box_per_object(yolox: Detector, media: Path) -> None:
    """A 366-px visitor crosses the inner edges of the three tiles of a 768x432 frame: every
    tile sees a piece of them, and the merge keeps a single person box."""
    frame = bodies.video_frame(media, bodies.STANDING_FRAME)
    tiled = TiledDetector(yolox, TilingConfig(mode="on"), WHOLE, [], 0.45)
    assert len(tiled.plan(768, 432).tiles) == 3
    persons = _persons(tiled.detect(frame))
    assert len(persons) == 1, [d.box for d in persons]
    assert iou(persons[0].box, bodies.person_box(yolox, frame)) > 0.8


def test_merge_drops_duplicates_and_cut_fragments() -> None:
    whole = Detection("person", 0.9, (100.0, 50.0, 200.0, 400.0))
    same = Detection("person", 0.8, (102.0, 52.0, 198.0, 398.0))
    fragment = Detection("person", 0.7, (100.0, 50.0, 200.0, 300.0))  # cut by a tile's bottom edge
    other = Detection("car", 0.6, (100.0, 50.0, 200.0, 300.0))
    kept = merge([([whole], None), ([same, fragment, other], (0, 0, 416, 300))], 0.45, (768, 432))
    assert kept == [whole, other]


def test_quarter_turns_find_a_person_lying_at_the_bottom_edge(yolox: Detector, media: Path) -> None:
    """The full-frame pass misses a person lying across the bottom edge: not the letterbox (the
    padding is below the image either way) but the pose, which a detector trained mostly on
    upright people rarely sees; turned a quarter turn the body stands and is found."""
    scene = bodies.lying_at_bottom(yolox, media)
    assert _best_iou(yolox.detect(scene.image), scene.box) < 0.5, "precondition: full frame misses it"
    turned = TiledDetector(yolox, TilingConfig(), [], WHOLE, 0.45)
    assert _best_iou(turned.detect(scene.image), scene.box) >= 0.7


def _box_cfg(tmp_path: Path, tiling: dict, rules: list[dict]) -> BoxConfig:
    return BoxConfig.model_validate({
        "site": "s", "camera": "c", "data_dir": str(tmp_path), "source": {"url": "x.mp4"},
        "detector": {"tiling": tiling},
        "zones": [{"name": "gate", "polygon": [[0.5, 0.5], [1, 0.5], [1, 1], [0.5, 1]]}],
        "rules": rules,
    })


def test_auto_with_a_tiny_budget_does_not_tile(tmp_path: Path, model_store: ModelStore) -> None:
    rules = [{"type": "intrusion", "zone": "gate"}]
    tiny = make_box_detector(_box_cfg(tmp_path, {"mode": "auto", "budget_ms": 1}, rules), model_store)
    assert isinstance(tiny, TiledDetector) and tiny.pass_ms is not None and tiny.pass_ms > 1
    assert tiny.plan(1352, 900).tiles == ()
    roomy = make_box_detector(_box_cfg(tmp_path, {"mode": "auto", "budget_ms": 60000}, rules),
                              model_store)
    tiles = roomy.plan(1352, 900).tiles  # type: ignore[attr-defined]
    assert tiles and all(t[0] >= 676 - 104 and t[1] >= 450 - 104 for t in tiles), \
        "tiles cover the watched zone (grown by the overlap), not the whole frame"


def test_person_down_turns_on_quarter_turns_only_over_its_zone(tmp_path: Path,
                                                               model_store: ModelStore) -> None:
    plain = make_box_detector(_box_cfg(tmp_path, {}, [{"type": "intrusion", "zone": "gate"}]),
                              model_store)
    assert not isinstance(plain, TiledDetector), "no tiling, no person_down: the plain detector"
    down = make_box_detector(_box_cfg(tmp_path, {}, [{"type": "person_down", "zone": "gate"}]),
                             model_store)
    assert isinstance(down, TiledDetector)
    plan = down.plan(1352, 900)
    assert plan.tiles == () and len(plan.lying) == 1 and plan.lying[0][0] >= 676 - 104


def test_tiling_zone_must_exist(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match=r"detector\.tiling\.zones names zone 'nowhere'"):
        _box_cfg(tmp_path, {"mode": "on", "zones": ["nowhere"]}, [])
