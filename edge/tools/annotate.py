"""Drawing for technicians: zones, lines, tracks, open events and the metric ground grid.

Used by ``vigie edge replay`` and ``vigie edge calibrate``; these images stay on the
technician's machine and are never sent anywhere.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable

import cv2
import numpy as np

from edge.calibration import GroundPlane
from edge.config import BoxConfig
from edge.records import Event, Track

log = logging.getLogger(__name__)

ZONE = (0, 215, 255)
LINE = (255, 200, 0)
GRID = (80, 255, 80)
EVENT = (0, 0, 255)
TRACK = {"person": (255, 120, 40), "car": (60, 200, 60), "truck": (60, 200, 60), "bus": (60, 200, 60)}
FONT = cv2.FONT_HERSHEY_SIMPLEX


def _px(pt: tuple[float, float] | np.ndarray, w: int, h: int) -> tuple[int, int]:
    return (round(float(pt[0]) * w), round(float(pt[1]) * h))


def _label(img: np.ndarray, text: str, org: tuple[int, int], colour: tuple[int, int, int]) -> None:
    (tw, th), _ = cv2.getTextSize(text, FONT, 0.45, 1)
    x, y = org
    y = max(y, th + 4)
    cv2.rectangle(img, (x, y - th - 4), (x + tw + 4, y + 2), (0, 0, 0), -1)
    cv2.putText(img, text, (x + 2, y - 2), FONT, 0.45, colour, 1, cv2.LINE_AA)


def draw_layout(img: np.ndarray, cfg: BoxConfig, counts: dict[str, tuple[int, int]] | None = None) -> None:
    """Zones (filled lightly, named) and counting lines (arrow = forward) in place."""
    h, w = img.shape[:2]
    overlay = img.copy()
    for z in cfg.zones:
        pts = np.array([_px(p, w, h) for p in z.polygon], np.int32)
        cv2.fillPoly(overlay, [pts], ZONE)
    cv2.addWeighted(overlay, 0.18, img, 0.82, 0, dst=img)
    for z in cfg.zones:
        pts = np.array([_px(p, w, h) for p in z.polygon], np.int32)
        cv2.polylines(img, [pts], True, ZONE, 2, cv2.LINE_AA)
        _label(img, f"zone {z.name}", tuple(pts[0]), ZONE)
    for ln in cfg.lines:
        a, b = _px(ln.a, w, h), _px(ln.b, w, h)
        cv2.line(img, a, b, LINE, 2, cv2.LINE_AA)
        mid = ((a[0] + b[0]) // 2, (a[1] + b[1]) // 2)
        dx, dy = b[0] - a[0], b[1] - a[1]
        n = max((dx * dx + dy * dy) ** 0.5, 1.0)
        right = (round(mid[0] - dy / n * 30), round(mid[1] + dx / n * 30))  # right of a->b, y down
        cv2.arrowedLine(img, mid, right, LINE, 2, cv2.LINE_AA, tipLength=0.35)
        text = f"line {ln.name}"
        if counts is not None:
            f, bk = counts.get(ln.name, (0, 0))
            text += f"  fwd {f} / back {bk}"
        top = a if a[1] <= b[1] else b
        _label(img, text, (min(top[0] + 4, w - 200), max(top[1], 16)), LINE)


def draw_grid(
    img: np.ndarray, plane: GroundPlane, ground: Iterable[tuple[float, float]], step_m: float = 1.0
) -> None:
    """A ``step_m`` grid on the ground around the calibration points, projected into the image."""
    h, w = img.shape[:2]
    g = np.asarray(list(ground), float)
    lo, hi = g.min(axis=0), g.max(axis=0)
    pad = (hi - lo) * 0.5
    lo, hi = np.floor(lo - pad), np.ceil(hi + pad)
    for x in np.arange(lo[0], hi[0] + step_m / 2, step_m):
        _poly(img, plane, [(x, y) for y in np.linspace(lo[1], hi[1], 40)], w, h)
    for y in np.arange(lo[1], hi[1] + step_m / 2, step_m):
        _poly(img, plane, [(x, y) for x in np.linspace(lo[0], hi[0], 40)], w, h)


def _poly(img: np.ndarray, plane: GroundPlane, ground_pts: list[tuple[float, float]], w: int, h: int) -> None:
    hom = np.hstack([np.asarray(ground_pts), np.ones((len(ground_pts), 1))]) @ np.linalg.inv(plane.h).T
    keep = hom[:, 2] > 1e-9  # points in front of the camera only
    pts = hom[keep, :2] / hom[keep, 2:3]
    pts = pts[(pts[:, 0] > -1) & (pts[:, 0] < 2) & (pts[:, 1] > -1) & (pts[:, 1] < 2)]
    if len(pts) >= 2:
        px = np.round(pts * [w, h]).astype(np.int32)
        cv2.polylines(img, [px], False, GRID, 1, cv2.LINE_AA)


def draw_tracks(img: np.ndarray, tracks: list[Track], flagged: set[int]) -> None:
    """Tracked boxes with id and label; objects of an open event in red."""
    for t in tracks:
        colour = EVENT if t.id in flagged else TRACK.get(t.label, (200, 200, 200))
        x1, y1, x2, y2 = (round(v) for v in t.box)
        cv2.rectangle(img, (x1, y1), (x2, y2), colour, 2)
        _label(img, f"#{t.id} {t.label} {t.score:.2f}", (x1, y1), colour)


def draw_events(img: np.ndarray, open_events: list[Event], index: int, ts: float) -> None:
    """A banner with the frame time and every event open at this frame."""
    h, w = img.shape[:2]
    _label(img, f"frame {index}  t={ts:6.1f}s", (6, h - 8), (255, 255, 255))
    for i, ev in enumerate(open_events):
        text = f"EVENT {ev.type}" + (f" zone {ev.zone}" if ev.zone else "") + f" ({ev.severity})"
        _label(img, text, (6, 22 + 20 * i), EVENT)
        for t in ev.objects:
            if t.id < 0:  # blobs have no track; draw their box here
                x1, y1, x2, y2 = (round(v) for v in t.box)
                cv2.rectangle(img, (x1, y1), (x2, y2), EVENT, 2)
    if open_events:
        cv2.rectangle(img, (0, 0), (w - 1, h - 1), EVENT, 4)


def calibration_snapshot(img: np.ndarray, cfg: BoxConfig) -> list[str]:
    """Draw zones, lines, the calibration points and a 1 m ground grid in place.

    Returns lines of text for the technician (each zone's ground area, or why not).
    """
    notes: list[str] = []
    h, w = img.shape[:2]
    if cfg.calibration is None:
        notes.append("no [calibration] section: no metric grid, zone areas unknown")
    else:
        plane = GroundPlane.from_points(cfg.calibration.image, cfg.calibration.ground)
        draw_grid(img, plane, cfg.calibration.ground)
        for (x, y), (gx, gy) in zip(cfg.calibration.image, cfg.calibration.ground, strict=True):
            c = _px((x, y), w, h)
            cv2.circle(img, c, 6, GRID, 2)
            _label(img, f"({gx:g}, {gy:g}) m", (c[0] + 8, c[1]), GRID)
        for z in cfg.zones:
            notes.append(f"zone {z.name}: {plane.area_m2(z.polygon):.1f} m2 of ground")
    draw_layout(img, cfg)
    return notes
