"""Vehicle colour from a fixed palette, computed on the box from a track's crops.

Classical and explainable: every pixel of the vehicle's body region (the box shrunk by an
inset, with pixels that match the surrounding road removed) votes for one palette colour
from its CIE Lab lightness, chroma and hue; coloured pixels weigh more than grey ones,
because windows, tyres, shadows and highlights are grey on a car of any colour. The answer
is the colour with the most weighted votes. Persons never reach this module (only the
classes in :data:`VEHICLE_CLASSES` are coloured).

Bad input is an error, never a guess: an image that is not BGR uint8, a box that is inverted,
outside the image or smaller than :data:`MIN_SIDE` pixels once clipped raises
:class:`ColourError`; :func:`dominant_colour` skips such crops and raises only when none is
usable. There is no "unknown" colour: a valid crop always gets a palette colour, with its
confidence (the winning share of the weighted votes) for the caller to judge.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Sequence
from dataclasses import dataclass

import cv2
import numpy as np

log = logging.getLogger(__name__)

PALETTE: tuple[str, ...] = ("white", "silver/grey", "black", "red", "blue", "green",
                            "yellow/orange", "brown/beige")
VEHICLE_CLASSES = frozenset({"car", "bus", "truck", "motorcycle", "bicycle"})
MIN_SIDE = 8
"""Smallest crop side (pixels, after clipping to the image) that is classified."""


class ColourError(ValueError):
    """A crop or box that cannot be classified; the text says why."""


@dataclass(frozen=True)
class ColourResult:
    """The palette colour, its confidence (share of weighted votes) and every colour's share."""

    colour: str
    confidence: float
    scores: dict[str, float]


@dataclass(frozen=True)
class ColourParams:
    """The classifier's thresholds (Lab units: L 0-100, chroma 0-~130, hue in degrees)."""

    inset: float = 0.12
    """Share of the box width/height cut from each side before voting."""
    road_delta_e: float = 10.0
    """Pixels closer than this (Lab distance) to the crop border's median are road."""
    chroma_min: float = 16.0
    """A pixel with more chroma than this votes for a hue colour."""
    chroma_weight: float = 2.5
    """Weight of a coloured pixel's vote against a grey one's."""
    white_l: float = 68.0
    """Grey pixels lighter than this vote white."""
    black_l: float = 32.0
    """Grey pixels darker than this vote black."""
    brown_l: float = 45.0
    """Orange/red-hued pixels darker than this (with modest chroma) vote brown/beige."""
    beige_chroma: float = 28.0
    """Yellow/orange-hued pixels lighter than ``white_l - 10`` with less chroma vote beige."""


DEFAULT_PARAMS = ColourParams()

_INDEX = {name: i for i, name in enumerate(PALETTE)}


def _check_image(image: np.ndarray) -> None:
    if not isinstance(image, np.ndarray) or image.ndim != 3 or image.shape[2] != 3:
        shape = getattr(image, "shape", None)
        raise ColourError(f"expected a BGR image of shape (h, w, 3), got shape {shape}")
    if image.dtype != np.uint8:
        raise ColourError(f"expected a uint8 BGR image, got dtype {image.dtype}")


def clip_box(
    shape: tuple[int, ...], box_xyxy: tuple[float, float, float, float]
) -> tuple[int, int, int, int]:
    """``box_xyxy`` clipped to an image of ``shape``; :class:`ColourError` if nothing usable is
    left (inverted box, box outside the image, or a side under :data:`MIN_SIDE` pixels)."""
    h, w = int(shape[0]), int(shape[1])
    x1, y1, x2, y2 = (float(v) for v in box_xyxy)
    if not all(math.isfinite(v) for v in (x1, y1, x2, y2)):
        raise ColourError(f"box {box_xyxy} has a non-finite coordinate")
    if x2 <= x1 or y2 <= y1:
        raise ColourError(f"box {box_xyxy} is empty or inverted (need x2 > x1 and y2 > y1)")
    cx1, cy1 = max(0, round(x1)), max(0, round(y1))
    cx2, cy2 = min(w, round(x2)), min(h, round(y2))
    if cx2 <= cx1 or cy2 <= cy1:
        raise ColourError(f"box {box_xyxy} lies outside the {w}x{h} image")
    if cx2 - cx1 < MIN_SIDE or cy2 - cy1 < MIN_SIDE:
        raise ColourError(
            f"box {box_xyxy} is {cx2 - cx1}x{cy2 - cy1} px inside the image; "
            f"at least {MIN_SIDE}x{MIN_SIDE} is needed to judge a colour"
        )
    return cx1, cy1, cx2, cy2


