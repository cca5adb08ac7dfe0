"""Vehicle colour from a fixed palette, computed on the box from a track's crops.

Classical and explainable. The crop (the vehicle's detector box) is shrunk to at most
:data:`WORK_SIDE` pixels, an inset border is cut off and pixels that match the road around the
vehicle are dropped; what is left is the *body*. Each body pixel falls into one class by its
CIE Lab lightness ``L``, chroma and hue: a hue colour (red, yellow/orange, green, blue,
brown/beige) when its chroma is high enough, else dark, mid, light or bright grey. Then rules
on the shares of those classes decide, in this order:

1. *coloured*: enough coloured pixels (windows, tyres and highlights are grey on a car of any
   colour, so a modest share suffices) -> the hue colour with the most pixels;
2. *black*: a large share of dark pixels -> black;
3. *white or silver/grey*: a vehicle with few light pixels, or few bright ones among them, is
   silver/grey; otherwise white paint has a large share of bright, untinted pixels among its
   light ones, while silver is metallic, with graded, faintly tinted light tones.
   ``whiteness`` is that bright share minus the mean chroma of the light tones over
   ``tint_scale``; white from ``white_min``, silver/grey below.

The thresholds are the grid point with the best vehicle-balanced accuracy on crops labelled by
eye; ``vigie index eval-colour`` (:mod:`edge.tools.colour_eval`) prints that accuracy and the
held-out accuracy when one vehicle or one source at a time is left out of the choice.

Bad input is an error, never a guess: an image that is not BGR uint8, a box that is not finite,
inverted, outside the image or smaller than :data:`MIN_SIDE` pixels once clipped raises
:class:`ColourError`; :func:`dominant_colour` skips such crops and raises only when none is
usable. There is no "unknown" colour: a valid crop always gets a palette colour, with a
confidence for the caller to judge. Persons never reach this module: only the classes in
:data:`VEHICLE_CLASSES` are coloured (design principle 2).
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
HUES: tuple[str, ...] = ("red", "yellow/orange", "green", "blue", "brown/beige")
MIN_SIDE = 8
"""Smallest crop side (pixels, after clipping to the image) that is classified."""
WORK_SIDE = 64
"""Crops are shrunk (area averaging) so that their longer side is at most this many pixels:
the answer does not depend on the camera's resolution and costs well under a millisecond."""


class ColourError(ValueError):
    """A crop or box that cannot be classified; the text says why."""


@dataclass(frozen=True)
class ColourResult:
    """The palette colour, its confidence and every palette colour's score: the share of the
    body's pixels that support it (grey light tones count for white on a white vehicle and for
    silver/grey otherwise). A red car with dark windows may score red 0.6, black 0.2."""

    colour: str
    confidence: float
    scores: dict[str, float]


@dataclass(frozen=True)
class ColourParams:
    """The classifier's thresholds (Lab units: L 0-100, chroma 0-~130)."""

    inset: float = 0.12
    """Share of the box width/height cut from each side before looking at pixels."""
    road_delta_e: float = 10.0
    """Pixels closer than this (Lab distance) to the median of the crop's border are road."""
    chroma_min: float = 16.0
    """A pixel with more chroma than this is coloured."""
    colour_share: float = 0.35
    """Share of coloured body pixels from which the vehicle is a hue colour."""
    black_l: float = 35.0
    """Grey pixels darker than this are dark."""
    black_share: float = 0.45
    """Share of dark body pixels from which the vehicle is black."""
    light_l: float = 65.0
    """Grey pixels at least this light are light tones (white or silver paint)."""
    light_share: float = 0.1
    """A vehicle with fewer light grey body pixels than this share is silver/grey, not white."""
    bright_min: float = 0.1
    """A vehicle with fewer bright pixels than this share of its light ones is silver/grey:
    white paint always has some (under the camera's exposure)."""
    white_l: float = 96.0
    """Light pixels at least this light are bright."""
    tint_l: float = 80.0
    """The light tones whose tint tells silver from white are the pixels from this lightness
    to just above ``white_l`` (darker ones are mostly glass and shade)."""
    tint_scale: float = 6.0
    """Chroma units of the light tones that cost one unit of bright share."""
    white_min: float = -0.3
    """``whiteness`` from which a light vehicle is white rather than silver/grey."""


