"""Vehicle colour: the classifier on synthetic cars and on crops labelled by
eye from ../shared/media (cut at test time), bad inputs, and `vigie index eval-colour`."""

from __future__ import annotations

import collections
import re
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

from edge.cli import main
from edge.search.colour import (
    DEFAULT_PARAMS,
    MIN_SIDE,
    PALETTE,
    VEHICLE_CLASSES,
    ColourError,
    ColourResult,
    crop_colour,
    dominant_colour,
)
from edge.tools.colour_eval import (
    DEFAULT_LABELS,
    GRID,
    ColourEvalError,
    Evaluation,
    LabelledCrop,
    cut_crops,
    load_labels,
    predict,
    prediction_table,
)

ROAD = (92, 90, 88)


def synthetic_car(
    body_bgr: tuple[int, int, int], seed: int = 0
) -> tuple[np.ndarray, tuple[int, int, int, int]]:
    """A 240x160 side view of a car on asphalt: painted body with a shaded lower half and a
    highlight, dark windows and tyres, a little sensor noise. Returns the frame and the box."""
    rng = np.random.default_rng(seed)
    frame = np.empty((240, 320, 3), np.float32)
    frame[:] = ROAD
    body = np.array(body_bgr, np.float32)
    x1, y1, x2, y2 = 40, 60, 280, 200
    frame[y1 + 35:y2 - 20, x1:x2] = body                                 # body
    frame[y1 + 95:y2 - 20, x1:x2] = body * 0.85                          # shaded sill
    frame[y1 + 40:y1 + 48, x1 + 30:x2 - 30] = np.minimum(body * 1.15 + 20, 255)  # highlight
    frame[y1 + 5:y1 + 35, x1 + 50:x2 - 50] = body                        # roof pillars
    frame[y1 + 10:y1 + 32, x1 + 60:x2 - 60] = (40, 38, 36)               # windows
    for cx in (x1 + 50, x2 - 50):                                        # tyres
        frame[y2 - 30:y2, cx - 22:cx + 22] = (22, 22, 22)
    frame += rng.normal(0, 3, frame.shape)
    return np.clip(frame, 0, 255).astype(np.uint8), (x1, y1, x2, y2)


SOLIDS = {
    "white": (252, 252, 252),
    "silver/grey": (192, 190, 186),
    "black": (30, 30, 33),
    "red": (35, 30, 185),
    "blue": (165, 75, 20),
    "green": (45, 135, 40),
    "yellow/orange": (20, 195, 235),
    "brown/beige": (40, 70, 110),
}


@pytest.mark.parametrize("expected", list(SOLIDS))
def test_synthetic_car_of_each_palette_colour(expected: str) -> None:
    frame, box = synthetic_car(SOLIDS[expected])
    result = crop_colour(frame, box)
    assert isinstance(result, ColourResult)
    assert result.colour == expected, result
    assert set(result.scores) == set(PALETTE)
    assert abs(sum(result.scores.values()) - 1) < 1e-3
    assert result.confidence == result.scores[expected] > 0


@pytest.mark.parametrize(("bgr", "expected"), [
    ((250, 250, 250), "white"), ((120, 120, 120), "silver/grey"), ((0, 120, 245), "yellow/orange"),
    ((170, 205, 225), "brown/beige"), ((90, 30, 20), "blue"), ((25, 25, 130), "red"),
])
def test_other_shades_and_a_plain_patch(bgr: tuple[int, int, int], expected: str) -> None:
    """Orange, beige, navy and dark red shades, and a plain patch on the road (no windows)."""
    frame, box = synthetic_car(bgr, seed=1)
    assert crop_colour(frame, box).colour == expected
    patch = np.full((100, 100, 3), ROAD, np.uint8)
    patch[15:85, 15:85] = bgr
    assert crop_colour(patch, (10, 10, 90, 90)).colour == expected


def test_dominant_colour_averages_crops_and_skips_unusable_ones() -> None:
    crops = []
    for seed in range(4):
        frame, (x1, y1, x2, y2) = synthetic_car(SOLIDS["red"], seed)
        crops.append(frame[y1:y2, x1:x2])
    whole = dominant_colour(crops)
    assert whole.colour == "red"
    # one odd crop (a glare-white one) does not outvote three red ones
    glare = np.full((60, 90, 3), 250, np.uint8)
    assert dominant_colour([*crops[:3], glare]).colour == "red"
    # unusable crops are skipped, not fatal, while one usable crop is left
    assert dominant_colour([np.zeros((0, 0, 3), np.uint8), crops[0],
                            np.zeros((4, 40, 3), np.uint8)]).colour == "red"