def pixel_votes(crop_bgr: np.ndarray, params: ColourParams = DEFAULT_PARAMS) -> np.ndarray:
    """Weighted votes per palette colour (length ``len(PALETTE)``, summing to 1) of one crop
    that is the vehicle's box."""
    _check_image(crop_bgr)
    h, w = crop_bgr.shape[:2]
    if h < MIN_SIDE or w < MIN_SIDE:
        raise ColourError(f"crop is {w}x{h} px; at least {MIN_SIDE}x{MIN_SIDE} is needed")
    lab = cv2.cvtColor(crop_bgr.astype(np.float32) / 255.0, cv2.COLOR_BGR2Lab)
    dy, dx = int(h * params.inset), int(w * params.inset)
    body = lab[dy:h - dy, dx:w - dx].reshape(-1, 3)
    if params.road_delta_e > 0:
        ring = max(1, min(h, w) // 16)
        border = np.concatenate([
            lab[:ring].reshape(-1, 3), lab[-ring:].reshape(-1, 3),
            lab[:, :ring].reshape(-1, 3), lab[:, -ring:].reshape(-1, 3),
        ])
        road = np.median(border, axis=0)
        keep = np.linalg.norm(body - road, axis=1) >= params.road_delta_e
        if keep.mean() >= 0.25:  # a car the colour of the road keeps its pixels
            body = body[keep]
    return _vote(body, params)


def _vote(lab: np.ndarray, p: ColourParams) -> np.ndarray:
    lum, a, b = lab[:, 0], lab[:, 1], lab[:, 2]
    chroma = np.hypot(a, b)
    hue = np.degrees(np.arctan2(b, a)) % 360.0
    label = np.full(len(lab), _INDEX["silver/grey"], dtype=np.int64)
    label[lum >= p.white_l] = _INDEX["white"]
    label[lum < p.black_l] = _INDEX["black"]
    coloured = chroma >= p.chroma_min
    hue_label = np.select(
        [(hue < 45) | (hue >= 330), hue < 105, hue < 195, hue < 315],
        [_INDEX["red"], _INDEX["yellow/orange"], _INDEX["green"], _INDEX["blue"]],
        default=_INDEX["red"],
    )
    warm = (hue >= 20) & (hue < 105)
    brown = warm & (lum < p.brown_l) & (chroma < 45)
    beige = warm & (lum >= p.white_l - 10) & (chroma < p.beige_chroma)
    hue_label = np.where(brown | beige, _INDEX["brown/beige"], hue_label)
    label = np.where(coloured, hue_label, label)
    weight = np.where(coloured, p.chroma_weight, 1.0)
    votes = np.bincount(label, weights=weight, minlength=len(PALETTE)).astype(np.float64)
    total = votes.sum()
    return votes / total if total > 0 else votes


def _result(votes: np.ndarray) -> ColourResult:
    i = int(np.argmax(votes))
    scores = {name: round(float(v), 4) for name, v in zip(PALETTE, votes, strict=True)}
    return ColourResult(colour=PALETTE[i], confidence=round(float(votes[i]), 4), scores=scores)


def crop_colour(
    image_bgr: np.ndarray, box_xyxy: tuple[int, int, int, int],
    params: ColourParams = DEFAULT_PARAMS,
) -> ColourResult:
    """The palette colour of the vehicle in ``box_xyxy`` (pixels) of a BGR frame."""
    _check_image(image_bgr)
    x1, y1, x2, y2 = clip_box(image_bgr.shape, box_xyxy)
    return _result(pixel_votes(image_bgr[y1:y2, x1:x2], params))


def dominant_colour(
    crops: Sequence[np.ndarray], params: ColourParams = DEFAULT_PARAMS
) -> ColourResult:
    """The colour of one track from several BGR crops of it (each crop counts equally);
    crops that cannot be judged are skipped, and :class:`ColourError` is raised if none can."""
    total = np.zeros(len(PALETTE))
    used = 0
    reasons: list[str] = []
    for crop in crops:
        try:
            total += pixel_votes(crop, params)
            used += 1
        except ColourError as exc:
            reasons.append(str(exc))
    if not used:
        why = f": {reasons[0]}" if reasons else ""
        raise ColourError(f"no usable crop among {len(crops)}{why}")
    if reasons:
        log.debug("skipped %d of %d crops: %s", len(reasons), len(crops), reasons[0])
    return _result(total / used)