DEFAULT_PARAMS = ColourParams()


@dataclass(frozen=True)
class BodyStats:
    """Shares of a vehicle body's pixel classes: what the rules look at (averaged over crops)."""

    hue_shares: tuple[float, ...]
    """Share of body pixels of each of :data:`HUES`."""
    dark: float
    mid: float
    light: float
    """Grey pixels at least ``light_l`` but below ``white_l``."""
    bright: float
    """Grey pixels at least ``white_l``."""
    light_tint: float
    """Mean chroma of the body pixels with ``tint_l <= L < white_l + 2`` (0 if none)."""

    @property
    def coloured(self) -> float:
        return float(sum(self.hue_shares))

    def whiteness(self, tint_scale: float) -> float:
        """Share of bright among the light grey pixels, minus the light tones' tint over
        ``tint_scale``."""
        lit = self.light + self.bright
        return (self.bright / lit if lit > 0 else 0.0) - self.light_tint / tint_scale


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
    left (non-finite or inverted box, box outside the image, a side under :data:`MIN_SIDE`)."""
    h, w = int(shape[0]), int(shape[1])
    try:
        x1, y1, x2, y2 = (float(v) for v in box_xyxy)
    except (TypeError, ValueError):
        raise ColourError(f"box {box_xyxy!r} is not four numbers (x1, y1, x2, y2)") from None
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


def body_pixels(crop_bgr: np.ndarray, params: ColourParams = DEFAULT_PARAMS) -> np.ndarray:
    """The Lab pixels (N x 3, float32) of the vehicle body in a crop that is its box."""
    _check_image(crop_bgr)
    h, w = crop_bgr.shape[:2]
    if h < MIN_SIDE or w < MIN_SIDE:
        raise ColourError(f"crop is {w}x{h} px; at least {MIN_SIDE}x{MIN_SIDE} is needed")
    scale = WORK_SIDE / max(h, w)
    if scale < 1:
        size = (max(MIN_SIDE, round(w * scale)), max(MIN_SIDE, round(h * scale)))
        crop_bgr = cv2.resize(crop_bgr, size, interpolation=cv2.INTER_AREA)
        h, w = crop_bgr.shape[:2]
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
    return body


def hue_class(hue_deg: np.ndarray, lum: np.ndarray, chroma: np.ndarray) -> np.ndarray:
    """Index into :data:`HUES` of coloured pixels: by Lab hue angle, with dark or pale warm
    tones (orange/yellow hue, modest chroma) as brown/beige."""
    cls = np.select(
        [(hue_deg < 50) | (hue_deg >= 330), hue_deg < 105, hue_deg < 195, hue_deg < 315],
        [0, 1, 2, 3], default=0,
    )
    warm = (hue_deg >= 50) & (hue_deg < 105)
    brown = warm & (((lum < 45) & (chroma < 45)) | ((lum >= 60) & (chroma < 28)))
    return np.where(brown, 4, cls)


def body_stats(lab: np.ndarray, params: ColourParams = DEFAULT_PARAMS) -> BodyStats:
    """Shares of the pixel classes of a body (Lab pixels from :func:`body_pixels`)."""
    n = len(lab)
    if n == 0:
        raise ColourError("the crop has no body pixels left to judge")
    lum, a, b = lab[:, 0], lab[:, 1], lab[:, 2]
    chroma = np.hypot(a, b)
    coloured = chroma >= params.chroma_min
    hue = np.degrees(np.arctan2(b, a)) % 360.0
    hues = np.bincount(hue_class(hue[coloured], lum[coloured], chroma[coloured]),
                       minlength=len(HUES)) / n
    grey = ~coloured
    dark = grey & (lum < params.black_l)
    bright = grey & (lum >= params.white_l)
    light = grey & (lum >= params.light_l) & ~bright
    tones = (lum >= params.tint_l) & (lum < params.white_l + 2)
    tint = float(chroma[tones].mean()) if tones.any() else 0.0
    return BodyStats(
        hue_shares=tuple(float(x) for x in hues), dark=float(dark.mean()),
        mid=float((grey & ~dark & ~light & ~bright).mean()), light=float(light.mean()),
        bright=float(bright.mean()), light_tint=tint,
    )


def mean_stats(stats: Sequence[BodyStats]) -> BodyStats:
    """Several crops of one track as one body (each crop weighs the same)."""
    k = len(stats)
    return BodyStats(
        hue_shares=tuple(sum(s.hue_shares[i] for s in stats) / k for i in range(len(HUES))),
        dark=sum(s.dark for s in stats) / k, mid=sum(s.mid for s in stats) / k,
        light=sum(s.light for s in stats) / k, bright=sum(s.bright for s in stats) / k,
        light_tint=sum(s.light_tint for s in stats) / k,
    )


def decide(s: BodyStats, params: ColourParams = DEFAULT_PARAMS) -> ColourResult:
    """Apply the rules (module docstring) to a body's class shares."""
    whiteness = s.whiteness(params.tint_scale)
    if s.coloured >= params.colour_share:
        colour = HUES[int(np.argmax(s.hue_shares))]
    elif s.dark >= params.black_share:
        colour = "black"
    elif (s.light + s.bright >= params.light_share and s.bright >= params.bright_min * (s.light + s.bright)
          and whiteness >= params.white_min):
        colour = "white"
    else:
        colour = "silver/grey"
    scores = dict.fromkeys(PALETTE, 0.0)
    for name, share in zip(HUES, s.hue_shares, strict=True):
        scores[name] = share
    scores["black"] = s.dark
    if colour == "white":  # the light tones are white paint in shade
        scores["white"], scores["silver/grey"] = s.light + s.bright, s.mid
    else:  # the bright pixels are highlights on grey or silver paint
        scores["silver/grey"] = s.mid + s.light + s.bright
    return ColourResult(colour=colour, confidence=round(scores[colour], 4),
                        scores={k: round(v, 4) for k, v in scores.items()})