@pytest.mark.parametrize(("image", "box", "message"), [
    (np.zeros((100, 100, 3), np.uint8), (50, 50, 50, 80), "empty or inverted"),
    (np.zeros((100, 100, 3), np.uint8), (60, 10, 20, 80), "empty or inverted"),
    (np.zeros((100, 100, 3), np.uint8), (10, 10, 10 + MIN_SIDE - 1, 60), f"at least {MIN_SIDE}x{MIN_SIDE}"),
    (np.zeros((100, 100, 3), np.uint8), (200, 200, 260, 260), "outside the 100x100 image"),
    (np.zeros((100, 100, 3), np.uint8), (-80, 10, -20, 60), "outside the 100x100 image"),
    (np.zeros((100, 100, 3), np.uint8), (95, 10, 160, 60), f"at least {MIN_SIDE}x{MIN_SIDE}"),
    (np.zeros((100, 100, 3), np.uint8), (float("nan"), 10, 60, 60), "non-finite"),
    (np.zeros((100, 100, 3), np.uint8), ("a", 1, 2), "not four numbers"),
    (np.zeros((100, 100), np.uint8), (10, 10, 60, 60), "shape (h, w, 3)"),
    (np.zeros((100, 100, 3), np.float32), (10, 10, 60, 60), "uint8"),
    (np.zeros((0, 0, 3), np.uint8), (0, 0, 10, 10), "outside the 0x0 image"),
])
def test_bad_inputs_raise_a_clear_colour_error(image: np.ndarray, box: tuple, message: str) -> None:
    with pytest.raises(ColourError, match=re.escape(message)):
        crop_colour(image, box)


def test_box_partly_outside_is_clipped_and_empty_track_is_an_error() -> None:
    frame, (x1, y1, x2, y2) = synthetic_car(SOLIDS["blue"])
    assert crop_colour(frame, (x1, y1, x2 + 500, y2 + 500)).colour == "blue"
    assert crop_colour(frame, (float(x1) + 0.4, y1, x2, y2)).colour == "blue"
    with pytest.raises(ColourError, match="no usable crop among 0"):
        dominant_colour([])
    with pytest.raises(ColourError, match=r"no usable crop among 2: crop is 3x3 px"):
        dominant_colour([np.zeros((3, 3, 3), np.uint8), np.zeros((2, 2, 3), np.uint8)])
    assert "person" not in VEHICLE_CLASSES  # persons get no colour (design principle 2)


# -- crops labelled by eye, cut from ../shared/media at test time --------------------------
@pytest.fixture(scope="module")
def labelled(media: Path) -> tuple[list[LabelledCrop], list[np.ndarray]]:
    labels = load_labels(DEFAULT_LABELS)
    return labels, cut_crops(labels, media)


def test_labels_cover_many_crops_vehicles_and_sources(labelled: tuple) -> None:
    labels, crops = labelled
    assert len(labels) >= 150
    vehicles = collections.Counter(lab.vehicle for lab in labels)
    assert len(vehicles) >= 8 and max(vehicles.values()) <= 0.25 * len(labels)
    assert len({lab.source for lab in labels}) >= 3
    assert {lab.colour for lab in labels} >= {"white", "silver/grey", "black", "red"}
    assert all(min(c.shape[:2]) >= MIN_SIDE for c in crops)
    # one vehicle has one colour
    assert all(len({lab.colour for lab in labels if lab.vehicle == v}) == 1 for v in vehicles)


def test_track_colour_of_every_labelled_vehicle(labelled: tuple) -> None:
    """What the box stores for a track: the dominant colour over its crops. car-detection.mp4's
    four cars (tests/data/car_detection_vehicles.md) and the others all get their labelled colour,
    except the orange-red hatchback of street_cars.png (one crop, labelled orange, called red)."""
    labels, crops = labelled
    by_vehicle: dict[str, list[np.ndarray]] = collections.defaultdict(list)
    colour = {}
    for lab, crop in zip(labels, crops, strict=True):
        by_vehicle[lab.vehicle].append(crop)
        colour[lab.vehicle] = lab.colour
    got = {v: dominant_colour(cs).colour for v, cs in by_vehicle.items()}
    assert {v: got[v] for v in ("cd-white-1", "cd-silver", "cd-red", "cd-white-2")} == {
        "cd-white-1": "white", "cd-silver": "silver/grey", "cd-red": "red", "cd-white-2": "white"}
    wrong = sorted(v for v in got if got[v] != colour[v])
    assert wrong == ["sc-hatchback"], got


