"""Event clips: pre/post-roll assembly, anonymised and encoded in a worker thread, off the detection loop.

Every frame goes through the :class:`~edge.privacy.faces.Anonymiser` before it is encoded
(:mod:`edge.clips.encode`).
"""

from __future__ import annotations

import hashlib
import logging
import queue
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from edge.clips.encode import ClipError, ClipFile, encode, fit, timeline
from edge.clips.overlay import Shape, draw
from edge.clips.preroll import PreRoll, StoredFrame, compress
from edge.config_wings import ClipsConfig
from edge.privacy.faces import Anonymiser
from edge.records import Box

log = logging.getLogger(__name__)


def make_clip(
    frames: list[StoredFrame], start: float, end: float, cfg: ClipsConfig, anonymise: Anonymiser,
    path: Path, shape: Shape | None = None,
) -> ClipFile:
    """Anonymise, draw the event's ``shape`` and each frame's boxes (``cfg.overlay``), fit to
    ``cfg.max_width`` x ``cfg.max_height`` and encode the stored frames covering ``[start, end)``."""
    if not frames:
        raise ClipError("no frames in the pre-roll or post-roll")
    frames = sorted(frames, key=lambda f: f.ts)
    start = max(start, frames[0].ts)
    picks = timeline([f.ts for f in frames], start, end, cfg.fps)
    cache: dict[int, np.ndarray] = {}

    def images() -> Iterable[np.ndarray]:
        for i in picks:
            if i not in cache:
                cache.clear()
                f = frames[i]
                image = anonymise(f.decode(), f.persons)
                if cfg.overlay:
                    draw(image, shape, f.boxes)
                cache[i] = fit(image, cfg.max_width, cfg.max_height)
            yield cache[i]

    return encode(images(), cfg.fps, path, cfg.max_bytes)


# -- the worker -------------------------------------------------------------------------------
@dataclass
class _Job:
    event_id: str
    start: float
    end: float
    frames: list[StoredFrame] = field(default_factory=list)
    shape: Shape | None = None


ClipDone = Callable[[str, ClipFile | None, str], None]
"""``on_done(event_id, clip or None, reason)``: called from the worker thread."""
ClipMaking = Callable[[str], None]
"""``on_making(event_id)``: the worker starts encoding this event's clip."""


class ClipMaker:
    """Collects pre/post-roll for each event start and encodes clips in a worker thread.

    :meth:`observe` is called by the detection loop for every frame and only JPEG-encodes
    it; decoding, face detection, blurring and VP8 encoding happen in the worker, so the
    loop never waits for a clip.
    """

    def __init__(self, cfg: ClipsConfig, anonymise: Anonymiser, out_dir: Path, on_done: ClipDone,
                 on_making: ClipMaking | None = None):
        self.cfg = cfg
        self.anonymise = anonymise
        self.out_dir = out_dir
        out_dir.mkdir(parents=True, exist_ok=True)
        for stale in out_dir.glob("*.part.webm"):
            stale.unlink(missing_ok=True)
        self.on_done = on_done
        self.on_making = on_making
        interval = 1.0 / cfg.preroll_fps if cfg.preroll_fps else 0.0
        self.preroll = PreRoll(cfg.pre_s, cfg.preroll_max_bytes, interval)
        self._open: list[_Job] = []
        self._queue: queue.Queue[_Job | None] = queue.Queue()
        self._busy = 0
        self._lock = threading.Lock()
        self._thread = threading.Thread(target=self._run, name="clips", daemon=True)
        self._thread.start()

    def observe(self, ts: float, image: np.ndarray, persons: tuple[Box, ...],
                boxes: tuple[Box, ...] = ()) -> None:
        """Record one (already masked) frame, the person boxes found in it (blurred heads)
        and every detection box (drawn on the clip)."""
        if not self._open and not self.preroll.wants(ts):
            return
        stored = compress(ts, image, persons, self.cfg.jpeg_quality, self.cfg.preroll_max_width,
                          boxes)
        if self.preroll.wants(ts):
            self.preroll.push(stored)
        done = []
        for job in self._open:
            job.frames.append(stored)
            if ts >= job.end:
                done.append(job)
        for job in done:
            self._open.remove(job)
            self._queue.put(job)

    def start(self, event_id: str, ts: float, shape: Shape | None = None) -> bool:
        """Begin a clip for an event that started at media time ``ts`` (``shape``: its zone or
        line, drawn on the clip); False if too busy."""
        with self._lock:
            if self._busy >= self.cfg.max_pending:
                log.warning("clip for event %s skipped: %d clips already in progress",
                            event_id, self._busy)
                return False
            self._busy += 1
        job = _Job(event_id, ts - self.cfg.pre_s, ts + self.cfg.post_s,
                   self.preroll.snapshot(ts - self.cfg.pre_s), shape)
        self._open.append(job)
        return True

    def flush(self) -> None:
        """The source ended: finish every open clip with the frames it has."""
        for job in self._open:
            if job.frames:
                job.end = min(job.end, job.frames[-1].ts + 1.0 / self.cfg.fps)
            self._queue.put(job)
        self._open.clear()

    def finished(self, event_id: str) -> ClipFile | None:
        """The encoded clip of ``event_id`` left by an earlier run, if its encoding finished
        (a clip file is renamed into place only then), else None."""
        path = self.out_dir / f"{event_id}.webm"
        try:
            data = path.read_bytes()
        except OSError:
            return None
        if not data:
            return None
        return ClipFile(path, hashlib.sha256(data).hexdigest(), len(data), 0, 0.0)

    @property
    def pending(self) -> int:
        with self._lock:
            return self._busy

    def wait_idle(self, timeout: float) -> bool:
        """Wait until every started clip is encoded (or failed), at most ``timeout`` s."""
        deadline = time.monotonic() + timeout
        while self.pending and time.monotonic() < deadline:
            time.sleep(0.05)
        return not self.pending

    def stop(self) -> None:
        self._queue.put(None)
        self._thread.join(timeout=2)  # callers wait for clips first (ClipFlow.finish)

    def _run(self) -> None:
        while True:
            job = self._queue.get()
            if job is None:
                return
            clip: ClipFile | None = None
            reason = "ok"
            if self.on_making is not None:
                try:
                    self.on_making(job.event_id)
                except Exception:  # a status message that failed must not cost the clip
                    log.exception("clip status 'making' not stored for event %s", job.event_id)
            try:
                path = self.out_dir / f"{job.event_id}.webm"
                clip = make_clip(job.frames, job.start, job.end, self.cfg, self.anonymise, path,
                                 job.shape)
                log.info("clip for event %s: %d frames, %.1f s, %d bytes", job.event_id,
                         clip.frames, clip.duration_s, clip.bytes)
            except Exception as exc:  # a failed clip must never stop the worker
                reason = str(exc)
                log.error("clip for event %s failed: %s", job.event_id, exc)
            try:
                self.on_done(job.event_id, clip, reason)
            except Exception:
                log.exception("clip callback failed for event %s", job.event_id)
            finally:
                with self._lock:
                    self._busy -= 1

