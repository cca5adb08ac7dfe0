""""Try it": the box pipeline on recent frames (or a chosen file) with the unsaved config.

The frames kept by the session are written to a temporary video, and
:func:`edge.tools.replay.replay` runs detector, tracker and rules on it exactly as ``vigie edge
replay`` does, writing its annotated copy; the frames on which events start or end are read
back from it as JPEG for the page. Everything lives in a temporary folder removed at the end;
nothing is published or written to the box's data folder.
"""

from __future__ import annotations

import logging
import tempfile
import threading
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import cv2

from edge.config import BoxConfig
from edge.setup.frames import Kept, decode

log = logging.getLogger(__name__)

EVENT_KEYS = ("type", "state", "zone", "severity", "frame", "t")
"""What the page lists of each event message a run produces."""
MAX_SHOTS = 40
"""Annotated frames kept per run (each event's start and end)."""


@dataclass
class TryRun:
    """One run's progress and outcome, read by the page while it runs."""

    id: str
    total: int
    done: int = 0
    state: str = "running"
    """``running``, ``done`` or ``failed``."""
    error: str | None = None
    events: list[dict[str, Any]] = field(default_factory=list)
    shots: dict[int, bytes] = field(default_factory=dict)

    def summary(self) -> dict[str, Any]:
        return {"id": self.id, "state": self.state, "done": self.done, "total": self.total,
                "error": self.error, "events": self.events, "shots": sorted(self.shots)}


def write_video(frames: list[Kept], path: Path, fps: float) -> None:
    """The kept frames as an MP4 at ``fps`` (their sizes are the camera's)."""
    first = frames[0]
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"mp4v"),  # type: ignore[attr-defined]
                             fps, (first.width, first.height))
    try:
        for f in frames:
            img = decode(f)
            if img.shape[1] != first.width or img.shape[0] != first.height:
                img = cv2.resize(img, (first.width, first.height))
            writer.write(img)
    finally:
        writer.release()


def kept_fps(frames: list[Kept]) -> float:
    span = frames[-1].ts - frames[0].ts if len(frames) > 1 else 0.0
    return max(1.0, min(30.0, (len(frames) - 1) / span)) if span > 0 else 10.0


class Trials:
    """The session's runs, one at a time (a new one waits for none: it is refused while one runs)."""

    def __init__(self) -> None:
        self.runs: dict[str, TryRun] = {}
        self._lock = threading.Lock()

    def busy(self) -> bool:
        return any(r.state == "running" for r in self.runs.values())

    def start(self, cfg: BoxConfig, frames: list[Kept] | None, video: Path | None,
              max_frames: int | None) -> TryRun:
        """Start a run on ``frames`` (kept by the session) or ``video``; returns at once."""
        from edge.tools.replay import frame_count

        with self._lock:
            total = len(frames) if frames else frame_count(video) if video else 0
            if max_frames:
                total = min(total, max_frames) if total else max_frames
            run = TryRun(uuid.uuid4().hex[:12], total)
            self.runs = {k: r for k, r in self.runs.items() if r.state == "running"}
            self.runs[run.id] = run
        threading.Thread(target=self._run, args=(run, cfg, frames, video, max_frames),
                         name="setup-try", daemon=True).start()
        return run

    def _run(self, run: TryRun, cfg: BoxConfig, frames: list[Kept] | None, video: Path | None,
             max_frames: int | None) -> None:
        from edge.detect import DetectorError
        from edge.modelstore import ModelStoreError
        from edge.tools.replay import ReplayError, replay

        def emit(msg: dict[str, Any]) -> None:
            if msg.get("schema") == "vigie.event/1":
                run.events.append({k: msg.get(k) for k in EVENT_KEYS})

        def progress(n: int) -> None:
            run.done += n

        try:
            with tempfile.TemporaryDirectory(prefix="vigie-setup-try-") as tmp:
                src = video
                if src is None:
                    if not frames:
                        raise ReplayError("no frames kept yet")
                    src = Path(tmp) / "recent.mp4"
                    write_video(frames, src, kept_fps(frames))
                out = Path(tmp) / "annotated.mp4"
                replay(cfg, src, out, emit, progress=progress, max_frames=max_frames)
                run.shots = _shots(out, [int(e["frame"]) for e in run.events if e.get("frame") is not None])
            run.state = "done"
        except (ReplayError, ModelStoreError, DetectorError, OSError) as exc:
            run.error, run.state = str(exc), "failed"
        except Exception as exc:  # the page must hear of any failure, not wait for ever
            log.exception("try-it run failed")
            run.error, run.state = f"{type(exc).__name__}: {exc}", "failed"


def _shots(video: Path, indices: list[int]) -> dict[int, bytes]:
    """JPEG of the annotated frames at ``indices`` (at most :data:`MAX_SHOTS`)."""
    out: dict[int, bytes] = {}
    cap = cv2.VideoCapture(str(video))
    try:
        for i in sorted(set(indices))[:MAX_SHOTS]:
            cap.set(cv2.CAP_PROP_POS_FRAMES, i)
            ok, img = cap.read()
            if ok:
                good, buf = cv2.imencode(".jpg", img, [cv2.IMWRITE_JPEG_QUALITY, 85])
                if good:
                    out[i] = buf.tobytes()
    finally:
        cap.release()
    return out
