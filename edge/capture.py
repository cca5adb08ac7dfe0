"""Video sources (file, RTSP, USB) through OpenCV, with reconnect and a latest-frame slot.

A reader thread decodes frames as the source delivers them and keeps only the newest one:
when detection is slower than the camera, old frames are dropped rather than queued, so
events are never late by more than one frame. A file in non-realtime mode is read frame by
frame with no dropping (for replay, tests and benchmarks).
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import cv2
import numpy as np

from edge.config import SourceConfig
from edge.records import Frame

log = logging.getLogger(__name__)


class SourceError(Exception):
    """A source that cannot be opened at all (e.g. a file that does not exist)."""


class VideoSource:
    """Frames from one camera. Iterate :meth:`frames`; call :meth:`stop` to end."""

    def __init__(self, cfg: SourceConfig):
        self.cfg = cfg
        self.is_file = cfg.url is not None and "://" not in cfg.url
        if self.is_file and not Path(str(cfg.url)).is_file():
            raise SourceError(f"video file {cfg.url} does not exist")
        self._stop = threading.Event()
        self._slot: Frame | None = None
        self._cond = threading.Condition()
        self._thread: threading.Thread | None = None
        self.frames_in = 0
        self.connected = False
        self.fps = 0.0

    @property
    def name(self) -> str:
        return str(self.cfg.url) if self.cfg.url is not None else f"usb:{self.cfg.device}"

    def _open(self) -> cv2.VideoCapture:
        target: str | int = self.cfg.url if self.cfg.url is not None else int(self.cfg.device or 0)
        cap = cv2.VideoCapture(target)
        if not cap.isOpened():
            cap.release()
            raise OSError(f"cannot open video source {self.name}")
        return cap

    def frames(self) -> Iterator[Frame]:
        """Yield frames until the source ends (a non-looping file) or :meth:`stop`."""
        if self.is_file and not self.cfg.realtime:
            yield from self._read_all()
            return
        self._thread = threading.Thread(target=self._reader, name="capture", daemon=True)
        self._thread.start()
        last_index = -1
        while True:
            with self._cond:
                while not self._stop.is_set() and (self._slot is None or self._slot.index == last_index):
                    if self._thread is not None and not self._thread.is_alive():
                        return
                    self._cond.wait(0.2)
                if self._stop.is_set():
                    return
                frame = self._slot
            assert frame is not None
            last_index = frame.index
            yield frame

    def _read_all(self) -> Iterator[Frame]:
        """Non-realtime file reading: every frame, media timestamps, optional loop."""
        cap = self._open()
        self.connected = True
        fps = cap.get(cv2.CAP_PROP_FPS) or 10.0
        self.fps = fps
        index = 0
        start_wall = time.time()
        try:
            while not self._stop.is_set():
                ok, image = cap.read()
                if not ok:
                    if self.cfg.loop and index > 0:
                        cap.set(cv2.CAP_PROP_POS_FRAMES, 0)
                        continue
                    return
                ts = index / fps
                self.frames_in += 1
                yield Frame(index, ts, start_wall + ts, image)
                index += 1
        finally:
            cap.release()

    def _publish(self, frame: Frame) -> None:
        with self._cond:
            self._slot = frame
            self._cond.notify_all()

    def _reader(self) -> None:
        """Read continuously into the latest-frame slot, reconnecting with backoff."""
        delay = self.cfg.reconnect_initial_s
        index = 0
        t0 = time.monotonic()
        while not self._stop.is_set():
            try:
                cap = self._open()
            except OSError as exc:
                self.connected = False
                log.warning("%s; retrying in %.1f s", exc, delay)
                self._stop.wait(delay)
                delay = min(delay * 2, self.cfg.reconnect_max_s)
                continue
            self.connected = True
            fps = cap.get(cv2.CAP_PROP_FPS) or 0.0
            self.fps = fps
            period = 1.0 / fps if (self.is_file and fps > 0) else 0.0
            next_due = time.monotonic()
            got_any = False
            while not self._stop.is_set():
                ok, image = cap.read()
                if not ok or image is None:
                    break
                got_any = True
                delay = self.cfg.reconnect_initial_s
                if period:
                    next_due += period
                    pause = next_due - time.monotonic()
                    if pause > 0:
                        self._stop.wait(pause)
                    else:
                        next_due = time.monotonic()
                self.frames_in += 1
                self._publish(Frame(index, time.monotonic() - t0, time.time(), _own(image)))
                index += 1
            cap.release()
            self.connected = False
            if self._stop.is_set():
                break
            if self.is_file:
                if self.cfg.loop and got_any:
                    continue
                log.info("end of file %s", self.name)
                break
            log.warning("stream %s dropped; reconnecting in %.1f s", self.name, delay)
            self._stop.wait(delay)
            delay = min(delay * 2, self.cfg.reconnect_max_s)
        with self._cond:
            self._cond.notify_all()

    def stop(self) -> None:
        self._stop.set()
        with self._cond:
            self._cond.notify_all()
        if self._thread is not None:
            self._thread.join(timeout=5)


def _own(image: np.ndarray) -> np.ndarray:
    return image if image.flags.owndata else image.copy()