def test_vectorised_grid_agrees_with_the_classifier(labelled: tuple) -> None:
    """The cross-validation's array version of the rules gives the box's answers."""
    _, crops = labelled
    grid = {k: (v[0], v[-1]) for k, v in GRID.items() if k in ("white_min", "colour_share", "black_l")}
    cands, table = prediction_table(crops[::4], grid)
    for j in (0, len(cands) - 1):
        assert [PALETTE[i] for i in table[:, j]] == predict(crops[::4], cands[j])
    default_grid = {k: (getattr(DEFAULT_PARAMS, k),) for k in GRID}
    cands, table = prediction_table(crops, default_grid)
    assert cands == [DEFAULT_PARAMS]
    assert [PALETTE[i] for i in table[:, 0]] == predict(crops)


def test_eval_colour_command_accuracy_on_the_real_labels(media: Path) -> None:
    result = CliRunner().invoke(main, ["index", "eval-colour", "--media", str(media)])
    assert result.exit_code == 0, result.output
    out = result.output
    accuracies = [float(a) for a in re.findall(r"^accuracy ([0-9.]+) \(\d+/\d+\)$", out, re.M)]
    assert len(accuracies) == 3, out  # the box's thresholds, held out by vehicle, by source
    assert accuracies[0] >= 0.85, out
    assert "| labelled \\ predicted | white | silver/grey | black | red" in out
    assert "Held out one vehicle at a time" in out and "| cd-silver | 42 |" in out
    assert "are the box's defaults" in out
    # the printed matrix is the classifier's own answer
    labels = load_labels(DEFAULT_LABELS)
    ev = Evaluation(tuple(lab.colour for lab in labels), tuple(predict(cut_crops(labels, media))))
    assert f"accuracy {ev.accuracy:.3f} " in out


def test_eval_colour_bad_labels_and_media_give_clear_errors(tmp_path: Path, media: Path) -> None:
    header = "source,frame,x1,y1,x2,y2,colour,vehicle\n"
    cases = {
        "source,frame,colour\nx.mp4,1,red\n": "missing column(s) x1, y1, x2, y2, vehicle",
        header + "video/car-detection.mp4,200,1,2,30,40,purple,a\n":
            ":2: colour 'purple' is not in the palette",
        header + "video/car-detection.mp4,2x,1,2,30,40,red,a\n": ":2: frame and box must be integers",
        header + "video/nope.mp4,1,1,2,30,40,red,a\n": "media file",
        header + "video/car-detection.mp4,9999,1,2,30,40,red,a\n": "has no frame(s) [9999]",
        header + "images/street_cars.png,3,1,2,30,40,red,a\n": "only frame 0 exists",
        header + "video/car-detection.mp4,10,900,2,930,40,red,a\n":
            "label line 2: box (900, 2, 930, 40) lies outside",
        header + "../secret.mp4,1,1,2,30,40,red,a\n": "must be a path inside the media directory",
        header: "holds no labels",
    }
    for i, (text, message) in enumerate(cases.items()):
        path = tmp_path / f"labels{i}.csv"
        path.write_text(text)
        result = CliRunner().invoke(main, ["index", "eval-colour", "--labels", str(path),
                                           "--media", str(media), "--no-cv"])
        assert result.exit_code == 1, (text, result.output)
        assert message in result.output, (text, result.output)
        assert "Traceback" not in result.output
    with pytest.raises(ColourEvalError, match="does not exist"):
        load_labels(tmp_path / "missing.csv")


def test_thresholds_matter() -> None:
    """The rules use their thresholds: a white car turns silver/grey when white needs more."""
    frame, box = synthetic_car(SOLIDS["white"])
    assert crop_colour(frame, box).colour == "white"
    assert crop_colour(frame, box, replace(DEFAULT_PARAMS, white_min=2.0)).colour == "silver/grey"
    frame, box = synthetic_car(SOLIDS["red"])
    assert crop_colour(frame, box, replace(DEFAULT_PARAMS, colour_share=0.99)).colour != "red"


def test_eval_colour_writes_contact_sheets_to_check_labels_by_eye(tmp_path: Path, media: Path) -> None:
    import cv2

    result = CliRunner().invoke(main, ["index", "eval-colour", "--media", str(media), "--no-cv",
                                       "--sheets", str(tmp_path / "sheets")])
    assert result.exit_code == 0, result.output
    n = len(load_labels(DEFAULT_LABELS))
    sheets = sorted((tmp_path / "sheets").glob("sheet_*.png"))
    assert len(sheets) == -(-n // 25) and f"{len(sheets)} contact sheet(s)" in result.output
    first = cv2.imread(str(sheets[0]))
    assert first is not None and first.shape[0] == first.shape[1] > 500
    assert first.std() > 20  # crops were drawn, not a blank page
