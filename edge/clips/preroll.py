"""The pre-roll buffer: the last few seconds of frames, JPEG-compressed, bounded in bytes.

Every processed frame is pushed (already privacy-masked) with the person boxes found in it,
so that a clip can start a few seconds before its event. Frames are stored compressed and,
if configured, at a reduced rate or width; the oldest frames are dropped first when either
the time window or the byte budget is exceeded. Nothing here ever leaves the box.
"""

from __future__ import annotations

import logging
import threading
from collections import deque
from dataclasses import dataclass

import cv2
import numpy as np

from edge.records import Box

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class StoredFrame:
    """One compressed frame: media time, JPEG bytes, and person boxes (pixels of the
    original frame) for the head-region blur."""

    ts: float
    jpeg: bytes
    width: int
    height: int
    persons: tuple[Box, ...]
    boxes: tuple[Box, ...] = ()
    """Every detection box of the frame (pixels of the original frame), drawn on clips."""

    def decode(self) -> np.ndarray:
        """The frame at its original size (upscaled if it was stored reduced)."""
        image = cv2.imdecode(np.frombuffer(self.jpeg, np.uint8), cv2.IMREAD_COLOR)
        if image is None:
            raise ValueError("corrupt JPEG in the pre-roll buffer")
        if image.shape[1] != self.width or image.shape[0] != self.height:
            image = cv2.resize(image, (self.width, self.height), interpolation=cv2.INTER_LINEAR)
        return image


def compress(
    ts: float, image: np.ndarray, persons: tuple[Box, ...], quality: int, max_width: int | None,
    boxes: tuple[Box, ...] = (),
) -> StoredFrame:
    """JPEG-encode a frame, downscaled to ``max_width`` if it is wider."""
    h, w = image.shape[:2]
    small = image
    if max_width is not None and w > max_width:
        small = cv2.resize(image, (max_width, round(h * max_width / w)), interpolation=cv2.INTER_AREA)
    ok, buf = cv2.imencode(".jpg", small, [cv2.IMWRITE_JPEG_QUALITY, quality])
    if not ok:
        raise ValueError("JPEG encoding failed")
    return StoredFrame(ts, buf.tobytes(), w, h, persons, boxes)


class PreRoll:
    """A thread-safe ring of :class:`StoredFrame` covering ``seconds`` and at most ``max_bytes``."""

    def __init__(self, seconds: float, max_bytes: int, min_interval_s: float = 0.0):
        self.seconds = seconds
        self.max_bytes = max_bytes
        self.min_interval_s = min_interval_s
        self._frames: deque[StoredFrame] = deque()
        self._bytes = 0
        self._lock = threading.Lock()
        self.dropped_for_bytes = 0

    def wants(self, ts: float) -> bool:
        """Whether a frame at ``ts`` would be kept (rate limit), so callers can skip encoding."""
        with self._lock:
            return not self._frames or ts - self._frames[-1].ts >= self.min_interval_s

    def push(self, frame: StoredFrame) -> None:
        """Add a frame and evict what falls out of the time window or the byte budget."""
        with self._lock:
            if self._frames and frame.ts < self._frames[-1].ts:
                self._frames.clear()  # the source restarted (loop, reconnect): start afresh
                self._bytes = 0
            self._frames.append(frame)
            self._bytes += len(frame.jpeg)
            while self._frames and frame.ts - self._frames[0].ts > self.seconds:
                self._bytes -= len(self._frames.popleft().jpeg)
            while self._bytes > self.max_bytes and len(self._frames) > 1:
                self._bytes -= len(self._frames.popleft().jpeg)
                self.dropped_for_bytes += 1

    def snapshot(self, since_ts: float) -> list[StoredFrame]:
        """The frames with ``ts >= since_ts``, oldest first."""
        with self._lock:
            return [f for f in self._frames if f.ts >= since_ts]

    @property
    def nbytes(self) -> int:
        with self._lock:
            return self._bytes

    def __len__(self) -> int:
        with self._lock:
            return len(self._frames)
