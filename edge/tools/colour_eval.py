"""``vigie index eval-colour``: the colour classifier against crops labelled by eye.

The labels CSV (``source, frame, x1, y1, x2, y2, colour, vehicle``) names a video or image under
the media directory (``../shared/media``), a frame index, a detector box in pixels, the colour a
person gave it by looking, and which physical vehicle it is. Crops are cut from the media at run
time; nothing from the media is stored with the labels.

Thresholds are chosen by cross-validation over whole vehicles and whole sources: for each held-out
vehicle (or source) the grid point with the best accuracy on the *other* ones is kept, and only the
held-out predictions are counted. The crops of one vehicle are near-duplicates of each other, so
holding out single crops would overstate accuracy.

The tables and contact sheets the command prints and writes are in :mod:`edge.tools.colour_report`.
"""

from __future__ import annotations

import csv
import itertools
import logging
import os
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, fields, replace
from pathlib import Path

import cv2
import numpy as np

from edge.search.colour import (
    DEFAULT_PARAMS,
    HUES,
    PALETTE,
    ColourError,
    ColourParams,
    body_pixels,
    body_stats,
    clip_box,
    decide,
    dominant_colour,
)

log = logging.getLogger(__name__)

ROOT = Path(__file__).resolve().parents[2]
DEFAULT_LABELS = ROOT / "tests" / "data" / "colour_labels.csv"
COLUMNS = ("source", "frame", "x1", "y1", "x2", "y2", "colour", "vehicle")
IMAGE_SUFFIXES = {".jpg", ".jpeg", ".png", ".bmp"}

PIXEL_KEYS = ("chroma_min", "black_l", "white_l")
"""Thresholds that change the pixel classes (the others only the rules on their shares)."""
GRID: dict[str, tuple[float, ...]] = {
    "chroma_min": (12.0, 16.0, 20.0),
    "black_l": (25.0, 30.0, 35.0),
    "white_l": (90.0, 93.0, 96.0),
    "colour_share": (0.15, 0.25, 0.35),
    "black_share": (0.35, 0.45, 0.55),
    "tint_scale": (3.0, 6.0, 12.0),
    "white_min": (-0.6, -0.5, -0.4, -0.3, -0.2, -0.1, 0.0),
}
"""Thresholds searched by cross-validation (the others keep their defaults)."""


class ColourEvalError(Exception):
    """A labels file or media that cannot be used; the text names the file, line and cause."""


@dataclass(frozen=True)
class LabelledCrop:
    """One labelled vehicle box in one frame of one media file."""

    line: int
    source: str
    frame: int
    box: tuple[int, int, int, int]
    colour: str
    vehicle: str


@dataclass(frozen=True)
class Evaluation:
    """Predictions against labels, with the confusion matrix (rows: label, columns: predicted)."""

    labels: tuple[str, ...]
    predicted: tuple[str, ...]

    @property
    def accuracy(self) -> float:
        if not self.labels:
            return 0.0
        return sum(a == b for a, b in zip(self.labels, self.predicted, strict=True)) / len(self.labels)

    def confusion(self) -> dict[str, dict[str, int]]:
        m = {a: dict.fromkeys(PALETTE, 0) for a in PALETTE}
        for a, b in zip(self.labels, self.predicted, strict=True):
            m[a][b] += 1
        return m


@dataclass(frozen=True)
class CrossValidation:
    """Held-out predictions, grouped by ``by`` (vehicle or source), and the thresholds each fold chose."""

    by: str
    evaluation: Evaluation
    folds: tuple[tuple[str, int, float, ColourParams], ...]
    """(held-out group, crops, held-out accuracy, thresholds chosen on the other groups)."""


def default_media() -> Path:
    """``$VIGIE_MEDIA``, else ``../shared/media`` beside the checkout or the cwd."""
    env = os.environ.get("VIGIE_MEDIA")
    if env:
        return Path(env)
    for base in (ROOT, Path.cwd()):
        cand = base.parent / "shared" / "media"
        if cand.is_dir():
            return cand
    return ROOT.parent / "shared" / "media"


