"""Privacy masks: the configured polygons blacked out, on frames before detection and in every clip."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Protocol

import cv2
import numpy as np


class Masked(Protocol):
    """A privacy mask as configured: a polygon in normalised image coordinates."""

    @property
    def polygon(self) -> Sequence[tuple[float, float]]: ...


class MaskPainter:
    """Blacks out the configured polygons; the pixel mask is cached per frame size."""

    def __init__(self, masks: Iterable[Masked]):
        self.polygons = [list(m.polygon) for m in masks]
        self._cache: dict[tuple[int, int], np.ndarray] = {}

    def __bool__(self) -> bool:
        return bool(self.polygons)

    def mask(self, width: int, height: int) -> np.ndarray:
        """A boolean array, True where a privacy mask covers the pixel."""
        key = (width, height)
        if key not in self._cache:
            m = np.zeros((height, width), np.uint8)
            for poly in self.polygons:
                pts = np.array([[round(x * width), round(y * height)] for x, y in poly], np.int32)
                cv2.fillPoly(m, [pts], 255)
            self._cache[key] = m.astype(bool)
        return self._cache[key]

    def apply(self, image: np.ndarray) -> np.ndarray:
        """A copy of ``image`` with every mask pixel set to 0 (the image itself if no masks)."""
        if not self.polygons:
            return image
        out = image.copy()
        out[self.mask(image.shape[1], image.shape[0])] = 0
        return out
