"""Body posture on person crops: the torso axis from BlazePose's person detector, compared with
the image direction of "up" at the person's feet.

BlazePose's detector (a data file of the mediapipe wheel, see ``models/manifest.toml``) finds a
person in a crop and gives its mid-hip and mid-shoulder points at any rotation of the body: it is
the stage that aligns mediapipe's landmark model, so it is trained for lying and tilted bodies.
The torso axis (hip -> shoulder) of a standing or sitting person points up; a lying one's does
not. "Up" is straight up the image unless a ground-plane calibration gives the camera's vertical
(:func:`up_direction`), which corrects for tilted and rolled cameras and for the lens's
perspective at the image's edges.
"""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from edge.calibration import GroundPlane
from edge.modelstore import ModelStore
from edge.records import Box

log = logging.getLogger(__name__)

MODEL = "blazepose-detector"
INPUT = 224
CROP_MARGIN = 0.25
"""The crop is the person's box squared and grown by this share, as mediapipe crops it."""


class PostureError(Exception):
    """The pose model cannot be loaded; the text names the file and the cause."""


@dataclass(frozen=True)
class BodyPose:
    """One person's torso in frame pixels."""

    score: float
    hip: tuple[float, float]
    shoulder: tuple[float, float]

    @property
    def centre(self) -> tuple[float, float]:
        """Middle of the torso: what moves when the body moves, not when an arm waves."""
        return ((self.hip[0] + self.shoulder[0]) / 2, (self.hip[1] + self.shoulder[1]) / 2)

    @property
    def length(self) -> float:
        """Hip-to-shoulder distance in pixels."""
        return math.hypot(self.shoulder[0] - self.hip[0], self.shoulder[1] - self.hip[1])

    def tilt_deg(self, up: tuple[float, float]) -> float:
        """Angle between the torso axis and ``up`` (a unit image vector): 0 upright, 90 lying."""
        ax, ay = self.shoulder[0] - self.hip[0], self.shoulder[1] - self.hip[1]
        n = math.hypot(ax, ay)
        if n == 0:
            return 0.0
        cos = max(-1.0, min(1.0, (ax * up[0] + ay * up[1]) / n))
        return math.degrees(math.acos(cos))


def _anchors() -> np.ndarray:
    """SSD anchor centres of the BlazePose detector (strides 8, 16, 32 x3 layers; 2254)."""
    out = []
    for stride, per_cell in ((8, 2), (16, 2), (32, 6)):
        n = INPUT // stride
        yy, xx = np.mgrid[0:n, 0:n]
        centres = np.stack([(xx + 0.5) / n, (yy + 0.5) / n], -1).reshape(-1, 1, 2)
        out.append(np.repeat(centres, per_cell, axis=1).reshape(-1, 2))
    return np.concatenate(out).astype(np.float32)


def square_crop(image: np.ndarray, box: Box, margin: float = CROP_MARGIN) -> tuple[np.ndarray, float, float]:
    """The box squared around its centre, grown by ``margin``, padded with black where it leaves
    the frame (a person at the frame's edge keeps their shape). Returns crop, x0, y0."""
    x1, y1, x2, y2 = box
    side = max(x2 - x1, y2 - y1, 1.0) * (1 + margin)
    x0, y0 = (x1 + x2 - side) / 2, (y1 + y2 - side) / 2
    ix0, iy0, s = round(x0), round(y0), max(round(side), 1)
    h, w = image.shape[:2]
    crop = np.zeros((s, s, 3), np.uint8)
    sx0, sy0, sx1, sy1 = max(ix0, 0), max(iy0, 0), min(ix0 + s, w), min(iy0 + s, h)
    if sx1 > sx0 and sy1 > sy0:
        crop[sy0 - iy0:sy1 - iy0, sx0 - ix0:sx1 - ix0] = image[sy0:sy1, sx0:sx1]
    return crop, float(ix0), float(iy0)


