"""Subject-access export: a person's own footage, with everyone else blurred.

The privacy officer finds the clips of a camera in a time window, marks the requester on one
frame (a person box, or a box drawn by hand), and the hub re-renders the stored clip:

1. YOLOX finds the persons in every frame (score >= 0.05: heads in a stored clip are already
   obscured, which lowers person scores, and a false person only means more blur); the
   requester's track is followed from the marked frame forwards and backwards by box
   overlap (held for a few frames when the detector misses them);
2. every OTHER person box is replaced by a coarse colour gradient (``edge.privacy.redact.obscure``,
   the same as the box's face blur), and so is every YuNet face (threshold 0.3, native and 2x
   size, as on the box) whose centre is outside the requester's box;
3. the result is encoded as WebM (``edge.privacy.redact.encode``) and packed into a ZIP with a
   ``manifest.json``: what, where, when, which retention applies, who exported it and why.

The stored clip is checked from its headers first (:func:`central.ingest.clipcheck.read_clip`: WebM,
one VP8/VP9 track, frame size within the hub's limits) and decoded one frame at a time, twice
(persons, then redaction straight into the encoder): memory holds a few frames, never the clip.
The export is audited (``subject_access.export``, with its reason). The hub keeps no copy.

The models, the obscuring and the encoder are the box's own, through the hub's one declared
dependency on box code beyond the wire contract: :mod:`edge.privacy.redact` (installed with the
``hub`` extra; the hub role puts the models in ``$VIGIE_MODELS``).
"""

from __future__ import annotations

import io
import json
import logging
import tempfile
import threading
import time
import zipfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from central.i18n import N_
from central.ingest.clipcheck import ClipInfo, ClipLimits, frames, read_clip
from central.ingest.ebml import ClipRefused
from edge.privacy.redact import Box, ClipError, FaceFinder, RedactionModels, encode, grow, obscure

log = logging.getLogger(__name__)

MANIFEST_SCHEMA = "vigie.subject-access/1"
TRACK_IOU = 0.3
HOLD_FRAMES = 5
OTHER_IOU = 0.5
"""A person box overlapping the requester's this much is the requester, not someone else."""


class AccessError(ValueError):
    """An export that cannot be made (the text says why)."""


@dataclass(frozen=True)
class Mark:
    """The requester, as the officer marked them: a frame and a normalised [x, y, w, h] box."""

    frame: int
    box: tuple[float, float, float, float]


def iou(a: Box, b: Box) -> float:
    ix = max(0.0, min(a[2], b[2]) - max(a[0], b[0]))
    iy = max(0.0, min(a[3], b[3]) - max(a[1], b[1]))
    inter = ix * iy
    union = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter
    return inter / union if union > 0 else 0.0


@dataclass(frozen=True)
class FrameAt:
    """One decoded frame of a stored clip, with the clip's frame count and rate."""

    image: np.ndarray
    frames: int
    fps: float


def frame_at(path: Path, k: int, limits: ClipLimits) -> FrameAt:
    """Frame ``k`` of a stored clip (checked from its headers, decoded up to ``k`` only)."""
    data, info = _checked(path, limits)
    if not 0 <= k < info.frames:
        raise AccessError(f"frame must be between 0 and {info.frames - 1}")
    image, n = None, 0
    try:
        for decoded in frames(data, info, stop=k + 1):
            image, n = decoded, n + 1
    except ClipRefused as exc:
        raise AccessError(f"the stored clip {path.name} is refused: {exc}") from None
    if image is None or n != k + 1:
        raise AccessError(f"frame {k} of the clip {path.name} does not decode")
    return FrameAt(image, info.frames, info.fps)


def _checked(path: Path, limits: ClipLimits) -> tuple[bytes, ClipInfo]:
    try:
        return read_clip(path, limits)
    except ClipRefused as exc:
        raise AccessError(f"the stored clip {path.name} is refused: {exc}") from None


def follow(persons: list[list[Box]], start: int, box: Box) -> list[Box | None]:
    """The requester's box in every frame: the best-overlapping person from the marked frame
    outwards; the last box is held up to ``HOLD_FRAMES`` frames when nobody overlaps."""
    track: list[Box | None] = [None] * len(persons)

    def best(k: int, ref: Box) -> Box | None:
        scored = [(iou(ref, p), p) for p in persons[k]]
        top = max(scored, default=(0.0, ref))
        return top[1] if top[0] >= TRACK_IOU else None

    track[start] = best(start, box) or box
    for step in (1, -1):
        ref, missed = track[start], 0
        k = start + step
        while 0 <= k < len(persons) and ref is not None:
            found = best(k, ref)
            if found is not None:
                ref, missed = found, 0
                track[k] = found
            elif missed < HOLD_FRAMES:
                missed += 1
                track[k] = ref
            else:
                break
            k += step
    return track


