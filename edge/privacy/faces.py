"""Faces and heads: YuNet face boxes, person head regions, and the obscuring that replaces them.

Anonymisation runs on every frame, in this order, before anything is encoded or previewed:

1. privacy masks (:mod:`edge.privacy.masks`) filled black;
2. faces: YuNet (``cv2.FaceDetectorYN``) on the frame upscaled by ``face_scale``, so small
   faces are found; every face box (doubled) is replaced by a smooth colour gradient;
3. persons (default): the head region of every person box is blurred too, so a face YuNet
   misses is still hidden.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from edge.privacy.masks import MaskPainter
from edge.records import Box


class FaceFinder:
    """YuNet through ``cv2.FaceDetectorYN`` on the frame at its own size and at ``scale`` times
    it (upscaling finds small faces; the native size finds some the upscaled pass misses)."""

    def __init__(self, model: Path, threshold: float, scale: float = 1.0):
        self.scales = (1.0, scale) if scale != 1.0 else (1.0,)
        self._dets = {
            s: cv2.FaceDetectorYN.create(str(model), "", (320, 320), threshold, 0.3, 5000)
            for s in self.scales
        }
        self._sizes = dict.fromkeys(self.scales, (320, 320))

    def find(self, image: np.ndarray) -> list[Box]:
        """Face boxes ``(x1, y1, x2, y2)`` in pixels of ``image``, from every scale."""
        out: list[Box] = []
        for s, det in self._dets.items():
            im = image
            if s != 1.0:
                im = cv2.resize(image, None, fx=s, fy=s, interpolation=cv2.INTER_LINEAR)
            size = (im.shape[1], im.shape[0])
            if size != self._sizes[s]:
                det.setInputSize(size)
                self._sizes[s] = size
            _, faces = det.detect(im)
            if faces is not None:
                out.extend((f[0] / s, f[1] / s, (f[0] + f[2]) / s, (f[1] + f[3]) / s) for f in faces)
        return out


def head_region(box: Box) -> Box:
    """The top of a person box where the head is: the upper 30 %, widened by 10 % each side."""
    x1, y1, x2, y2 = box
    w, h = x2 - x1, y2 - y1
    return (x1 - 0.1 * w, y1 - 0.05 * h, x2 + 0.1 * w, y1 + 0.3 * h)


def grow(box: Box, factor: float) -> Box:
    """A box enlarged by ``factor`` around its centre."""
    x1, y1, x2, y2 = box
    cx, cy, hw, hh = (x1 + x2) / 2, (y1 + y2) / 2, (x2 - x1) * factor / 2, (y2 - y1) * factor / 2
    return (cx - hw, cy - hh, cx + hw, cy + hh)


def obscure(image: np.ndarray, box: Box) -> None:
    """Replace ``box`` in place by a smooth 3x3-cell colour gradient of itself: the region's
    colours remain (an operator still sees a head), no facial structure does."""
    h, w = image.shape[:2]
    x1, y1 = max(int(box[0]), 0), max(int(box[1]), 0)
    x2, y2 = min(int(np.ceil(box[2])), w), min(int(np.ceil(box[3])), h)
    if x2 - x1 < 2 or y2 - y1 < 2:
        return
    roi = image[y1:y2, x1:x2]
    small = cv2.resize(roi, (min(3, x2 - x1), min(3, y2 - y1)), interpolation=cv2.INTER_AREA)
    image[y1:y2, x1:x2] = cv2.resize(small, (x2 - x1, y2 - y1), interpolation=cv2.INTER_LINEAR)


@dataclass
class Anonymiser:
    """Masks, then faces, then person heads, per :class:`ClipsConfig.anonymize`."""

    masks: MaskPainter
    mode: str
    faces: FaceFinder | None

    def __call__(self, image: np.ndarray, persons: Iterable[Box]) -> np.ndarray:
        out = self.masks.apply(image)
        if out is image:
            out = image.copy()
        if "faces" in self.mode and self.faces is not None:
            for box in self.faces.find(out):
                obscure(out, grow(box, 2.0))  # YuNet boxes are tight: take the whole head
        if "persons" in self.mode:
            for box in persons:
                obscure(out, head_region(box))
        if self.masks:
            out[self.masks.mask(out.shape[1], out.shape[0])] = 0  # blur never bleeds into a mask
        return out