def crop_colour(
    image_bgr: np.ndarray, box_xyxy: tuple[float, float, float, float],
    params: ColourParams = DEFAULT_PARAMS,
) -> ColourResult:
    """The palette colour of the vehicle in ``box_xyxy`` (pixels, a detector's box: floats are
    rounded, parts outside the frame clipped) of a BGR frame."""
    _check_image(image_bgr)
    x1, y1, x2, y2 = clip_box(image_bgr.shape, box_xyxy)
    return decide(body_stats(body_pixels(image_bgr[y1:y2, x1:x2], params), params), params)


def dominant_colour(
    crops: Sequence[np.ndarray], params: ColourParams = DEFAULT_PARAMS
) -> ColourResult:
    """The colour of one track from several BGR crops of it (each crop weighs the same);
    crops that cannot be judged are skipped, and :class:`ColourError` is raised if none can."""
    stats: list[BodyStats] = []
    reasons: list[str] = []
    for crop in crops:
        try:
            stats.append(body_stats(body_pixels(crop, params), params))
        except ColourError as exc:
            reasons.append(str(exc))
    if not stats:
        why = f": {reasons[0]}" if reasons else ""
        raise ColourError(f"no usable crop among {len(crops)}{why}")
    if reasons:
        log.debug("skipped %d of %d crops: %s", len(reasons), len(crops), reasons[0])
    return decide(mean_stats(stats), params)