def load_labels(path: Path) -> list[LabelledCrop]:
    """Read and check a labels CSV; errors name the line and the field."""
    if not path.is_file():
        raise ColourEvalError(f"labels file {path} does not exist")
    out: list[LabelledCrop] = []
    with path.open(newline="") as f:
        reader = csv.DictReader(f)
        missing = [c for c in COLUMNS if c not in (reader.fieldnames or [])]
        if missing:
            raise ColourEvalError(f"{path}:1: missing column(s) {', '.join(missing)}; "
                                  f"expected {', '.join(COLUMNS)}")
        for row in reader:
            line = reader.line_num
            try:
                frame = int(row["frame"])
                box = (int(row["x1"]), int(row["y1"]), int(row["x2"]), int(row["y2"]))
            except (TypeError, ValueError):
                raise ColourEvalError(f"{path}:{line}: frame and box must be integers, got "
                                      f"{[row.get(c) for c in COLUMNS[1:6]]}") from None
            colour = (row["colour"] or "").strip()
            if colour not in PALETTE:
                raise ColourEvalError(f"{path}:{line}: colour {colour!r} is not in the palette "
                                      f"({', '.join(PALETTE)})")
            if frame < 0:
                raise ColourEvalError(f"{path}:{line}: frame {frame} is negative")
            source = (row["source"] or "").strip()
            if not source or Path(source).is_absolute() or ".." in Path(source).parts:
                raise ColourEvalError(f"{path}:{line}: source {source!r} must be a path inside "
                                      "the media directory")
            out.append(LabelledCrop(line, source, frame, box, colour,
                                    (row["vehicle"] or "").strip() or f"{source}:{line}"))
    if not out:
        raise ColourEvalError(f"{path} holds no labels")
    return out


def _frames(media: Path, source: str, wanted: set[int]) -> dict[int, np.ndarray]:
    path = media / source
    if not path.is_file():
        raise ColourEvalError(f"media file {path} does not exist (is --media right?)")
    if path.suffix.lower() in IMAGE_SUFFIXES:
        image = cv2.imread(str(path))
        if image is None:
            raise ColourEvalError(f"cannot read image {path}")
        if wanted - {0}:
            raise ColourEvalError(f"{path} is a still image: only frame 0 exists, "
                                  f"labels ask for {sorted(wanted - {0})}")
        return {0: image}
    cap = cv2.VideoCapture(str(path))
    if not cap.isOpened():
        raise ColourEvalError(f"cannot open video {path}")
    out: dict[int, np.ndarray] = {}
    try:
        last = max(wanted)
        i = 0
        while i <= last:
            ok, image = cap.read()
            if not ok:
                break
            if i in wanted:
                out[i] = image
            i += 1
    finally:
        cap.release()
    if len(out) < len(wanted):
        raise ColourEvalError(f"video {path} has no frame(s) {sorted(wanted - set(out))[:5]} "
                              f"(it ends at frame {i - 1})")
    return out


def cut_crops(labels: Sequence[LabelledCrop], media: Path) -> list[np.ndarray]:
    """The BGR crop of every label, cut from the media (each video decoded once)."""
    by_source: dict[str, set[int]] = {}
    for lab in labels:
        by_source.setdefault(lab.source, set()).add(lab.frame)
    frames = {s: _frames(media, s, idx) for s, idx in by_source.items()}
    crops = []
    for lab in labels:
        image = frames[lab.source][lab.frame]
        try:
            x1, y1, x2, y2 = clip_box(image.shape, lab.box)
        except ColourError as exc:
            raise ColourEvalError(f"label line {lab.line}: {exc}") from None
        crops.append(image[y1:y2, x1:x2].copy())
    return crops