class PoseEstimator:
    """BlazePose's person detector on a TFLite interpreter, run on one person crop at a time."""

    def __init__(self, path: Path, min_score: float = 0.5, threads: int = 1):
        from edge.detect.tflite_ssd import interpreter_class

        try:
            self.interp = interpreter_class()(model_path=str(path), num_threads=threads)
            self.interp.allocate_tensors()
        except Exception as exc:  # ValueError / RuntimeError from the C++ interpreter
            raise PostureError(f"cannot load pose model {path}: {str(exc).splitlines()[0]}") from None
        self._input = self.interp.get_input_details()[0]["index"]
        outs = {tuple(d["shape"][1:]): d["index"] for d in self.interp.get_output_details()}
        self._anchors = _anchors()
        n = len(self._anchors)
        if (n, 12) not in outs or (n, 1) not in outs:
            raise PostureError(f"{path}: outputs {list(outs)} are not BlazePose's [{n},12] and [{n},1]")
        self._reg, self._cls = outs[(n, 12)], outs[(n, 1)]
        self.min_score = min_score

    def estimate(self, image: np.ndarray, box: Box) -> BodyPose | None:
        """The torso of the person in ``box`` of a BGR frame, or None when no body is seen."""
        crop, x0, y0 = square_crop(image, box)
        side = crop.shape[0]
        rgb = cv2.resize(crop, (INPUT, INPUT), interpolation=cv2.INTER_AREA)[:, :, ::-1]
        tensor = (rgb.astype(np.float32) / 127.5 - 1.0)[None]
        self.interp.set_tensor(self._input, tensor)
        self.interp.invoke()
        logits = self.interp.get_tensor(self._cls)[0, :, 0]
        best = int(np.argmax(logits))
        score = float(1.0 / (1.0 + math.exp(-max(min(float(logits[best]), 100.0), -100.0))))
        if score < self.min_score:
            return None
        kp = self.interp.get_tensor(self._reg)[0, best, 4:].reshape(4, 2) / INPUT + self._anchors[best]
        kp = kp * side + (x0, y0)
        return BodyPose(score, (float(kp[0, 0]), float(kp[0, 1])), (float(kp[2, 0]), float(kp[2, 1])))


def load_estimator(store: ModelStore, min_score: float = 0.5) -> PoseEstimator:
    """The pose model from the model store (sha256-checked)."""
    return PoseEstimator(store.path(MODEL), min_score)


IMAGE_UP = (0.0, -1.0)


def up_direction(plane: GroundPlane | None, width: int, height: int,
                 point: tuple[float, float]) -> tuple[float, float]:
    """Unit image vector (pixels) along which a vertical pole standing at ``point`` rises.

    Without calibration: straight up the image. With a ground-plane homography the camera is
    recovered assuming square pixels and the principal point at the image centre (its focal
    length from the homography's orthogonality), and the pole is projected.
    """
    if plane is None:
        return IMAGE_UP
    g2i = np.diag([width, height, 1.0]) @ np.linalg.inv(plane.h)  # ground metres -> pixels
    t = np.array([[1, 0, -width / 2], [0, 1, -height / 2], [0, 0, 1.0]])
    m = t @ g2i
    m1, m2 = m[:, 0], m[:, 1]
    f2 = -(m1[0] * m2[0] + m1[1] * m2[1]) / (m1[2] * m2[2]) if abs(m1[2] * m2[2]) > 1e-12 else -1.0
    if not (math.isfinite(f2) and f2 > 0):
        denom = m2[2] ** 2 - m1[2] ** 2
        f2 = (m1[0] ** 2 + m1[1] ** 2 - m2[0] ** 2 - m2[1] ** 2) / denom if abs(denom) > 1e-12 else -1.0
    if not (math.isfinite(f2) and f2 > 0):
        return _radial_up(width, height, point)  # camera looking straight down
    f = math.sqrt(f2)
    b = np.diag([1 / f, 1 / f, 1.0]) @ m  # = lambda [r1 r2 t]
    b = b / np.linalg.norm(b[:, 0])
    if b[2, 2] < 0:  # the ground's origin must be in front of the camera
        b = -b
    r1, r2, tr = b[:, 0], b[:, 1], b[:, 2]
    r3 = np.cross(r1, r2)
    rot = np.stack([r1, r2, r3], 1)
    if (-(rot.T @ tr))[2] < 0:  # the camera must be above the ground
        r3 = -r3
    k = np.array([[f, 0, width / 2], [0, f, height / 2], [0, 0, 1.0]])
    g = plane.to_ground([(point[0] / width, point[1] / height)])[0]
    base = r1 * g[0] + r2 * g[1] + tr
    p0, p1 = k @ base, k @ (base + 0.5 * r3)
    d = p1[:2] / p1[2] - p0[:2] / p0[2]
    n = float(np.hypot(*d))
    return (float(d[0] / n), float(d[1] / n)) if n > 0 and math.isfinite(n) else IMAGE_UP


def _radial_up(width: int, height: int, point: tuple[float, float]) -> tuple[float, float]:
    """Looking straight down, a pole rises away from the image centre."""
    dx, dy = point[0] - width / 2, point[1] - height / 2
    n = math.hypot(dx, dy)
    return (dx / n, dy / n) if n > 1e-6 else IMAGE_UP
