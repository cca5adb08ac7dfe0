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
from collections import deque
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from edge.records import Event, Frame, Track
from edge.rules.common import Episode
from edge.rules.configs import CameraTamperRule
from edge.rules.foreground import small_grey

log = logging.getLogger(__name__)

FINE = 320


@dataclass(frozen=True)
class ViewMeasure:
    """How one frame looks next to the reference."""

    brightness: float
    contrast: float
    sharpness: float
    """Edge energy relative to the reference (1 = as sharp)."""
    similarity: float
    """Correlation of blurred edge maps with the reference (1 = same view)."""
    presence: float
    """Share of the reference's strongest edges still found (within a pixel) in this frame."""
    stability: float
    """Correlation of blurred edge maps with the frame ~1 s earlier (1 = nothing moving)."""


def _edges(g: np.ndarray) -> np.ndarray:
    gx = cv2.Sobel(g, cv2.CV_32F, 1, 0, ksize=3)
    gy = cv2.Sobel(g, cv2.CV_32F, 0, 1, ksize=3)
    return np.hypot(gx, gy)


def _strong(edges: np.ndarray, share: float = 0.1) -> np.ndarray:
    """The ``share`` strongest edge pixels (relative, so exposure changes do not matter)."""
    return edges >= max(float(np.quantile(edges, 1 - share)), 1e-3)


def _sharp(fine: np.ndarray) -> float:
    """Focus measure on the un-blurred fine image, divided by brightness (exposure gain)."""
    return float(np.abs(cv2.Laplacian(fine, cv2.CV_32F, ksize=3)).mean()) / (float(fine.mean()) + 1.0)


def fine_grey(image: np.ndarray) -> np.ndarray:
    """A float32 grey copy ``FINE`` pixels wide, not blurred (defocus shows at this scale)."""
    return small_grey(image, FINE, blur=False)


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
        self._recent: deque[tuple[float, np.ndarray]] = deque()
        self._moved_since: float | None = None
        if self.path.is_file():
            img = cv2.imread(str(self.path), cv2.IMREAD_GRAYSCALE)
            if img is None:
                log.warning("tamper reference %s is unreadable; learning a new one", self.path)
            else:
                self._set_reference(img.astype(np.float32))
        self.episode = Episode(self.type, cfg.severity, None, cfg.dwell_s, cfg.clear_s, cfg.cooldown_s,
                               cfg.gap_s)

    def _set_reference(self, fine: np.ndarray) -> None:
        self.reference = fine
        self._ref_sharp = max(_sharp(fine), 1e-3)
        g = small_grey(fine)
        raw = _edges(g)
        self._ref_edges = cv2.GaussianBlur(raw, (9, 9), 0)
        self._ref_strong = _strong(raw)

    def measure(self, fine: np.ndarray) -> ViewMeasure:
        """Compare one frame (as :func:`fine_grey`) with the reference."""
        assert self._ref_edges is not None
        g = small_grey(fine)
        raw = _edges(g)
        edges = cv2.GaussianBlur(raw, (9, 9), 0)
        near = cv2.dilate(_strong(raw).astype(np.uint8), np.ones((3, 3), np.uint8)).astype(bool)
        n_ref = int(self._ref_strong.sum())
        return ViewMeasure(
            brightness=float(g.mean()),
            contrast=float(g.std()),
            sharpness=_sharp(fine) / self._ref_sharp,
            similarity=_corr(edges, self._ref_edges),
            presence=float((near & self._ref_strong).sum()) / n_ref if n_ref else 1.0,
            stability=_corr(edges, self._recent[0][1]) if self._recent else 1.0,
        )

    def causes(self, m: ViewMeasure) -> dict[str, float]:
        """Which kinds of tampering the measure shows (flags set to 1)."""
        c = self.cfg
        out: dict[str, float] = {}
        if m.brightness < c.dark_level or (m.contrast < c.min_contrast and m.sharpness < c.sharpness_ratio):
            out["covered"] = 1.0
        elif m.brightness > c.bright_level:
            out["blinded"] = 1.0
        elif m.sharpness < c.sharpness_ratio:
            out["defocused"] = 1.0
        elif m.similarity < c.min_similarity and m.stability >= c.min_stability:
            out["moved"] = 1.0
        return out

    def update(self, frame: Frame, tracks: list[Track]) -> list[Event]:
        fine = fine_grey(frame.image)
        if self.reference is None or self.reference.shape != fine.shape:
            self._learn_step(frame, fine)
            return []
        m = self.measure(fine)
        self._recent.append((frame.ts, cv2.GaussianBlur(_edges(small_grey(fine)), (9, 9), 0)))
        while self._recent and frame.ts - self._recent[0][0] > 1.0:
            self._recent.popleft()
        causes = self.causes(m)
        # A moved view must differ from the reference while itself standing still, for
        # ``moved_s``: traffic passing through a bare scene is not a moved camera.
        if "moved" in causes:
            self._moved_since = frame.ts if self._moved_since is None else self._moved_since
            if frame.ts - self._moved_since < self.cfg.moved_s:
                del causes["moved"]
        else:
            self._moved_since = None
        measure = {
            **causes,
            "brightness": m.brightness,
            "contrast": m.contrast,
            "sharpness": m.sharpness,
            "similarity": m.similarity,
            "presence": m.presence,
            "stability": m.stability,
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