def predict(crops: Sequence[np.ndarray], params: ColourParams = DEFAULT_PARAMS) -> list[str]:
    """The palette colour of each crop (the classifier as the box runs it)."""
    return [decide(body_stats(body_pixels(c, params), params), params).colour for c in crops]


def grid_params(grid: Mapping[str, tuple[float, ...]] | None = None) -> list[ColourParams]:
    """Every combination of the grid's values over :data:`DEFAULT_PARAMS` (the grid's
    keys vary slowest-first, in :data:`GRID` order)."""
    grid = grid or GRID
    names = {f.name for f in fields(ColourParams)}
    unknown = set(grid) - names
    if unknown:
        raise ColourEvalError(f"unknown threshold(s) in the grid: {sorted(unknown)}")
    keys = list(grid)
    return [replace(DEFAULT_PARAMS, **dict(zip(keys, vals, strict=True)))
            for vals in itertools.product(*(grid[k] for k in keys))]


def _stat_arrays(bodies: Sequence[np.ndarray], p: ColourParams) -> dict[str, np.ndarray]:
    stats = [body_stats(b, p) for b in bodies]
    return {
        "hues": np.array([s.hue_shares for s in stats]),
        "dark": np.array([s.dark for s in stats]),
        "bright": np.array([s.bright for s in stats]),
        "lit": np.array([s.light + s.bright for s in stats]),
        "tint": np.array([s.light_tint for s in stats]),
    }


def _decide_arrays(st: dict[str, np.ndarray], p: ColourParams) -> np.ndarray:
    """:func:`edge.search.colour.decide` on arrays of crops (indices into PALETTE), for the grid."""
    lit = st["lit"]
    share = np.divide(st["bright"], lit, out=np.zeros_like(lit), where=lit > 0)
    whiteness = share - st["tint"] / p.tint_scale
    hue_idx = np.array([PALETTE.index(h) for h in HUES])[np.argmax(st["hues"], axis=1)]
    return np.select(
        [st["hues"].sum(axis=1) >= p.colour_share, st["dark"] >= p.black_share,
         (lit >= p.light_share) & (st["bright"] >= p.bright_min * lit) & (whiteness >= p.white_min)],
        [hue_idx, PALETTE.index("black"), PALETTE.index("white")],
        default=PALETTE.index("silver/grey"),
    )


def prediction_table(
    crops: Sequence[np.ndarray], grid: Mapping[str, tuple[float, ...]] | None = None,
    progress: Callable[[int], None] | None = None,
) -> tuple[list[ColourParams], np.ndarray]:
    """Every grid point and the palette index it predicts for every crop (crops x points)."""
    cands = grid_params(grid)
    bodies = [body_pixels(c, DEFAULT_PARAMS) for c in crops]
    table = np.empty((len(crops), len(cands)), dtype=np.int64)
    cache: dict[tuple[float, ...], dict[str, np.ndarray]] = {}
    for j, p in enumerate(cands):
        key = tuple(getattr(p, k) for k in PIXEL_KEYS)
        if key not in cache:
            cache[key] = _stat_arrays(bodies, p)
            if progress:
                progress(1)
        table[:, j] = _decide_arrays(cache[key], p)
    return cands, table


def _best(score: np.ndarray, shape: tuple[int, ...]) -> int:
    """The best grid point; ties go to the one whose grid neighbours score best (the middle
    of a plateau rather than its edge)."""
    grid = score.reshape(shape)
    padded = np.pad(grid, 1, mode="edge")
    smooth = grid.copy()
    for axis in range(grid.ndim):
        for shift in (0, 2):
            index = tuple(slice(shift, shift + n) if a == axis else slice(1, 1 + n)
                          for a, n in enumerate(grid.shape))
            smooth = smooth + padded[index]
    order = np.lexsort((-np.arange(score.size), smooth.ravel(), np.round(score, 9)))
    return int(order[-1])


