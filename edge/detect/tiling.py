"""Tiled and quarter-turn detector passes over the zones the rules watch.

A 416-px detector sees a 1080p frame shrunk 4.6 times: a person 60 px tall becomes 13 px and is
missed. :class:`TiledDetector` adds passes on tiles of the watched region at native resolution
(with overlap), and, for persons lying on the ground (which a detector trained mostly on
upright people misses, at the frame's bottom edge above all), passes on the region turned a
quarter turn each way. Everything is merged with the full-frame pass: class-wise NMS, and a box
cut by an inner tile edge is dropped when another box of its class covers it.

``mode = "auto"`` times one detector pass at start-up and keeps the tiles only if all passes
fit ``budget_ms`` per frame (decided at the first frame, when the frame's size is known).
"""

from __future__ import annotations

import logging
import math
from collections.abc import Sequence
from dataclasses import dataclass

import cv2
import numpy as np

from edge.config import BoxConfig, DetectorConfig, TilingConfig
from edge.detect import Detector, make_detector
from edge.modelstore import ModelStore
from edge.records import Box, Detection

log = logging.getLogger(__name__)

Rect = tuple[int, int, int, int]
NormRect = tuple[float, float, float, float]
CUT_COVER = 0.6
"""A box cut by an inner tile edge is a fragment when another box of its class covers this
share of it."""


@dataclass(frozen=True)
class Plan:
    """The passes for one frame size."""

    tiles: tuple[Rect, ...]
    lying: tuple[Rect, ...]

    @property
    def passes(self) -> int:
        return 1 + len(self.tiles) + 2 * len(self.lying)


def tile_grid(region: Rect, tile: int, overlap: float) -> list[Rect]:
    """Tiles of side ``tile`` covering ``region`` with ``overlap``, evenly spaced; a side at
    most 10 % longer than a tile is one tile (barely shrunk) rather than two."""
    x0, y0, x1, y1 = region

    def spans(lo: int, hi: int) -> list[tuple[int, int]]:
        span = hi - lo
        if span <= tile * 1.1:
            return [(lo, hi)]
        n = math.ceil((span - tile * overlap) / (tile * (1 - overlap)))
        step = (span - tile) / max(n - 1, 1)
        return [(lo + round(i * step), min(lo + round(i * step) + tile, hi)) for i in range(n)]

    return [(xa, ya, xb, yb) for ya, yb in spans(y0, y1) for xa, xb in spans(x0, x1)]


def watched_regions(cfg: BoxConfig, names: Sequence[str] = (),
                    rule_types: Sequence[str] | None = None) -> list[NormRect]:
    """Normalised bounding boxes of the zones named, else of the zones the rules (of
    ``rule_types``, default all) watch: the whole frame when one watches the whole frame."""
    if not names:
        zones = [r.zone for r in cfg.rules if rule_types is None or r.type in rule_types]
        if not zones or any(z is None for z in zones):
            return [(0.0, 0.0, 1.0, 1.0)]
        names = sorted({z for z in zones if z is not None})
    out = []
    for name in names:
        poly = np.asarray(cfg.zone(name).polygon, dtype=float)
        out.append((float(poly[:, 0].min()), float(poly[:, 1].min()),
                     float(poly[:, 0].max()), float(poly[:, 1].max())))
    return out


def merge(passes: Sequence[tuple[list[Detection], Rect | None]], nms_iou: float,
          frame_wh: tuple[int, int]) -> list[Detection]:
    """Detections of all passes (frame pixels; each with the tile it came from, None for
    whole-region passes) as one list: best score first, duplicates and cut fragments dropped."""
    items = sorted(((d, t) for dets, t in passes for d in dets), key=lambda it: -it[0].score)
    kept: list[Detection] = []
    for d, tile in items:
        if any(k.label == d.label and _iou(k.box, d.box) > nms_iou for k in kept):
            continue
        if tile is not None and _cut(d.box, tile, frame_wh) and any(
                k.label == d.label and _cover(k.box, d.box) >= CUT_COVER for k in kept):
            continue
        kept.append(d)
    return kept


def _iou(a: Box, b: Box) -> float:
    inter = _inter(a, b)
    union = _area(a) + _area(b) - inter
    return inter / union if union > 0 else 0.0


def _cover(big: Box, small: Box) -> float:
    """Share of ``small`` inside ``big``."""
    a = _area(small)
    return _inter(big, small) / a if a > 0 else 0.0


def _inter(a: Box, b: Box) -> float:
    return max(0.0, min(a[2], b[2]) - max(a[0], b[0])) * max(0.0, min(a[3], b[3]) - max(a[1], b[1]))


def _area(b: Box) -> float:
    return max(0.0, b[2] - b[0]) * max(0.0, b[3] - b[1])


def _cut(box: Box, tile: Rect, frame_wh: tuple[int, int], eps: float = 2.0) -> bool:
    """Does the box touch an edge of its tile that is inside the frame?"""
    w, h = frame_wh
    x0, y0, x1, y1 = tile
    return ((x0 > 0 and box[0] <= x0 + eps) or (y0 > 0 and box[1] <= y0 + eps)
            or (x1 < w and box[2] >= x1 - eps) or (y1 < h and box[3] >= y1 - eps))


def _shift(dets: list[Detection], dx: float, dy: float) -> list[Detection]:
    return [Detection(d.label, d.score, (d.box[0] + dx, d.box[1] + dy, d.box[2] + dx, d.box[3] + dy))
            for d in dets]