def redact(image: np.ndarray, keep: Box | None, persons: list[Box], faces: list[Box]) -> np.ndarray:
    """A copy of ``image`` with every person but ``keep`` and every face outside it obscured."""
    out = image.copy()
    for p in persons:
        if keep is None or iou(p, keep) < OTHER_IOU:
            obscure(out, p)
    for f in faces:
        cx, cy = (f[0] + f[2]) / 2, (f[1] + f[3]) / 2
        inside = keep is not None and keep[0] <= cx <= keep[2] and keep[1] <= cy <= keep[3]
        if not inside:
            obscure(out, grow(f, 2.0))
    return out


@dataclass(frozen=True)
class Rendered:
    """A re-rendered clip and what was done."""

    data: bytes
    frames: int
    fps: float
    track: list[Box | None]
    width: int
    height: int


Progress = Callable[[int, int], None]
"""Called with (work done, total work): each frame counts once per pass (two passes)."""


def _counted(items: Any, progress: Progress | None, offset: int, total: int) -> Any:
    for n, item in enumerate(items, start=1):
        yield item
        if progress is not None:
            progress(offset + n, total)


def render(
    clip: Path, mark: Mark, detect_persons: Callable[[np.ndarray], list[Box]], faces: FaceFinder,
    limits: ClipLimits, max_bytes: int = 64 * 1024 * 1024, progress: Progress | None = None,
) -> Rendered:
    """Re-render ``clip`` keeping the marked person and obscuring everyone else: one decoding
    pass finds the persons, a second redacts each frame straight into the encoder;
    ``progress`` hears of every frame of both passes."""
    data, info = _checked(clip, limits)
    if not 0 <= mark.frame < info.frames:
        raise AccessError(f"frame {mark.frame} is outside the clip (0..{info.frames - 1})")
    x, y, w, h = mark.box
    if not (0 <= x < 1 and 0 <= y < 1 and 0 < w <= 1 and 0 < h <= 1):
        raise AccessError("the box must be [x, y, w, h] in fractions of the frame, inside it")
    fw, fh = info.width, info.height
    box: Box = (x * fw, y * fh, (x + w) * fw, (y + h) * fh)
    try:
        total = 2 * info.frames
        persons = [detect_persons(f) for f in _counted(frames(data, info), progress, 0, total)]
        if mark.frame >= len(persons):
            raise AccessError(f"frame {mark.frame} of the clip {clip.name} does not decode")
        track = follow(persons, mark.frame, box)
        out = (redact(f, grow(k, 1.05) if k else None, p, faces.find(f)) for f, k, p in
               zip(_counted(frames(data, info, stop=len(persons)), progress, len(persons), total),
                   track, persons, strict=False))
        with tempfile.TemporaryDirectory(prefix="vigie-sar-") as tmp:
            enc = encode(out, info.fps, Path(tmp) / "export.webm", max_bytes)
            exported = enc.path.read_bytes()
    except ClipRefused as exc:
        raise AccessError(f"the stored clip {clip.name} is refused: {exc}") from None
    except ClipError as exc:
        raise AccessError(f"the export cannot be encoded: {exc}") from None
    return Rendered(exported, enc.frames, info.fps, track[:enc.frames], fw, fh)


def norm(box: Box | None, w: int, h: int) -> list[float] | None:
    if box is None:
        return None
    return [round(max(box[0], 0) / w, 4), round(max(box[1], 0) / h, 4),
            round((min(box[2], w) - max(box[0], 0)) / w, 4), round((min(box[3], h) - max(box[1], 0)) / h, 4)]


NOTE = N_("the hub keeps no copy of this export; the source clip and event are purged with the "
          "retention above")
METHOD = N_("every other person box (YOLOX, score >= 0.05) and every face outside the subject's "
            "box (YuNet, threshold 0.3, native and 2x) replaced by a 3x3 colour gradient")
SUMMARY = N_("Subject-access export of event %(event)s (%(type)s) on %(site)s/%(camera)s, "
             "%(start)s to %(end)s: %(frames)d frames, the requester followed on %(tracked)d of "
             "them, everyone else obscured. Made by %(actor)s on %(made)s for: %(reason)s. The "
             "source clip is purged after %(purge)s (retention %(days)d days, legal maximum "
             "%(max)d).")