def _balanced(correct: np.ndarray, groups: np.ndarray, rows: np.ndarray) -> np.ndarray:
    """Per-grid-point accuracy over ``rows`` in which every group weighs the same."""
    score = np.zeros(correct.shape[1])
    names = np.unique(groups[rows])
    for g in names:
        score += correct[rows & (groups == g)].mean(axis=0)
    return score / max(len(names), 1)


def cross_validate(
    crops: Sequence[np.ndarray], labels: Sequence[LabelledCrop], by: str = "vehicle",
    grid: Mapping[str, tuple[float, ...]] | None = None,
    table: tuple[list[ColourParams], np.ndarray] | None = None,
) -> CrossValidation:
    """Leave-one-group-out (``by`` = ``vehicle`` or ``source``): thresholds chosen on the other
    groups (each group weighing the same), accuracy counted on the held-out group only."""
    if by not in ("vehicle", "source"):
        raise ColourEvalError(f"cross-validation groups must be 'vehicle' or 'source', not {by!r}")
    grid = grid or GRID
    cands, pred = table or prediction_table(crops, grid)
    truth = np.array([PALETTE.index(lab.colour) for lab in labels])
    groups = np.array([getattr(lab, by) for lab in labels])
    correct = pred == truth[:, None]
    shape = tuple(len(v) for v in grid.values())
    held = [""] * len(labels)
    folds = []
    for g in sorted(set(groups.tolist())):
        test = groups == g
        best = _best(_balanced(correct, groups, ~test), shape)
        for i in np.flatnonzero(test):
            held[i] = PALETTE[int(pred[i, best])]
        folds.append((g, int(test.sum()), float(correct[test, best].mean()), cands[best]))
    return CrossValidation(by, Evaluation(tuple(lab.colour for lab in labels), tuple(held)), tuple(folds))


def choose_params(
    crops: Sequence[np.ndarray], labels: Sequence[LabelledCrop], by: str = "vehicle",
    grid: Mapping[str, tuple[float, ...]] | None = None,
    table: tuple[list[ColourParams], np.ndarray] | None = None,
) -> tuple[ColourParams, float]:
    """The grid point with the best group-balanced accuracy on all labels, and that accuracy."""
    grid = grid or GRID
    cands, pred = table or prediction_table(crops, grid)
    truth = np.array([PALETTE.index(lab.colour) for lab in labels])
    groups = np.array([getattr(lab, by) for lab in labels])
    score = _balanced(pred == truth[:, None], groups, np.ones(len(labels), dtype=bool))
    best = _best(score, tuple(len(v) for v in grid.values()))
    return cands[best], float(score[best])


@dataclass(frozen=True)
class TrackRow:
    """One vehicle: what the box would store for its track (the dominant colour of its crops)."""

    vehicle: str
    source: str
    crops: int
    labelled: str
    box: str
    """With the box's thresholds."""
    held_out: str | None
    """With the thresholds chosen with this vehicle left out (None if not cross-validated)."""


def track_rows(
    crops: Sequence[np.ndarray], labels: Sequence[LabelledCrop], cv: CrossValidation | None = None
) -> list[TrackRow]:
    """Every labelled vehicle's track colour, with the box's thresholds and, given a
    leave-one-vehicle-out ``cv``, with the thresholds its fold chose."""
    if cv is not None and cv.by != "vehicle":
        raise ColourEvalError("track colours are cross-validated by vehicle")
    fold_params = {g: p for g, _, _, p in cv.folds} if cv else {}
    by_vehicle: dict[str, list[int]] = {}
    for i, lab in enumerate(labels):
        by_vehicle.setdefault(lab.vehicle, []).append(i)
    rows = []
    for vehicle, idx in by_vehicle.items():
        group = [crops[i] for i in idx]
        first = labels[idx[0]]
        held = dominant_colour(group, fold_params[vehicle]).colour if vehicle in fold_params else None
        rows.append(TrackRow(vehicle, first.source, len(idx), first.colour,
                             dominant_colour(group).colour, held))
    return rows
