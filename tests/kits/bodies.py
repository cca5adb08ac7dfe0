"""Real persons cut from the shared footage, composed into real frames: a lying person (a
standing one turned a quarter turn, as there is no footage of a fall), a person at the frame's
bottom edge, a small far person pasted into a large frame. The boxes are known by construction."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from edge.detect import Detector
from edge.records import Box

PERSON_VIDEO = "video/one-by-one-person-detection.mp4"
EMPTY_FRAME = 0
"""Frame 0 of the clip: the room with nobody in it."""
STANDING_FRAME = 300
"""A visitor standing at the table, 366 px tall."""


def video_frame(media: Path, index: int, video: str = PERSON_VIDEO) -> np.ndarray:
    cap = cv2.VideoCapture(str(media / video))
    cap.set(cv2.CAP_PROP_POS_FRAMES, index)
    ok, frame = cap.read()
    cap.release()
    assert ok, f"cannot read frame {index} of {video}"
    return frame


def person_box(det: Detector, image: np.ndarray) -> Box:
    """The best person box in a real image (the detector must find one)."""
    persons = [d for d in det.detect(image) if d.label == "person"]
    assert persons, "no person found in the source image"
    return max(persons, key=lambda d: d.score).box


@dataclass(frozen=True)
class Composed:
    image: np.ndarray
    box: Box
    """Where the pasted person is, in the composed frame's pixels."""


def cut_person(det: Detector, media: Path) -> np.ndarray:
    frame = video_frame(media, STANDING_FRAME)
    x1, y1, x2, y2 = (round(v) for v in person_box(det, frame))
    return frame[y1:y2, x1:x2].copy()


def paste(background: np.ndarray, patch: np.ndarray, x0: int, y0: int) -> Composed:
    """``patch`` pasted with its top-left at (x0, y0), clipped by the frame's edges."""
    img = background.copy()
    h, w = img.shape[:2]
    ph, pw = patch.shape[:2]
    x1, y1 = min(x0 + pw, w), min(y0 + ph, h)
    img[y0:y1, x0:x1] = patch[: y1 - y0, : x1 - x0]
    return Composed(img, (float(x0), float(y0), float(x1), float(y1)))


def lying_at_bottom(det: Detector, media: Path, cut: float = 0.15, x0: int = 200) -> Composed:
    """The standing visitor turned a quarter turn (head to the right), lying across the empty
    room's floor with ``cut`` of the body's width below the frame's bottom edge."""
    lying = cv2.rotate(cut_person(det, media), cv2.ROTATE_90_CLOCKWISE)
    bg = video_frame(media, EMPTY_FRAME)
    y0 = bg.shape[0] - round(lying.shape[0] * (1 - cut))
    return paste(bg, lying, x0, y0)


def small_person(det: Detector, media: Path, height: int, at: tuple[int, int]) -> Composed:
    """The visitor shrunk to ``height`` px, pasted at ``at`` into the kite beach photo (1352x900)."""
    person = cut_person(det, media)
    w = max(1, round(person.shape[1] * height / person.shape[0]))
    small = cv2.resize(person, (w, height), interpolation=cv2.INTER_AREA)
    return paste(cv2.imread(str(media / "images/kite_and_cold.jpg")), small, *at)