def package(event: dict[str, Any], clip_sha256: str, rendered: Rendered, mark: Mark, reason: str,
            actor: str, retention_days: int, models: dict[str, str],
            language: str = "fr") -> tuple[bytes, dict[str, Any]]:
    """The ZIP (``clip.webm`` + ``manifest.json``) and its manifest, its texts in ``language``."""
    import hashlib
    from datetime import datetime, timedelta

    from central.i18n import label, translator, when
    from central.privacy.inventory import LEGAL_MAX_DAYS
    from edge.wire.messages import utc_iso

    _ = translator(language)

    started = datetime.fromisoformat(event["started_at"].replace("Z", "+00:00"))
    purge_at = (started + timedelta(days=retention_days)).strftime("%Y-%m-%dT%H:%M:%SZ")
    manifest: dict[str, Any] = {
        "schema": MANIFEST_SCHEMA, "language": language,
        "generated_at": utc_iso(time.time()), "generated_by": actor, "reason": reason,
        "what": {"event_id": event["id"], "type": event["type"], "severity": event["severity"],
                 "zone": event["zone"], "source_clip_sha256": clip_sha256,
                 "export_sha256": hashlib.sha256(rendered.data).hexdigest(),
                 "frames": rendered.frames, "fps": rendered.fps,
                 "duration_s": round(rendered.frames / rendered.fps, 3)},
        "where": {"site": event["site"], "camera": event["camera"]},
        "when": {"started_at": event["started_at"], "ended_at": event["ended_at"]},
        "retention": {"days": retention_days, "legal_max_days": LEGAL_MAX_DAYS,
                      "source_clip_purged_after": purge_at,
                      "note": _(NOTE)},
        "subject": {"marked_frame": mark.frame, "marked_box": list(mark.box),
                    "frames_tracked": sum(1 for t in rendered.track if t is not None),
                    "track": [norm(t, rendered.width, rendered.height) for t in rendered.track]},
        "others": {"method": _(METHOD), "models": models},
    }
    tracked = sum(1 for t in rendered.track if t is not None)
    summary = _(SUMMARY) % {
        "event": event["id"], "type": label("event_type", event["type"], _), "site": event["site"],
        "camera": event["camera"], "start": when(event["started_at"], language),
        "end": when(event["ended_at"], language), "frames": rendered.frames, "tracked": tracked,
        "actor": actor, "made": when(manifest["generated_at"], language), "reason": reason,
        "purge": when(purge_at, language), "days": retention_days, "max": LEGAL_MAX_DAYS}
    manifest["summary"] = summary
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as z:
        z.writestr("clip.webm", rendered.data)
        z.writestr("manifest.json", json.dumps(manifest, indent=2, ensure_ascii=False))
        z.writestr("LISEZMOI.txt" if language == "fr" else "README.txt", summary + "\n")
    return buf.getvalue(), manifest


class Redactor:
    """The models an export needs (:class:`edge.privacy.redact.RedactionModels`), loaded once
    per process, and one export at a time through them."""

    _shared: Redactor | None = None

    def __init__(self, models_dir: Path | None = None):
        self._models = RedactionModels(models_dir)
        self.faces = self._models.faces
        self.models = self._models.models
        self.per_frame_s: float | None = None
        """Measured seconds per frame of the last export (the estimate of the next)."""

    @classmethod
    def shared(cls, models_dir: Path | None = None) -> Redactor:
        if cls._shared is None:
            cls._shared = cls(models_dir)
        return cls._shared

    def persons(self, image: np.ndarray) -> list[Box]:
        return self._models.persons(image)

    def render(self, clip: Path, mark: Mark, limits: ClipLimits,
               progress: Progress | None = None) -> Rendered:
        with _LOCK:  # one export at a time: the models are not shared between threads
            t0 = time.perf_counter()
            out = render(clip, mark, self.persons, self.faces, limits, progress=progress)
            if out.frames:
                self.per_frame_s = (time.perf_counter() - t0) / out.frames
            return out

    def measure(self, image: np.ndarray) -> float:
        """Seconds an export spends on one frame like ``image``: the last export's measure,
        else persons + faces + redaction timed on this frame (encoding and decoding add ~10 %)."""
        if self.per_frame_s is not None:
            return self.per_frame_s
        t0 = time.perf_counter()
        persons = self.persons(image)
        faces = self.faces.find(image)
        redact(image, None, persons, faces)
        return (time.perf_counter() - t0) * 1.1


def person_at(persons: list[Box], x: float, y: float, width: int, height: int) -> Box | None:
    """The person box holding the normalised point (x, y), the smallest when boxes overlap;
    None when the point is on nobody. :class:`AccessError` when it is outside the frame."""
    if not (0 <= x <= 1 and 0 <= y <= 1):
        raise AccessError("the point must be inside the frame (fractions 0..1)")
    px, py = x * width, y * height
    holding = [p for p in persons if p[0] <= px <= p[2] and p[1] <= py <= p[3]]
    return min(holding, key=lambda p: (p[2] - p[0]) * (p[3] - p[1])) if holding else None


_LOCK = threading.Lock()
