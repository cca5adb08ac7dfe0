"""``vigie eval scenes``: the box pipeline replayed on labelled scenes, scored per event type.

A scene is a small TOML file (see ``docs/evaluation.md``): the video by path relative to the
checkout and its sha256 (a mismatch is refused), the box config a technician would write
(inline ``[box]`` or a path), ground-truth intervals per event type, and optionally the
paths of true objects for the tracker's figures. The replay is :func:`edge.tools.replay.replay`
with the real models; scoring is :mod:`edge.tools.scene_score`.
"""

from __future__ import annotations

import copy
import hashlib
import logging
import math
import tomllib
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import Field, model_validator

from edge.config import FALLBACKS, BoxConfig
from edge.modelstore import ModelStore
from edge.records import Frame, Track
from edge.tools.replay import frame_count, replay
from edge.tools.scene_score import (
    Alert,
    Identity,
    PathObject,
    Seen,
    Tally,
    Truth,
    score_alerts,
    score_identities,
)
from edge.wire.messages import NAME_PATTERN
from edge.wire.tomlconf import ConfigError, Strict, collect, load_model, parse_toml, read_text

log = logging.getLogger(__name__)

CHECKOUT = Path(__file__).resolve().parents[2]
"""Videos are named relative to the checkout that holds this package."""
Finite = Annotated[float, Field(ge=0.0, le=1e6, allow_inf_nan=False)]
Unit = Annotated[float, Field(ge=0.0, le=1.0, allow_inf_nan=False)]


class SceneError(Exception):
    """A scene that cannot be evaluated; the text names the file and the cause."""


class TruthInterval(Strict):
    type: Annotated[str, Field(pattern=NAME_PATTERN)]
    """The event type (``intrusion``, ``wrong_way``...)."""
    start: Finite
    """When the situation begins (seconds from the start of the video)."""
    end: Finite
    """When it ends."""
    zone: Annotated[str, Field(pattern=NAME_PATTERN)] | None = None
    """Only alerts in this zone match (None: any zone)."""
    note: Annotated[str, Field(max_length=500)] = ""

    @model_validator(mode="after")
    def _ordered(self) -> TruthInterval:
        if self.end < self.start:
            raise ValueError("end is before start")
        return self


class TrueObject(Strict):
    classes: list[Annotated[str, Field(max_length=64)]] = Field(min_length=1, max_length=16)
    """Track labels that can be this object."""
    path: list[tuple[Finite, Unit, Unit]] = Field(min_length=1, max_length=1000)
    """``[seconds, x, y]`` keyframes of the object's box centre (normalised), in time order."""
    radius: float = Field(default=0.2, gt=0.0, le=1.0)
    """Largest distance from the interpolated centre at which a track is this object."""

    @model_validator(mode="after")
    def _in_order(self) -> TrueObject:
        if any(b[0] < a[0] for a, b in zip(self.path, self.path[1:], strict=False)):
            raise ValueError("path keyframes must be in time order")
        return self


class Scene(Strict):
    video: Annotated[str, Field(min_length=1, max_length=1000)]
    """The video, relative to the checkout (never stored in the repository)."""
    sha256: Annotated[str, Field(pattern=r"^[0-9a-f]{64}$")]
    """The video's sha256: another file under that name is refused."""
    about: Annotated[str, Field(max_length=4000)] = ""
    """What the footage shows and how the labels were made."""
    origin: Literal["labelled", "composed"] = "labelled"
    """``labelled``: ground truth written for a shared clip; ``composed``: a scene built from footage."""
    until_s: Finite | None = None
    """Replay only the video's first seconds."""
    box: Annotated[str, Field(max_length=1000)] | dict[str, Any]
    """The box config: a path (relative to the scene file) or an inline table."""
    truth: list[TruthInterval] = Field(default_factory=list, max_length=10000)
    objects: list[TrueObject] = Field(default_factory=list, max_length=1000)


@dataclass(frozen=True)
class SceneResult:
    name: str
    origin: str
    seconds: float
    alerts: dict[str, Tally]
    identity: Identity


