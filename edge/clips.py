"""Event clips: pre/post-roll assembly, anonymisation, WebM encoding, off the detection loop.

Anonymisation runs on every frame, in this order, before anything is encoded:

1. privacy masks: polygons of the camera config filled black (they are also applied to the
   frame before detection, see :func:`MaskPainter.apply`);
2. faces: YuNet (``cv2.FaceDetectorYN``) on the frame upscaled by ``face_scale``, so small
   faces are found; every face box (doubled) is replaced by a smooth colour gradient;
3. persons (default): the head region of every person box is blurred too, so a face YuNet
   misses is still hidden.

The encoded format is WebM/VP8 through OpenCV's FFmpeg backend (``VP80``), which Chromium
plays in a ``<video>`` element; the H.264 encoder of the opencv-python-headless wheel is not
usable here (it needs a hardware device).
"""

from __future__ import annotations

import hashlib
import logging
import os
import queue
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path

import cv2
import numpy as np

from edge.config import ClipsConfig, PrivacyMask
from edge.preroll import PreRoll, StoredFrame, compress
from edge.records import Box

log = logging.getLogger(__name__)

CLIP_MIME = "video/webm"
FOURCC = "VP80"


class ClipError(Exception):
    """A clip that could not be made (encoder missing, over the size limit...)."""


# -- privacy masks ---------------------------------------------------------------------------
class MaskPainter:
    """Blacks out the configured polygons; the pixel mask is cached per frame size."""

    def __init__(self, masks: Iterable[PrivacyMask]):
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


# -- faces and heads ------------------------------------------------------------------------
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


# -- encoding -----------------------------------------------------------------------------
@dataclass(frozen=True)
class ClipFile:
    """An encoded clip on the box's disk."""

    path: Path
    sha256: str
    bytes: int
    frames: int
    duration_s: float


def timeline(stamps: list[float], start: float, end: float, fps: float) -> list[int]:
    """For each output tick from ``start`` to ``end`` at ``fps``, the index of the latest
    input frame at or before it (so the clip lasts ``end - start`` whatever the input rate)."""
    n = max(round((end - start) * fps), 1)
    out, j = [], 0
    for k in range(n):
        t = start + k / fps + 1e-6
        while j + 1 < len(stamps) and stamps[j + 1] <= t:
            j += 1
        out.append(j)
    return out


def encode(images: Iterable[np.ndarray], fps: float, path: Path, max_bytes: int) -> ClipFile:
    """Encode BGR frames to WebM/VP8 at ``path``; refuse a result over ``max_bytes``."""
    writer: cv2.VideoWriter | None = None
    n = 0
    tmp = path.with_suffix(".part.webm")
    try:
        for image in images:
            if writer is None:
                h, w = image.shape[:2]
                writer = cv2.VideoWriter(str(tmp), cv2.VideoWriter.fourcc(*FOURCC), fps, (w, h))
                if not writer.isOpened():
                    raise ClipError("OpenCV cannot encode WebM/VP8 here (FFmpeg backend missing?)")
            writer.write(image)
            n += 1
    finally:
        if writer is not None:
            writer.release()
    if n == 0:
        tmp.unlink(missing_ok=True)
        raise ClipError("no frames to encode")
    size = tmp.stat().st_size
    if size > max_bytes:
        tmp.unlink(missing_ok=True)
        raise ClipError(f"clip of {size} bytes exceeds clips.max_bytes = {max_bytes}")
    os.replace(tmp, path)
    digest = hashlib.sha256(path.read_bytes()).hexdigest()
    return ClipFile(path, digest, size, n, n / fps)


def fit(image: np.ndarray, max_width: int, max_height: int) -> np.ndarray:
    """``image`` scaled down (aspect kept, even sizes) to fit ``max_width`` x ``max_height``."""
    h, w = image.shape[:2]
    scale = min(max_width / w, max_height / h)
    if scale >= 1.0:
        return image
    size = (max(2, int(w * scale) // 2 * 2), max(2, int(h * scale) // 2 * 2))
    return cv2.resize(image, size, interpolation=cv2.INTER_AREA)


def make_clip(
    frames: list[StoredFrame], start: float, end: float, cfg: ClipsConfig, anonymise: Anonymiser,
    path: Path,
) -> ClipFile:
    """Anonymise, fit to ``cfg.max_width`` x ``cfg.max_height`` and encode the stored frames
    covering ``[start, end)``."""
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
                cache[i] = fit(anonymise(f.decode(), f.persons), cfg.max_width, cfg.max_height)
            yield cache[i]

    return encode(images(), cfg.fps, path, cfg.max_bytes)


# -- the worker -------------------------------------------------------------------------------
@dataclass
class _Job:
    event_id: str
    start: float
    end: float
    frames: list[StoredFrame] = field(default_factory=list)


ClipDone = Callable[[str, ClipFile | None, str], None]
"""``on_done(event_id, clip or None, reason)``: called from the worker thread."""


class ClipMaker:
    """Collects pre/post-roll for each event start and encodes clips in a worker thread.

    :meth:`observe` is called by the detection loop for every frame and only JPEG-encodes
    it; decoding, face detection, blurring and VP8 encoding happen in the worker, so the
    loop never waits for a clip.
    """

    def __init__(self, cfg: ClipsConfig, anonymise: Anonymiser, out_dir: Path, on_done: ClipDone):
        self.cfg = cfg
        self.anonymise = anonymise
        self.out_dir = out_dir
        out_dir.mkdir(parents=True, exist_ok=True)
        for stale in out_dir.glob("*.part.webm"):
            stale.unlink(missing_ok=True)
        self.on_done = on_done
        interval = 1.0 / cfg.preroll_fps if cfg.preroll_fps else 0.0
        self.preroll = PreRoll(cfg.pre_s, cfg.preroll_max_bytes, interval)
        self._open: list[_Job] = []
        self._queue: queue.Queue[_Job | None] = queue.Queue()
        self._busy = 0
        self._lock = threading.Lock()
        self._thread = threading.Thread(target=self._run, name="clips", daemon=True)
        self._thread.start()

    def observe(self, ts: float, image: np.ndarray, persons: tuple[Box, ...]) -> None:
        """Record one (already masked) frame and the person boxes found in it."""
        if not self._open and not self.preroll.wants(ts):
            return
        stored = compress(ts, image, persons, self.cfg.jpeg_quality, self.cfg.preroll_max_width)
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

    def start(self, event_id: str, ts: float) -> bool:
        """Begin a clip for an event that started at media time ``ts``; False if too busy."""
        with self._lock:
            if self._busy >= self.cfg.max_pending:
                log.warning("clip for event %s skipped: %d clips already in progress",
                            event_id, self._busy)
                return False
            self._busy += 1
        job = _Job(event_id, ts - self.cfg.pre_s, ts + self.cfg.post_s,
                   self.preroll.snapshot(ts - self.cfg.pre_s))
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
            try:
                path = self.out_dir / f"{job.event_id}.webm"
                clip = make_clip(job.frames, job.start, job.end, self.cfg, self.anonymise, path)
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