def _unturn(dets: list[Detection], rect: Rect, clockwise: bool) -> list[Detection]:
    """Boxes found on ``rect`` turned a quarter turn, back in frame pixels (persons only)."""
    x0, y0, x1, y1 = rect
    w, h = x1 - x0, y1 - y0
    out = []
    for d in dets:
        if d.label != "person":
            continue
        a, b, c, e = d.box  # in the turned image
        box = (b, h - c, e, h - a) if clockwise else (w - e, a, w - b, c)
        out.append(Detection(d.label, d.score, (box[0] + x0, box[1] + y0, box[2] + x0, box[3] + y0)))
    return out


class TiledDetector:
    """A detector plus tiles and quarter-turn passes over the watched regions."""

    def __init__(self, inner: Detector, cfg: TilingConfig, tile_regions: Sequence[NormRect],
                 lying_regions: Sequence[NormRect], nms_iou: float, pass_ms: float | None = None):
        self.inner = inner
        self.model_name, self.model_sha256, self.backend = inner.model_name, inner.model_sha256, inner.backend
        self.cfg = cfg
        self.tile_regions = list(tile_regions)
        self.lying_regions = list(lying_regions)
        self.nms_iou = nms_iou
        self.pass_ms = pass_ms
        """Measured ms of one pass (``auto``), compared with the budget at the first frame."""
        self.timings_ms = getattr(inner, "timings_ms", None)
        self._plans: dict[tuple[int, int], Plan] = {}

    def plan(self, width: int, height: int) -> Plan:
        """The passes for frames of this size (decided once per size)."""
        key = (width, height)
        if key not in self._plans:
            self._plans[key] = self._decide(width, height)
        return self._plans[key]

    def _decide(self, width: int, height: int) -> Plan:
        lying = tuple(self._rect(r, width, height) for r in self.lying_regions)
        tiles: list[Rect] = []
        if self.cfg.mode != "off" and max(width, height) > self.cfg.tile_px * 1.1:
            for r in self.tile_regions:
                tiles += tile_grid(self._rect(r, width, height), self.cfg.tile_px, self.cfg.overlap)
        if len(tiles) > self.cfg.max_tiles:
            log.warning("tiling: %d tiles for %dx%d exceed max_tiles %d; no tiles",
                        len(tiles), width, height, self.cfg.max_tiles)
            tiles = []
        plan = Plan(tuple(tiles), lying)
        if self.cfg.mode == "auto" and tiles and self.pass_ms is not None:
            cost = plan.passes * self.pass_ms
            if cost > self.cfg.budget_ms:
                log.info("tiling auto: %d passes x %.1f ms = %.0f ms > budget %.0f ms; no tiles",
                         plan.passes, self.pass_ms, cost, self.cfg.budget_ms)
                plan = Plan((), lying)
        log.info("detector passes for %dx%d: full frame + %d tile(s) + %d quarter turn(s)",
                 width, height, len(plan.tiles), 2 * len(plan.lying))
        return plan

    def _rect(self, r: NormRect, width: int, height: int) -> Rect:
        """A normalised region in pixels, grown by the overlap so objects at its edge are whole."""
        m = self.cfg.overlap * self.cfg.tile_px
        return (max(0, int(r[0] * width - m)), max(0, int(r[1] * height - m)),
                min(width, math.ceil(r[2] * width + m)), min(height, math.ceil(r[3] * height + m)))

    def detect(self, image: np.ndarray) -> list[Detection]:
        """All passes on a BGR frame, merged; boxes in its pixels."""
        h, w = image.shape[:2]
        plan = self.plan(w, h)
        passes: list[tuple[list[Detection], Rect | None]] = [(self.inner.detect(image), None)]
        for t in plan.tiles:
            crop = np.ascontiguousarray(image[t[1]:t[3], t[0]:t[2]])
            passes.append((_shift(self.inner.detect(crop), t[0], t[1]), t))
        for r in plan.lying:
            crop = image[r[1]:r[3], r[0]:r[2]]
            for clockwise in (True, False):
                turned = cv2.rotate(crop, cv2.ROTATE_90_CLOCKWISE if clockwise
                                    else cv2.ROTATE_90_COUNTERCLOCKWISE)
                passes.append((_unturn(self.inner.detect(turned), r, clockwise), None))
        return merge(passes, self.nms_iou, (w, h))


def make_box_detector(cfg: BoxConfig, store: ModelStore,
                      model_cfg: DetectorConfig | None = None) -> Detector:
    """The camera's detector: the configured model (or ``model_cfg``: the tracker's, keeping
    weak boxes), with tiles and quarter turns when the config asks for them (``lying_passes``
    default: when a person_down rule is configured)."""
    det = make_detector(model_cfg or cfg.detector, store)
    tc = cfg.detector.tiling
    has_down = any(r.type == "person_down" for r in cfg.rules)
    lying = tc.lying_passes if tc.lying_passes is not None else has_down
    if tc.mode == "off" and not lying:
        return det
    lying_regions = watched_regions(cfg, (), ["person_down"]) if lying and has_down else (
        watched_regions(cfg, tc.zones) if lying else [])
    pass_ms = None
    if tc.mode == "auto":
        from edge.detect.auto import probe_image, time_detector

        pass_ms = time_detector(det, probe_image())
    return TiledDetector(det, tc, watched_regions(cfg, tc.zones), lying_regions,
                         cfg.detector.nms_iou, pass_ms)
