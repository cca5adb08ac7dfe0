"""The anonymised still of an event start: one frame, the clip's anonymisation, the event drawn.

When an event starts, the frame that started it is handed to :class:`StillMaker`'s worker
thread (the detection loop never waits): the same :class:`~edge.privacy.faces.Anonymiser` as
clips (privacy masks, faces, person heads; nothing more), then the event's zone or line and its
object boxes (:mod:`edge.clips.overlay`, ``clips.overlay``), then scaled to fit
``clips.still_max_width`` x ``still_max_height`` and JPEG-encoded under ``still_max_bytes``
(quality lowered, then size, until it fits). The file is written whole (renamed into place)
and uploaded by :mod:`edge.clips.flow` through egress and the ledger like a clip.
"""

from __future__ import annotations

import hashlib
import logging
import os
import queue
import threading
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from edge.clips.encode import fit
from edge.clips.overlay import Shape, draw
from edge.config_wings import ClipsConfig
from edge.privacy.faces import Anonymiser
from edge.records import Box

log = logging.getLogger(__name__)

STILL_MIME = "image/jpeg"
MAX_QUEUED = 16
"""Stills waiting for the worker; an event start beyond that gets no still (never a stall)."""


class StillError(Exception):
    """A still that could not be made (the text says why)."""


@dataclass(frozen=True)
class StillFile:
    """An encoded still on the box's disk."""

    path: Path
    sha256: str
    bytes: int
    width: int
    height: int
    taken_at: str
    """UTC ISO time of the frame (the event's ``started_at``)."""


def encode_still(image: np.ndarray, cfg: ClipsConfig) -> tuple[bytes, int, int]:
    """``image`` fitted to the still bounds and JPEG-encoded within ``cfg.still_max_bytes``:
    ``(jpeg, width, height)``."""
    out = fit(image, cfg.still_max_width, cfg.still_max_height)
    quality = cfg.still_jpeg_quality
    while True:
        ok, buf = cv2.imencode(".jpg", out, [cv2.IMWRITE_JPEG_QUALITY, quality])
        if not ok:
            raise StillError("JPEG encoding failed")
        if buf.size <= cfg.still_max_bytes:
            return bytes(buf.tobytes()), out.shape[1], out.shape[0]
        if quality > 40:
            quality -= 15
        elif out.shape[1] > 160:
            out = fit(out, int(out.shape[1] * 0.7), int(out.shape[0] * 0.7))
        else:
            raise StillError(f"still over clips.still_max_bytes = {cfg.still_max_bytes}")


def make_still(image: np.ndarray, persons: tuple[Box, ...], boxes: tuple[Box, ...],
               shape: Shape | None, anonymise: Anonymiser, cfg: ClipsConfig
               ) -> tuple[bytes, int, int]:
    """The JPEG still of one (already masked) frame: anonymised, the event drawn, bounded."""
    out = anonymise(image, persons)
    if cfg.overlay:
        draw(out, shape, boxes)
    return encode_still(out, cfg)


@dataclass(frozen=True)
class _Job:
    event_id: str
    taken_at: str
    image: np.ndarray
    persons: tuple[Box, ...]
    boxes: tuple[Box, ...]
    shape: Shape | None


StillDone = Callable[[str, StillFile | None, str], None]
"""``on_done(event_id, still or None, reason)``: called from the worker thread."""


class StillMaker:
    """Makes stills in a worker thread, one file per event in ``out_dir``."""

    def __init__(self, cfg: ClipsConfig, anonymise: Anonymiser, out_dir: Path, on_done: StillDone):
        self.cfg = cfg
        self.anonymise = anonymise
        self.out_dir = out_dir
        out_dir.mkdir(parents=True, exist_ok=True)
        for stale in out_dir.glob("*.part.jpg"):
            stale.unlink(missing_ok=True)
        self.on_done = on_done
        self._queue: queue.Queue[_Job | None] = queue.Queue(MAX_QUEUED)
        self._thread = threading.Thread(target=self._run, name="stills", daemon=True)
        self._thread.start()

    def submit(self, event_id: str, taken_at: str, image: np.ndarray, persons: tuple[Box, ...],
               boxes: tuple[Box, ...], shape: Shape | None) -> bool:
        """Queue the still of an event start (``image`` is copied); False when too busy."""
        try:
            self._queue.put_nowait(_Job(event_id, taken_at, image.copy(), persons, boxes, shape))
        except queue.Full:
            log.warning("still for event %s skipped: %d stills already waiting", event_id,
                        MAX_QUEUED)
            return False
        return True

    def wait_idle(self, timeout: float) -> bool:
        """Wait until every queued still is made, at most ``timeout`` s."""
        done = threading.Event()

        def join() -> None:
            self._queue.join()
            done.set()

        threading.Thread(target=join, daemon=True).start()
        return done.wait(timeout)

    def stop(self) -> None:
        try:
            self._queue.put(None, timeout=1)
        except queue.Full:
            return
        self._thread.join(timeout=2)

    def _make(self, job: _Job) -> StillFile:
        data, width, height = make_still(job.image, job.persons, job.boxes, job.shape,
                                         self.anonymise, self.cfg)
        path = self.out_dir / f"{job.event_id}.jpg"
        tmp = path.with_suffix(".part.jpg")
        tmp.write_bytes(data)
        os.replace(tmp, path)
        return StillFile(path, hashlib.sha256(data).hexdigest(), len(data), width, height,
                         job.taken_at)

    def _run(self) -> None:
        while True:
            job = self._queue.get()
            try:
                if job is None:
                    return
                still: StillFile | None = None
                reason = "ok"
                try:
                    still = self._make(job)
                    log.info("still for event %s: %d bytes", job.event_id, still.bytes)
                except Exception as exc:  # a failed still must never stop the worker
                    reason = str(exc)
                    log.error("still for event %s failed: %s", job.event_id, exc)
                try:
                    self.on_done(job.event_id, still, reason)
                except Exception:
                    log.exception("still callback failed for event %s", job.event_id)
            finally:
                self._queue.task_done()