def sha256_of(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as f:
        while chunk := f.read(1 << 20):
            h.update(chunk)
    return h.hexdigest()


def parse_overrides(items: Sequence[str]) -> list[tuple[list[str], Any]]:
    """``KEY.PATH=VALUE`` (a TOML value, or else a string) pairs for :func:`apply_overrides`."""
    out = []
    for item in items:
        key, sep, raw = item.partition("=")
        parts = key.strip().split(".")
        if not sep or not all(p.strip() for p in parts) or len(parts) > 8:
            raise SceneError(f"--set {item!r}: write KEY.PATH=VALUE, e.g. tracker.max_gap_s=0")
        try:
            value = tomllib.loads(f"v = {raw}")["v"]
        except tomllib.TOMLDecodeError:
            value = raw
        out.append(([p.strip() for p in parts], value))
    return out


def apply_overrides(data: dict[str, Any], overrides: Sequence[tuple[list[str], Any]]) -> None:
    """Set each value in the box document; a list on the way (``rules``) gets it in every item."""
    for parts, value in overrides:
        nodes: list[Any] = [data]
        for part in parts[:-1]:
            nxt: list[Any] = []
            for node in nodes:
                child = node.setdefault(part, {})
                nxt += child if isinstance(child, list) else [child]
            nodes = [n for n in nxt if isinstance(n, dict)]
        for node in nodes:
            node[parts[-1]] = value


def load_scene(path: Path, root: Path = CHECKOUT,
               overrides: Sequence[tuple[list[str], Any]] = ()) -> tuple[Scene, Path, BoxConfig]:
    """The scene, its verified video, and its box config (with ``overrides``)."""
    try:
        scene = load_model(Scene, path)
    except ConfigError as exc:
        raise SceneError(str(exc)) from None
    video = (root / scene.video).resolve()
    if not video.is_file():
        raise SceneError(f"{path}: video {scene.video} not found (relative to {root})")
    digest = sha256_of(video)
    if digest != scene.sha256:
        raise SceneError(
            f"{path}: video {scene.video} has sha256 {digest}, but the scene was labelled on "
            f"{scene.sha256}: it is another file; fix the path or label the new footage")
    if isinstance(scene.box, str):
        box_path = path.parent / scene.box
        try:
            text = read_text(box_path)
            data = parse_toml(text, box_path)
        except ConfigError as exc:
            raise SceneError(str(exc)) from None
    else:
        box_path, text, data = path, read_text(path), copy.deepcopy(scene.box)
    data.setdefault("site", "eval")
    data.setdefault("camera", "scene")
    data["source"] = {"url": str(video), "realtime": False}
    apply_overrides(data, overrides)
    cfg, problems = collect(BoxConfig, data, text, FALLBACKS)
    if cfg is None:
        raise SceneError(str(ConfigError(box_path, problems)))
    return scene, video, cfg


def run_scene(path: Path, *, root: Path = CHECKOUT, overrides: Sequence[tuple[list[str], Any]] = (),
              store: ModelStore | None = None, progress: Callable[[int], None] | None = None) -> SceneResult:
    """Replay one scene through the real pipeline and score it."""
    scene, video, cfg = load_scene(path, root, overrides)
    fps = _fps(video)
    max_frames = math.ceil(scene.until_s * fps) if scene.until_s is not None else None
    opened: dict[str, dict[str, Any]] = {}
    alerts: list[Alert] = []
    frames: list[tuple[float, list[Seen]]] = []
    last_ts = 0.0

    def emit(msg: dict[str, Any]) -> None:
        if msg.get("state") == "start":
            opened[msg["id"]] = msg
        elif msg.get("state") == "end" and (start := opened.pop(msg["id"], None)) is not None:
            alerts.append(Alert(start["type"], start.get("zone"), start["t"], msg["t"]))

    def observe(frame: Frame, tracks: list[Track]) -> None:
        nonlocal last_ts
        last_ts = frame.ts
        w, h = frame.width, frame.height
        frames.append((frame.ts, [Seen(t.id, t.label, (t.box[0] + t.box[2]) / 2 / w,
                                       (t.box[1] + t.box[3]) / 2 / h) for t in tracks]))

    result = replay(cfg, video, None, emit, progress=progress, max_frames=max_frames, store=store,
                    observe=observe)
    for msg in opened.values():  # replay closes every rule at the end; this is a safety net
        alerts.append(Alert(msg["type"], msg.get("zone"), msg["t"], last_ts))
    seconds = result.frames / fps if fps > 0 else last_ts
    types = {r.type for r in cfg.rules} | {t.type for t in scene.truth}
    tallies = {
        ty: score_alerts([a for a in alerts if a.type == ty],
                         [Truth(t.type, t.zone, t.start, t.end) for t in scene.truth if t.type == ty])
        for ty in sorted(types)
    }
    objects = [PathObject(tuple(o.classes), tuple(o.path), o.radius) for o in scene.objects]
    return SceneResult(path.stem, scene.origin, seconds, tallies, score_identities(objects, frames))


def _fps(video: Path) -> float:
    import cv2

    cap = cv2.VideoCapture(str(video))
    try:
        return float(cap.get(cv2.CAP_PROP_FPS) or 0.0)
    finally:
        cap.release()


def scene_files(paths: Sequence[Path]) -> list[Path]:
    """The scene files named, folders expanded to their ``*.toml`` (sorted)."""
    out: list[Path] = []
    for p in paths:
        if p.is_dir():
            out += sorted(p.glob("*.toml"))
        elif p.is_file():
            out.append(p)
        else:
            raise SceneError(f"scene {p} does not exist")
    if not out:
        raise SceneError("no scene files (*.toml) found")
    return out


def total_frames(path: Path, root: Path = CHECKOUT) -> int:
    """Frames the scene will replay (for a progress bar); 0 when unknown."""
    try:
        scene = load_model(Scene, path)
    except ConfigError:
        return 0
    video = root / scene.video
    n = frame_count(video) if video.is_file() else 0
    if scene.until_s is not None and n:
        n = min(n, math.ceil(scene.until_s * _fps(video)))
    return n


def summary(results: Sequence[SceneResult]) -> dict[str, Any]:
    """Totals over the scenes, per event type, and the tracker's figures (for ``--json``)."""
    seconds = sum(r.seconds for r in results)
    hours = seconds / 3600
    totals: dict[str, Tally] = {}
    identity = Identity()
    for r in results:
        for ty, t in r.alerts.items():
            totals.setdefault(ty, Tally()).add(t)
        identity.add(r.identity)
    return {
        "scenes": [{"name": r.name, "origin": r.origin, "seconds": round(r.seconds, 1),
                    "events": {ty: t.row(r.seconds / 3600) for ty, t in r.alerts.items()},
                    "tracking": r.identity.row()} for r in results],
        "footage_s": round(seconds, 1),
        "events": {ty: t.row(hours) for ty, t in sorted(totals.items())},
        "tracking": identity.row(),
    }


def _cell(v: object) -> str:
    return "–" if v is None else str(v)


def _tracking(t: dict[str, Any]) -> str:
    return (f"{t['objects']} ({t['tracked']}) | {_cell(t['ids_per_object'])} | {t['id_switches']} | "
            f"{_cell(t['coverage'])}")


def render(report: dict[str, Any]) -> str:
    """The tables printed by ``vigie eval scenes`` (Markdown, to paste into the docs)."""
    cols = ["true", "false", "duplicate", "missed", "latency_median_s", "latency_max_s", "false_per_hour"]
    lines = [f"{len(report['scenes'])} scene(s), {report['footage_s']} s of footage", "",
             "| event | " + " | ".join(cols) + " |", "|---" * (len(cols) + 1) + "|"]
    for ty, row in report["events"].items():
        lines.append(f"| {ty} | " + " | ".join(_cell(row[c]) for c in cols) + " |")
    lines += ["", "| scene | origin | seconds | events (true/false/dup/missed) | objects (tracked) "
              "| ids/tracked object | id switches | coverage |", "|---|---|---|---|---|---|---|---|"]
    for s in report["scenes"]:
        ev = ", ".join(f"{ty} {r['true']}/{r['false']}/{r['duplicate']}/{r['missed']}"
                       for ty, r in s["events"].items())
        lines.append(f"| {s['name']} | {s['origin']} | {s['seconds']} | {ev} | {_tracking(s['tracking'])} |")
    lines.append(f"| **all** | | {report['footage_s']} | | {_tracking(report['tracking'])} |")
    return "\n".join(lines)
