"""Feeds the track index from the pipeline: follows live tracks, writes a row when one ends.

While a track lives, :class:`TrackRecorder` keeps its first/last sighting, the zones its
ground point entered and, for vehicles only, the few best crops (by detector score and size,
away from the frame edge) in memory. When the tracker drops the track (or the run ends), the
track's colour is voted from those crops (:func:`edge.search.colour.dominant_colour`), the best one
becomes the anonymised preview (:mod:`edge.search.preview`), one :class:`~edge.search.index.IndexRow` is
stored, and the crops are forgotten. Persons are followed for times, zones and direction
only: no pixel of a person is ever kept here.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from dataclasses import dataclass, field

import numpy as np

from edge.config import ZoneConfig
from edge.geometry import foot_point, point_in_polygon
from edge.outbound.diskfull import OnceLog, no_space
from edge.privacy.faces import FaceFinder
from edge.records import Box, Frame, Track
from edge.search.colour import ColourError, dominant_colour
from edge.search.index import VEHICLES, IndexRow, TrackIndex, direction_of
from edge.search.preview import crop_box, make_preview

log = logging.getLogger(__name__)

INDEXED = ("person", *VEHICLES)
"""Classes the index holds (what a search may ask for)."""
MIN_SIGHTINGS = 3
"""Frames a track must be seen in to be indexed (drops duplicate boxes' two-frame tracks)."""
BEST_CROPS = 3
EDGE_PX = 4
"""A box closer than this to the frame border is cut off by it: a poor crop."""


@dataclass
class _Crop:
    quality: float
    image: np.ndarray  # the crop with margin (see edge.search.preview.crop_box)
    inner: tuple[int, int, int, int]  # the object's own box within ``image``
    persons: tuple[Box, ...]  # person boxes, in ``image`` pixels


@dataclass
class _Live:
    label: str
    first_wall: float
    last_wall: float
    first_pt: tuple[float, float]
    last_pt: tuple[float, float]
    zones: list[str] = field(default_factory=list)
    sightings: int = 0
    crops: list[_Crop] = field(default_factory=list)


def crop_quality(box: Box, score: float, width: int, height: int) -> float:
    """Detector score times the box's size, halved when the box touches the frame edge."""
    x1, y1, x2, y2 = box
    q = score * float(np.sqrt(max(x2 - x1, 0) * max(y2 - y1, 0)))
    if x1 < EDGE_PX or y1 < EDGE_PX or x2 > width - EDGE_PX or y2 > height - EDGE_PX:
        q *= 0.5
    return q


class TrackRecorder:
    """Turns the tracker's output into index rows (see the module docstring)."""

    def __init__(self, index: TrackIndex, zones: Iterable[ZoneConfig], faces: FaceFinder | None,
                 best_crops: int = BEST_CROPS):
        self.index = index
        self.zones = [(z.name, list(z.polygon)) for z in zones]
        self.faces = faces
        self.best_crops = best_crops
        self._live: dict[int, _Live] = {}
        self.rows_written = 0
        self.rows_lost = 0
        """Tracks not indexed because the disk was full."""
        self._full = OnceLog(log, "indexing tracks")

    def observe(self, frame: Frame, tracks: list[Track], ended: Iterable[Track]) -> None:
        """Follow the tracks seen in ``frame``; write the rows of the tracks that ``ended``."""
        w, h = frame.width, frame.height
        persons: tuple[Box, ...] | None = None
        for t in tracks:
            if t.label not in INDEXED:
                continue
            pt = foot_point(t.box, w, h)
            live = self._live.get(t.id)
            if live is None:
                live = self._live[t.id] = _Live(t.label, frame.wall, frame.wall, pt, pt)
            live.last_wall, live.last_pt = frame.wall, pt
            live.sightings += 1
            for name, poly in self.zones:
                if name not in live.zones and point_in_polygon(pt[0], pt[1], poly):
                    live.zones.append(name)
            if t.label in VEHICLES:
                if persons is None:
                    persons = tuple(p.box for p in tracks if p.label == "person")
                self._keep_crop(live, frame, t, persons)
        for t in ended:
            self._finish(t.id)

    def _keep_crop(self, live: _Live, frame: Frame, t: Track, persons: tuple[Box, ...]) -> None:
        q = crop_quality(t.box, t.score, frame.width, frame.height)
        if len(live.crops) >= self.best_crops and q <= live.crops[-1].quality:
            return
        x1, y1, x2, y2 = crop_box(t.box, frame.width, frame.height)
        inner = (int(t.box[0]) - x1, int(t.box[1]) - y1, int(t.box[2]) - x1, int(t.box[3]) - y1)
        near = tuple((p[0] - x1, p[1] - y1, p[2] - x1, p[3] - y1) for p in persons
                     if p[2] > x1 and p[0] < x2 and p[3] > y1 and p[1] < y2)
        live.crops.append(_Crop(q, frame.image[y1:y2, x1:x2].copy(), inner, near))
        live.crops.sort(key=lambda c: -c.quality)
        del live.crops[self.best_crops:]

    def _finish(self, track_id: int) -> None:
        live = self._live.pop(track_id, None)
        if live is None or live.sightings < MIN_SIGHTINGS:
            return
        colour = confidence = None
        preview = None
        if live.label in VEHICLES and live.crops:
            try:
                res = dominant_colour([self._inner(c) for c in live.crops])
                colour, confidence = res.colour, res.confidence
            except ColourError as exc:
                log.debug("track %d: no colour (%s)", track_id, exc)
            best = live.crops[0]
            try:  # no face model, no preview: a still with an unblurred face never exists
                if self.faces is None:
                    raise ValueError("no face model to anonymise it")
                h, w = best.image.shape[:2]
                preview = make_preview(best.image, (0, 0, w, h), best.persons, self.faces)
            except (ValueError, OSError) as exc:
                log.warning("track %d: no preview (%s)", track_id, exc)
        row = IndexRow(label=live.label, first_seen=live.first_wall, last_seen=live.last_wall,
                       zones=tuple(live.zones), direction=direction_of(live.first_pt, live.last_pt),
                       colour=colour, colour_confidence=confidence, preview=preview)
        try:
            self.index.add(row)
            self.rows_written += 1
        except Exception as exc:  # the index must never stop the detection loop
            if not no_space(exc):
                log.exception("could not store track %d in the index", track_id)
                return
            self.rows_lost += 1
            self._full.failed(exc, "tracks are not indexed while the disk is full")
        else:
            self._full.ok()

    @staticmethod
    def _inner(c: _Crop) -> np.ndarray:
        x1, y1, x2, y2 = c.inner
        return c.image[max(y1, 0):y2, max(x1, 0):x2]

    def flush(self) -> None:
        """The run ends: write every live track as finished."""
        for tid in list(self._live):
            self._finish(tid)

    @property
    def live(self) -> int:
        return len(self._live)
