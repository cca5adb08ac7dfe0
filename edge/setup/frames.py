"""The frames the editor session keeps: the camera's latest frame and its last seconds.

A reader thread takes frames from the box config's source through :mod:`edge.capture` (a file
source is played at its own pace, looping, as a camera would deliver it) and keeps the most
recent ``keep_s`` seconds as JPEG in memory (never on disk). They feed the preview, its short
loop, and "try it". A camera that cannot be opened or gives no frame is reported in
:attr:`FrameKeeper.error`, never raised into the page.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import deque
from dataclasses import dataclass

import cv2
import numpy as np

from edge.capture import SourceError, VideoSource
from edge.config import SourceConfig

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Kept:
    """One kept frame: its number in the session, media time, size and JPEG bytes."""

    n: int
    ts: float
    width: int
    height: int
    jpeg: bytes


class FrameKeeper:
    """The last ``keep_s`` seconds of the source, at most ``keep_fps`` frames a second."""

    def __init__(self, source: SourceConfig, keep_s: float = 30.0, keep_fps: float = 10.0,
                 quality: int = 90):
        is_file = source.url is not None and "://" not in source.url
        self.cfg = source.model_copy(update={"realtime": True, "loop": True}) if is_file else source
        self.keep_s, self.keep_fps, self.quality = keep_s, keep_fps, quality
        self._frames: deque[Kept] = deque()
        self._lock = threading.Lock()
        self._got = threading.Condition(self._lock)
        self._source: VideoSource | None = None
        self._thread: threading.Thread | None = None
        self.error: str | None = None
        self.fps = 0.0
        self._n = 0

    @property
    def name(self) -> str:
        return str(self.cfg.url) if self.cfg.url is not None else f"usb:{self.cfg.device}"

    def start(self) -> None:
        try:
            self._source = VideoSource(self.cfg)
        except SourceError as exc:
            self.error = str(exc)
            log.warning("camera: %s", exc)
            return
        self._thread = threading.Thread(target=self._read, name="setup-frames", daemon=True)
        self._thread.start()

    def _read(self) -> None:
        assert self._source is not None
        last_ts = -1e9
        try:
            for frame in self._source.frames():
                self.fps = self._source.fps
                if frame.ts - last_ts < 1.0 / self.keep_fps - 1e-6:
                    continue
                last_ts = frame.ts
                self._keep(frame.ts, frame.image)
        except Exception as exc:  # a decoder failure must not take the editor down
            log.exception("camera reader stopped")
            self.error = f"the camera reader stopped: {exc}"
        if not self._frames and self.error is None:
            self.error = f"the source {self.name} gave no frame"
        with self._got:
            self._got.notify_all()

    def _keep(self, ts: float, image: np.ndarray) -> None:
        ok, buf = cv2.imencode(".jpg", image, [cv2.IMWRITE_JPEG_QUALITY, self.quality])
        if not ok:
            return
        with self._got:
            self._n += 1
            self._frames.append(Kept(self._n, ts, image.shape[1], image.shape[0], buf.tobytes()))
            while self._frames and ts - self._frames[0].ts > self.keep_s:
                self._frames.popleft()
            self.error = None
            self._got.notify_all()

    def latest(self, wait_s: float = 5.0) -> Kept | None:
        """The newest frame, waiting up to ``wait_s`` for a first one (None: see :attr:`error`)."""
        deadline = time.monotonic() + wait_s
        with self._got:
            while not self._frames and self.error is None and self._alive():
                left = deadline - time.monotonic()
                if left <= 0:
                    break
                self._got.wait(left)
            return self._frames[-1] if self._frames else None

    def _alive(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    def recent(self, seconds: float) -> list[Kept]:
        """The kept frames of the last ``seconds`` (oldest first)."""
        with self._lock:
            if not self._frames:
                return []
            end = self._frames[-1].ts
            return [f for f in self._frames if end - f.ts <= seconds]

    def get(self, n: int) -> Kept | None:
        with self._lock:
            return next((f for f in self._frames if f.n == n), None)

    def problem(self) -> str | None:
        """Why there is no frame to show, in the checker's English (the page translates the case)."""
        if self.error is not None:
            return self.error
        if self._source is not None and not self._source.connected and not self._frames:
            return f"the camera {self.name} does not answer (yet); it is retried with backoff"
        return None

    def stop(self) -> None:
        if self._source is not None:
            self._source.stop()
        if self._thread is not None:
            self._thread.join(timeout=5)


def decode(kept: Kept) -> np.ndarray:
    """The BGR image of a kept frame."""
    img = cv2.imdecode(np.frombuffer(kept.jpeg, np.uint8), cv2.IMREAD_COLOR)
    assert img is not None
    return img
