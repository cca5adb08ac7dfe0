"""Event clips: pre/post-roll assembly, anonymised and encoded in worker threads, off the detection loop.

Every frame goes through the :class:`~edge.privacy.faces.Anonymiser` before it is encoded
(:mod:`edge.clips.encode`). A clip is encoded while it is recorded: at the event start its
job goes to a worker with the pre-roll, which it anonymises and encodes at once, then each
post-roll frame as the detection loop hands it on (:class:`Feed`); when the post-roll ends
only its last frames are left, so the clip is ready about when its recording ends.
"""

from __future__ import annotations

import hashlib
import logging
import queue
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from edge.clips.encode import ClipError, ClipFile, encode, fit
from edge.clips.overlay import Shape, draw
from edge.clips.preroll import PreRoll, StoredFrame, compress
from edge.config_wings import ClipsConfig
from edge.privacy.faces import Anonymiser
from edge.records import Box

log = logging.getLogger(__name__)

WORKERS = 2
"""Clips encoded at once when the maker can build an anonymiser per worker (each its own face
model: an OpenCV network is not shared between threads); two overlapping events both advance."""


class Feed:
    """The frames of one clip, in time order, growing until :meth:`close` (thread-safe)."""

    def __init__(self, start: float, end: float, frames: Iterable[StoredFrame] = (),
                 closed: bool = False):
        self.start = start
        self.end = end
        self._frames = sorted(frames, key=lambda f: f.ts)
        self._cond = threading.Condition()
        self.closed = closed

    def add(self, frame: StoredFrame) -> None:
        with self._cond:
            self._frames.append(frame)
            self._cond.notify_all()

    def close(self, end: float | None = None) -> None:
        """No more frames (``end``: the clip ends earlier than planned, at this time)."""
        with self._cond:
            if end is not None:
                self.end = min(self.end, end)
            self.closed = True
            self._cond.notify_all()

    @property
    def frames(self) -> list[StoredFrame]:
        with self._cond:
            return list(self._frames)

    @property
    def last_ts(self) -> float | None:
        with self._cond:
            return self._frames[-1].ts if self._frames else None

    def get(self, i: int) -> StoredFrame | None:
        """Frame ``i``, waiting for it while the feed is open; None when it will never come."""
        with self._cond:
            while len(self._frames) <= i and not self.closed:
                self._cond.wait(1.0)
            return self._frames[i] if i < len(self._frames) else None


def picks(feed: Feed, fps: float) -> Iterator[tuple[int, StoredFrame]]:
    """For each output tick from the clip's start to ``feed.end`` at ``fps``, the latest frame at
    or before it (index, frame): the clip lasts ``end - start`` whatever the input rate. A tick
    is yielded as soon as the frame after it has arrived (or the feed is closed)."""
    cur = feed.get(0)
    if cur is None:
        raise ClipError("no frames in the pre-roll or post-roll")
    start, j, k = max(feed.start, cur.ts), 0, 0
    while k < max(round((feed.end - start) * fps), 1):
        t = start + k / fps + 1e-6
        nxt = feed.get(j + 1)
        while nxt is not None and nxt.ts <= t:
            j, cur = j + 1, nxt
            nxt = feed.get(j + 1)
        yield j, cur
        k += 1


def stream_clip(feed: Feed, cfg: ClipsConfig, anonymise: Anonymiser, path: Path,
                shape: Shape | None = None) -> ClipFile:
    """Anonymise, draw the event's ``shape`` and each frame's boxes (``cfg.overlay``), fit to
    ``cfg.max_width`` x ``cfg.max_height`` and encode the frames of ``feed`` as they come."""
    cache: dict[int, np.ndarray] = {}

    def images() -> Iterable[np.ndarray]:
        for i, f in picks(feed, cfg.fps):
            if i not in cache:
                cache.clear()
                image = anonymise(f.decode(), f.persons)
                if cfg.overlay:
                    draw(image, shape, f.boxes)
                cache[i] = fit(image, cfg.max_width, cfg.max_height)
            yield cache[i]

    return encode(images(), cfg.fps, path, cfg.max_bytes)


def make_clip(
    frames: list[StoredFrame], start: float, end: float, cfg: ClipsConfig, anonymise: Anonymiser,
    path: Path, shape: Shape | None = None,
) -> ClipFile:
    """The clip of stored ``frames`` covering ``[start, end)`` (see :func:`stream_clip`)."""
    return stream_clip(Feed(start, end, frames, closed=True), cfg, anonymise, path, shape)


# -- the worker -------------------------------------------------------------------------------
@dataclass
class _Job:
    event_id: str
    feed: Feed
    shape: Shape | None = None
    started: float = field(default_factory=time.monotonic)


ClipDone = Callable[[str, ClipFile | None, str], None]
"""``on_done(event_id, clip or None, reason)``: called from a worker thread."""
ClipMaking = Callable[[str], None]
"""``on_making(event_id)``: a worker starts encoding this event's clip."""
Anonymisers = Anonymiser | Callable[[], Anonymiser]
"""One anonymiser (one worker), or a factory of one per worker (:data:`WORKERS`)."""


class ClipMaker:
    """Collects pre/post-roll for each event start and encodes clips in worker threads.

    :meth:`observe` is called by the detection loop for every frame and only JPEG-encodes
    it; decoding, face detection, blurring and VP8 encoding happen in the workers, so the
    loop never waits for a clip.
    """

    def __init__(self, cfg: ClipsConfig, anonymise: Anonymisers, out_dir: Path, on_done: ClipDone,
                 on_making: ClipMaking | None = None):
        self.cfg = cfg
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
        made = ([anonymise] if isinstance(anonymise, Anonymiser)
                else [anonymise() for _ in range(min(WORKERS, cfg.max_pending))])
        self._threads = [threading.Thread(target=self._run, args=(a,), name=f"clips-{n}",
                                          daemon=True) for n, a in enumerate(made)]
        for t in self._threads:
            t.start()

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
        for job in list(self._open):
            job.feed.add(stored)
            if ts >= job.feed.end:  # the post-roll is recorded
                self._open.remove(job)
                job.feed.close()

    def start(self, event_id: str, ts: float, shape: Shape | None = None) -> bool:
        """Begin a clip for an event that started at media time ``ts`` (``shape``: its zone or
        line, drawn on the clip); False if too busy. Its encoding starts at once."""
        with self._lock:
            if self._busy >= self.cfg.max_pending:
                log.warning("clip for event %s skipped: %d clips already in progress",
                            event_id, self._busy)
                return False
            self._busy += 1
        feed = Feed(ts - self.cfg.pre_s, ts + self.cfg.post_s,
                    self.preroll.snapshot(ts - self.cfg.pre_s))
        job = _Job(event_id, feed, shape)
        self._open.append(job)
        self._queue.put(job)
        return True

    def flush(self) -> None:
        """The source ended: finish every open clip with the frames it has."""
        for job in self._open:
            last = job.feed.last_ts
            job.feed.close(None if last is None else last + 1.0 / self.cfg.fps)
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
        self.flush()  # a worker waiting for frames that will never come ends its clip
        for _ in self._threads:
            self._queue.put(None)
        for t in self._threads:
            t.join(timeout=2)  # callers wait for clips first (ClipFlow.finish)

    def _run(self, anonymise: Anonymiser) -> None:
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
                clip = stream_clip(job.feed, self.cfg, anonymise, path, job.shape)
                log.info("clip for event %s: %d frames, %.1f s, %d bytes, ready %.1f s after "
                         "its start", job.event_id, clip.frames, clip.duration_s, clip.bytes,
                         time.monotonic() - job.started)
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
