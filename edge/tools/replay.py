"""``vigie edge replay``: the box pipeline on a video file, for a technician tuning a camera.

Runs detector, tracker, rules and statistics exactly as the agent does, frame by frame
(not paced), writes an annotated copy of the video and yields each event (and statistics
interval) as its wire message. Nothing is published: replay has no network.
"""

from __future__ import annotations

import logging
import tempfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import cv2

from edge.capture import VideoSource
from edge.config import BoxConfig, SourceConfig
from edge.detect.tiling import make_box_detector
from edge.modelstore import ModelStore
from edge.records import Event, Frame, Track
from edge.rules import build_rules
from edge.stats import StatsAggregator, crossing
from edge.tools.annotate import draw_events, draw_layout, draw_tracks
from edge.track import detector_config, make_tracker

log = logging.getLogger(__name__)


class ReplayError(Exception):
    """The video or the output cannot be used; the text says which and why."""


@dataclass(frozen=True)
class ReplayResult:
    frames: int
    events: int
    out: Path | None


def frame_count(video: Path) -> int:
    cap = cv2.VideoCapture(str(video))
    try:
        return int(cap.get(cv2.CAP_PROP_FRAME_COUNT) or 0)
    finally:
        cap.release()


def replay(
    cfg: BoxConfig,
    video: Path,
    out: Path | None,
    emit: Callable[[dict[str, Any]], None],
    progress: Callable[[int], None] | None = None,
    max_frames: int | None = None,
    store: ModelStore | None = None,
    observe: Callable[[Frame, list[Track]], None] | None = None,
) -> ReplayResult:
    """Run the pipeline on ``video``; ``emit`` gets each event/stats message (without seq),
    ``observe`` each frame with its reported tracks (for an evaluation)."""
    from edge.pipeline import to_message

    if not video.is_file():
        raise ReplayError(f"video file {video} does not exist")
    with tempfile.TemporaryDirectory(prefix="vigie-replay-") as tmp:
        # The replay learns its own tamper reference; it never touches the box's data_dir.
        cfg = cfg.model_copy(update={
            "data_dir": Path(tmp),
            "source": SourceConfig(url=str(video), realtime=False, loop=False),
        })
        store = store or ModelStore(cfg.models_dir)
        detector = make_box_detector(cfg, store, detector_config(cfg))
        tracker = make_tracker(cfg)
        rules = build_rules(cfg, store) if cfg.mode == "alerts" else []
        counts = StatsAggregator(cfg) if cfg.stats.enabled and (cfg.lines or cfg.zones) else None
        source = VideoSource(cfg.source)
        writer: cv2.VideoWriter | None = None
        open_events: dict[str, Event] = {}
        line_totals: dict[str, tuple[int, int]] = {ln.name: (0, 0) for ln in cfg.lines}
        last_feet: dict[int, tuple[float, float]] = {}
        n = n_events = 0

        def handle(events: list[Event]) -> None:
            nonlocal n_events
            for ev in events:
                if ev.state == "start":
                    open_events[ev.id] = ev
                else:
                    open_events.pop(ev.id, None)
                msg = to_message(ev, cfg.site, cfg.camera, detector).to_wire(0)
                msg.pop("seq")
                emit({**msg, "frame": n, "t": round(ts, 2)})
                n_events += 1

        ts = 0.0
        last = None
        try:
            for frame in _limited(source.frames(), max_frames):
                ts = frame.ts
                tracks = tracker.update(detector.detect(frame.image), frame.ts)
                if observe is not None:
                    observe(frame, tracks)
                for rule in rules:
                    handle(rule.update(frame, tracks))
                if counts is not None and (rec := counts.update(frame, tracks)) is not None:
                    emit(rec.to_message(cfg.site, cfg.camera).body())
                _count_lines(cfg, frame.width, frame.height, tracks, last_feet, line_totals)
                if out is not None:
                    if writer is None:
                        writer = _open_writer(out, source.fps or 10.0, frame.width, frame.height)
                    img = frame.image.copy()
                    draw_layout(img, cfg, line_totals)
                    flagged = {t.id for ev in open_events.values() for t in ev.objects}
                    draw_tracks(img, tracks, flagged)
                    draw_events(img, list(open_events.values()), frame.index, frame.ts)
                    writer.write(img)
                last = frame
                n += 1
                if progress:
                    progress(1)
            if last is not None:
                for rule in rules:
                    handle(rule.close(last))
                if counts is not None and (rec := counts.flush(last)) is not None:
                    emit(rec.to_message(cfg.site, cfg.camera).body())
        finally:
            source.stop()
            if writer is not None:
                writer.release()
    return ReplayResult(n, n_events, out)


def _limited(frames: Iterator[Any], max_frames: int | None) -> Iterator[Any]:
    for i, f in enumerate(frames):
        if max_frames is not None and i >= max_frames:
            return
        yield f


def _count_lines(
    cfg: BoxConfig, w: int, h: int, tracks: list[Any], last: dict[int, tuple[float, float]],
    totals: dict[str, tuple[int, int]],
) -> None:
    """Running line totals for the overlay (the published counts come from StatsAggregator)."""
    for t in tracks:
        p = ((t.box[0] + t.box[2]) / 2 / w, t.box[3] / h)
        if t.id in last:
            for ln in cfg.lines:
                if t.label in ln.classes and (d := crossing(ln.a, ln.b, last[t.id], p)):
                    f, b = totals[ln.name]
                    totals[ln.name] = (f + 1, b) if d > 0 else (f, b + 1)
        last[t.id] = p


def _open_writer(out: Path, fps: float, w: int, h: int) -> cv2.VideoWriter:
    out.parent.mkdir(parents=True, exist_ok=True)
    writer = cv2.VideoWriter(str(out), cv2.VideoWriter_fourcc(*"mp4v"), fps, (w, h))  # type: ignore[attr-defined]
    if not writer.isOpened():
        raise ReplayError(f"cannot write video {out} (is the folder writable and the name .mp4?)")
    return writer
