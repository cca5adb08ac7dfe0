"""``camera_tamper``: the camera covered, blinded, defocused or moved.

Each frame is compared, as a small grey image, with a reference image kept on the box
(``data_dir/<reference>``; learnt from the first ``learn_s`` of video when absent):

- covered: mean grey below ``dark_level``, or contrast below ``min_contrast``;
- blinded: mean grey above ``bright_level``;
- defocused: edge energy below ``sharpness_ratio`` of the reference's;
- moved: correlation of the (blurred) edge maps with the reference below ``min_similarity``.

The reference never leaves the box. Delete it to re-learn after a deliberate re-aim.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from edge.records import Event, Frame, Track
from edge.rules.common import Episode
from edge.rules.configs import CameraTamperRule
from edge.rules.foreground import small_grey

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class ViewMeasure:
    """How one frame looks next to the reference."""

    brightness: float
    contrast: float
    sharpness: float
    """Edge energy relative to the reference (1 = as sharp)."""
    similarity: float
    """Correlation of blurred edge maps with the reference (1 = same view)."""


def _edges(g: np.ndarray) -> np.ndarray:
    gx = cv2.Sobel(g, cv2.CV_32F, 1, 0, ksize=3)
    gy = cv2.Sobel(g, cv2.CV_32F, 0, 1, ksize=3)
    return np.hypot(gx, gy)


def _sharp(g: np.ndarray) -> float:
    return float(np.abs(cv2.Laplacian(g, cv2.CV_32F, ksize=3)).mean())


def _corr(a: np.ndarray, b: np.ndarray) -> float:
    a = a - a.mean()
    b = b - b.mean()
    den = float(np.sqrt((a * a).sum() * (b * b).sum()))
    return float((a * b).sum() / den) if den > 0 else 0.0


class CameraTamper:
    type = "camera_tamper"

    def __init__(self, cfg: CameraTamperRule, data_dir: Path):
        self.cfg = cfg
        self.path = data_dir / cfg.reference
        self.reference: np.ndarray | None = None
        self._ref_sharp = 0.0
        self._ref_edges: np.ndarray | None = None
        self._learn: list[np.ndarray] = []
        self._learn_t0: float | None = None
        if self.path.is_file():
            img = cv2.imread(str(self.path), cv2.IMREAD_GRAYSCALE)
            if img is None:
                log.warning("tamper reference %s is unreadable; learning a new one", self.path)
            else:
                self._set_reference(img.astype(np.float32))
        self.episode = Episode(self.type, cfg.severity, None, cfg.dwell_s, cfg.clear_s, cfg.cooldown_s)

    def _set_reference(self, g: np.ndarray) -> None:
        self.reference = g
        self._ref_sharp = max(_sharp(g), 1e-3)
        self._ref_edges = cv2.GaussianBlur(_edges(g), (9, 9), 0)

    def measure(self, g: np.ndarray) -> ViewMeasure:
        """Compare one small grey frame with the reference."""
        assert self._ref_edges is not None
        edges = cv2.GaussianBlur(_edges(g), (9, 9), 0)
        return ViewMeasure(
            brightness=float(g.mean()),
            contrast=float(g.std()),
            sharpness=_sharp(g) / self._ref_sharp,
            similarity=_corr(edges, self._ref_edges),
        )

    def causes(self, m: ViewMeasure) -> dict[str, float]:
        """Which kinds of tampering the measure shows (flags set to 1)."""
        c = self.cfg
        out: dict[str, float] = {}
        if m.brightness < c.dark_level or m.contrast < c.min_contrast:
            out["covered"] = 1.0
        elif m.brightness > c.bright_level:
            out["blinded"] = 1.0
        elif m.sharpness < c.sharpness_ratio:
            out["defocused"] = 1.0
        elif m.similarity < c.min_similarity:
            out["moved"] = 1.0
        return out

    def update(self, frame: Frame, tracks: list[Track]) -> list[Event]:
        g = small_grey(frame.image)
        if self.reference is None or self.reference.shape != g.shape:
            self._learn_step(frame, g)
            return []
        m = self.measure(g)
        causes = self.causes(m)
        measure = {
            **causes,
            "brightness": m.brightness,
            "contrast": m.contrast,
            "sharpness": m.sharpness,
            "similarity": m.similarity,
        }
        return self.episode.step(frame, bool(causes), (), measure)

    def _learn_step(self, frame: Frame, g: np.ndarray) -> None:
        if self._learn_t0 is None or (self._learn and self._learn[0].shape != g.shape):
            self._learn_t0, self._learn = frame.ts, []
        self._learn.append(g)
        if frame.ts - self._learn_t0 >= self.cfg.learn_s:
            ref = np.median(np.stack(self._learn), axis=0).astype(np.float32)
            self._learn = []
            self._set_reference(ref)
            try:
                self.path.parent.mkdir(parents=True, exist_ok=True)
                cv2.imwrite(str(self.path), np.clip(ref, 0, 255).astype(np.uint8))
                log.info("camera_tamper: reference image learnt and kept at %s", self.path)
            except OSError as exc:
                log.warning("camera_tamper: could not store the reference %s: %s", self.path, exc)

    def close(self, frame: Frame) -> list[Event]:
        return self.episode.close(frame)
