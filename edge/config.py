"""The box's configuration: one TOML file per camera, validated by pydantic.

Every model forbids unknown keys, so a typo is an error rather than a silently ignored
setting. :func:`load` returns a :class:`BoxConfig` or raises :class:`ConfigError`, whose
``problems`` name each mistake with its line in the file (the loader is shared with the hub:
:mod:`edge.wire.tomlconf`). :func:`check` also reports what only the box can tell, such as a
video file that does not exist.

The spine's sections are here; the rules' are in :mod:`edge.rules.configs` and the side wings'
(audio, clips, upload, outbox, index, ledger) in :mod:`edge.config_wings`.
"""

from __future__ import annotations

import logging
import math
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import Field, field_validator, model_validator

from edge.config_wings import (
    AudioConfig,
    ClipsConfig,
    IndexConfig,
    LedgerDigestConfig,
    OutboxConfig,
    UploadConfig,
    VerifyConfig,
)
from edge.rules.configs import (
    AbandonedObjectRule,
    CalibrationConfig,
    CameraTamperRule,
    CrowdDensityRule,
    CrowdMovementRule,
    FireRule,
    IntrusionRule,
    LineConfig,
    PersonDownRule,
    StatsConfig,
    WeaponRule,
    WrongWayRule,
)
from edge.wire.messages import NAME_PATTERN
from edge.wire.tomlconf import (
    Checked,
    ConfigError,
    Issue,
    Problem,
    Strict,
    collect,
    locate,
    parse_model,
    parse_toml,
    problems_from,
    read_text,
)

__all__ = ["BoxConfig", "ConfigError", "Problem", "Strict", "check", "check_report", "check_text", "load",
           "locate", "outline_problem", "parse", "problems_from"]

log = logging.getLogger(__name__)

Name = Annotated[str, Field(pattern=NAME_PATTERN)]
Point = tuple[float, float]
"""A polygon's point ``[x, y]``, normalised to the frame; checked by :func:`outline_problem`."""


def outline_problem(polygon: list[Point]) -> str | None:
    """Why a zone's or mask's outline cannot be used (a point outside the frame, edges that
    cross), or None."""
    from edge.geometry import self_crossing

    for k, (x, y) in enumerate(polygon):
        if not (math.isfinite(x) and math.isfinite(y) and 0.0 <= x <= 1.0 and 0.0 <= y <= 1.0):
            return (f"point {k + 1} [{x:g}, {y:g}] is outside the frame: coordinates are normalised, "
                    "0..1 from the left and top edges")
    if (pair := self_crossing(polygon)) is not None:
        i, j = pair
        return (f"the outline crosses itself (edge {i + 1}-{i + 2} crosses edge {j + 1}-"
                f"{(j + 1) % len(polygon) + 1}); list the points in order around the area")
    return None


def _outline(polygon: list[Point]) -> list[Point]:
    if (why := outline_problem(polygon)) is not None:
        raise ValueError(why)
    return polygon


class SourceConfig(Strict):
    """Where frames come from: a file path, an ``rtsp://`` URL, or a USB device index."""

    url: str | None = None
    """A video file (path) or a stream URL such as ``rtsp://host/stream``."""
    device: int | None = Field(default=None, ge=0)
    """A local (USB) camera, by its video device index."""
    loop: bool = False
    """Start a video file again when it ends (demonstrations, tests)."""
    realtime: bool = True
    """Pace a file at its own frame rate, as a live camera would deliver it."""
    reconnect_initial_s: float = Field(default=1.0, gt=0)
    """First wait before reopening a stream that failed or dropped; doubles on each failure."""
    reconnect_max_s: float = Field(default=30.0, gt=0)
    """Longest wait between two attempts to reopen a stream."""

    @model_validator(mode="after")
    def _one_source(self) -> SourceConfig:
        if (self.url is None) == (self.device is None):
            raise ValueError("set exactly one of 'url' (file or rtsp://) and 'device' (USB index)")
        return self


class TilingConfig(Strict):
    """Extra detector passes over the zones the rules watch, for what one downscaled full-frame
    pass misses: small and far objects (tiles at the frame's native resolution) and persons
    lying on the ground (the watched region turned a quarter turn each way, so that a lying
    body stands up for a detector trained mostly on upright people). Their detections are
    merged with the full-frame pass (:mod:`edge.detect.tiling`)."""

    mode: Literal["off", "on", "auto"] = "off"
    """``off``: the full-frame pass only; ``on``: also tiles; ``auto``: tiles only when the
    measured cost of all passes fits ``budget_ms`` (measured at start-up)."""
    tile_px: int = Field(default=416, ge=128, le=2048)
    """Side of a tile in frame pixels (the model's input size keeps native resolution)."""
    overlap: float = Field(default=0.25, ge=0.0, le=0.5)
    """Share of a tile's side shared with its neighbour: objects up to this size are whole
    in at least one tile."""
    zones: list[Name] = Field(default_factory=list)
    """Zones to tile (``[[zones]]`` names); empty: the zones the rules watch, or the whole
    frame when a rule watches the whole frame."""
    budget_ms: float = Field(default=200.0, gt=0.0, le=60000.0)
    """With ``auto``: the detector milliseconds per processed frame the camera may spend."""
    max_tiles: int = Field(default=12, ge=1, le=64)
    """Never more tiles than this per frame (the tile grid is refused, and logged, above it)."""
    lying_passes: bool | None = None
    """The quarter-turn passes for lying persons; default: on when a ``person_down`` rule is
    configured (two more detector passes over its zone)."""


class DetectorConfig(Strict):
    model: str = "yolox-nano"
    """The object detector, by its name in ``models/manifest.toml``."""
    backend: Literal["auto", "onnxruntime", "openvino", "tflite"] = "onnxruntime"
    """``auto`` times each runtime that can run the model at start-up and keeps the fastest."""
    score_threshold: float = Field(default=0.35, gt=0.0, lt=1.0)
    """Detections scoring below this are dropped."""
    nms_iou: float = Field(default=0.45, gt=0.0, lt=1.0)
    """Overlap (IoU) above which two boxes of the same class are one object (non-maximum suppression)."""
    classes: list[str] = Field(
        default_factory=lambda: ["person", "bicycle", "car", "motorcycle", "bus", "truck"]
    )
    """Detector classes kept; every other class is dropped before tracking."""
    threads: int = Field(default=2, ge=1, le=64)
    """CPU threads of the inference runtime."""
    tiling: TilingConfig = TilingConfig()
    """Extra passes over the watched zones: tiles for small objects, quarter turns for lying
    persons."""


class MotionConfig(Strict):
    """Motion gating: run the detector only when the downscaled frame has changed since the
    detector last ran, and at least every ``refresh_s`` so stationary objects stay tracked."""

    enabled: bool = True
    """Gate the detector on motion; off, it runs on every frame."""
    width: int = Field(default=160, ge=32, le=1920)
    """Width of the grey thumbnail compared (height follows the aspect ratio)."""
    pixel_threshold: int = Field(default=20, ge=1, le=255)
    """Grey-level difference that counts a thumbnail pixel as changed."""
    min_changed: float = Field(default=0.002, gt=0.0, lt=1.0)
    """Fraction of changed thumbnail pixels that counts as motion."""
    refresh_s: float = Field(default=2.0, gt=0.0, le=3600.0)
    """Longest time (media seconds) without a detector run, moving or not."""
    min_interval_s: float = Field(default=0.2, ge=0.0, le=60.0)
    """Shortest time between detector runs while things move (0.2 s: at most 5 runs/s;
    0 runs on every moving frame)."""


VEHICLE_GROUP = ["car", "truck", "bus", "motorcycle"]
"""Classes a detector confuses for one vehicle from frame to frame."""


class TrackerConfig(Strict):
    """Tracking in the ByteTrack manner: boxes predicted at constant velocity, confident
    detections matched first, then weaker ones to the tracks still unmatched."""

    iou_threshold: float = Field(default=0.3, gt=0.0, lt=1.0)
    """Least overlap (IoU) between a confident detection and a track's predicted box for them to match."""
    low_score: float = Field(default=0.1, gt=0.0, lt=1.0)
    """Detections scoring between this and ``detector.score_threshold`` only keep existing tracks
    alive (second association stage); they never start a track. At or above the detector's
    threshold, the stage is off."""
    low_iou_threshold: float = Field(default=0.5, gt=0.0, lt=1.0)
    """Least overlap for a weak detection to continue a track (stricter: weak boxes are less sure)."""
    max_missed: int = Field(default=10, ge=0, le=1000)
    """Frames a track survives without a matching detection (or ``max_gap_s``, whichever is longer)."""
    max_gap_s: float = Field(default=1.0, ge=0.0, le=60.0)
    """Seconds a track survives without a matching detection, its box moving on at its last velocity."""
    min_hits: int = Field(default=2, ge=1, le=100)
    """Detections before a track is reported (filters one-frame flickers)."""
    predict: bool = True
    """Move an unmatched track's box at its last velocity (constant-velocity prediction)."""
    class_groups: list[list[str]] = Field(default_factory=lambda: [list(VEHICLE_GROUP)], max_length=16)
    """Classes that continue one another's tracks (a car seen as a truck for a few frames);
    the track reports the label it was seen as most (score-weighted)."""

    @model_validator(mode="after")
    def _groups_disjoint(self) -> TrackerConfig:
        seen: set[str] = set()
        for group in self.class_groups:
            if len(group) < 2 or len(group) > 32:
                raise ValueError("each class group lists 2 to 32 classes")
            if seen & set(group):
                raise ValueError(f"class {sorted(seen & set(group))[0]!r} is in two class groups")
            seen |= set(group)
        return self


class BrokerConfig(Strict):
    host: str = "127.0.0.1"
    """The MQTT broker the box publishes to."""
    port: int = Field(default=1883, ge=1, le=65535)
    """The broker's port (8883 is usual with TLS)."""
    username: str | None = None
    """MQTT user name, if the broker requires one."""
    password: str | None = None
    """MQTT password, with ``username``."""
    keepalive_s: int = Field(default=30, ge=5, le=3600)
    """MQTT keep-alive: the broker drops the box after about 1.5 times this without traffic."""
    inflight: int = Field(default=20, ge=1, le=1000)
    """Most messages published and not yet acknowledged by the broker at once."""
    tls_ca: Path | None = None
    """MQTT over TLS (production, see ansible/): the fleet CA that signed the broker's certificate."""
    tls_cert: Path | None = None
    """This device's client certificate (issued by the pki role), with ``tls_key``."""
    tls_key: Path | None = None
    """The private key of ``tls_cert``."""

    @model_validator(mode="after")
    def _tls_pair(self) -> BrokerConfig:
        if (self.tls_cert is None) != (self.tls_key is None):
            raise ValueError("set both tls_cert and tls_key (the device certificate and its key) or neither")
        if self.tls_cert is not None and self.tls_ca is None:
            raise ValueError("tls_cert needs tls_ca (the CA that signed the broker's certificate)")
        return self


class HealthConfig(Strict):
    interval_s: float = Field(default=30.0, ge=1.0, le=3600.0)
    """Seconds between two ``health`` messages."""


class ZoneConfig(Strict):
    name: Name
    """The zone's name, referred to by rules and statistics; unique in the file."""
    polygon: list[Point] = Field(min_length=3)
    """The zone's outline: at least three ``[x, y]`` points, normalised to the frame (0..1, y down),
    in order around the zone (edges that cross are refused)."""

    _simple = field_validator("polygon")(_outline)


Rule = Annotated[
    IntrusionRule | WrongWayRule | AbandonedObjectRule | PersonDownRule | CrowdDensityRule
    | CrowdMovementRule | WeaponRule | FireRule | CameraTamperRule,
    Field(discriminator="type"),
]


class PrivacyMask(Strict):
    """A polygon (normalised coordinates) blacked out in every frame, before detection too."""

    name: Name
    """The mask's name (shown in the processing register)."""
    polygon: list[Point] = Field(min_length=3)
    """The masked area: at least three ``[x, y]`` points, normalised to the frame (0..1, y down),
    in order around the area (edges that cross are refused)."""

    _simple = field_validator("polygon")(_outline)


class BoxConfig(Checked):
    site: Name
    """Name of the site the camera belongs to (lower case, digits, ``-`` and ``_``); part of every MQTT
    topic."""
    camera: Name
    """Name of this camera within its site; with ``site``, it identifies the box."""
    data_dir: Path = Path("/var/lib/vigie")
    """Where the box keeps its state: outbox, egress ledger, index, keys, tamper reference."""
    models_dir: Path | None = None
    """The model store; default ``$VIGIE_MODELS`` or ``~/.cache/vigie/models``."""
    source: SourceConfig
    detector: DetectorConfig = DetectorConfig()
    tracker: TrackerConfig = TrackerConfig()
    motion: MotionConfig = MotionConfig()
    broker: BrokerConfig = BrokerConfig()
    health: HealthConfig = HealthConfig()
    zones: list[ZoneConfig] = Field(default_factory=list)
    rules: list[Rule] = Field(default_factory=list)
    mode: Literal["alerts", "statistics"] = "alerts"
    """``statistics``: only aggregate counts leave the box (egress refuses events)."""
    lines: list[LineConfig] = Field(default_factory=list)
    calibration: CalibrationConfig | None = None
    stats: StatsConfig = StatsConfig()
    audio: AudioConfig = AudioConfig()
    clips: ClipsConfig = ClipsConfig()
    privacy_masks: list[PrivacyMask] = Field(default_factory=list)
    upload: UploadConfig | None = None
    """Clips are made and uploaded only when this is set (and ``clips.enabled``)."""
    outbox: OutboxConfig = OutboxConfig()
    index: IndexConfig = IndexConfig()
    ledger: LedgerDigestConfig = LedgerDigestConfig()
    verify: VerifyConfig = VerifyConfig()
    """Re-checking candidate events before they are sent; false-alarm suppressions."""

    def cross_checks(self) -> list[Issue]:
        """Rules, lines, zones, calibration and detector classes agree (edge.rules.checks)."""
        from edge.rules.checks import check_box

        return check_box(self)

    def zone(self, name: str) -> ZoneConfig:
        return next(z for z in self.zones if z.name == name)


FALLBACKS: dict[str, Any] = {"site": "unnamed", "camera": "unnamed", "source": {"device": 0}}
"""Stand-ins for faulty required keys while the cross-section checks still run (never loaded)."""


def load(path: Path | str) -> BoxConfig:
    """Read and validate a box config; relative paths in it are taken from the file's folder."""
    path = Path(path)
    return parse(read_text(path), path)


def parse(text: str, path: Path) -> BoxConfig:
    """Validate TOML ``text`` as a box config; ``path`` locates it in messages."""
    return parse_model(BoxConfig, text, path, resolve_paths, FALLBACKS)


def check(path: Path | str) -> tuple[BoxConfig | None, list[Problem]]:
    """Every problem of a box config in one pass: syntax, schema, cross-section checks, and
    media files that do not exist. Returns the config (None when any problem) and the list."""
    path = Path(path)
    try:
        text = read_text(path)
    except ConfigError as exc:
        return None, exc.problems
    return check_text(text, path)


def check_text(text: str, path: Path) -> tuple[BoxConfig | None, list[Problem]]:
    """:func:`check` on TOML ``text`` meant to be saved as ``path`` (its folder resolves relative
    paths): what the zone editor validates each change with before anything is written."""
    try:
        data = parse_toml(text, path)
    except ConfigError as exc:
        return None, exc.problems
    resolve_paths(data, path.parent)
    cfg, problems = collect(BoxConfig, data, text, FALLBACKS)
    missing = _missing_files(data, text)
    if missing:
        problems = sorted([*problems, *missing], key=lambda p: (p.line is None, p.line or 0))
        cfg = None
    return cfg, problems


def check_report(path: Path | str) -> tuple[bool, str]:
    """What ``vigie edge check-config`` prints: whether the config is usable, and the report."""
    cfg, problems = check(path)
    if cfg is None:
        return False, str(ConfigError(Path(path), problems))
    return True, f"{path}: OK ({cfg.site}/{cfg.camera}, {len(cfg.zones)} zone(s), {len(cfg.rules)} rule(s))"


def _missing_files(data: dict[str, Any], text: str) -> list[Problem]:
    """A ``file`` video source (and an enabled audio file source) that is not a file."""
    found: list[tuple[tuple[str, str], str, str]] = []
    src = data.get("source")
    if isinstance(src, dict) and isinstance(src.get("url"), str) and "://" not in src["url"]:
        found.append((("source", "url"), src["url"], "video"))
    audio = data.get("audio")
    if isinstance(audio, dict) and audio.get("enabled") is True and isinstance(audio.get("file"), str):
        found.append((("audio", "file"), audio["file"], "audio"))
    out = []
    for loc, name, kind in found:
        p = Path(name)
        if not p.is_file():
            why = "is not a file" if p.exists() else "does not exist"
            out.append(Problem(locate(text, list(loc)), ".".join(loc), f"the {kind} file source {p} {why}"))
    return out


def resolve_paths(data: dict[str, Any], base: Path) -> None:
    """Make the document's relative paths (data and model folders, file sources) absolute from
    ``base``, the config file's folder."""
    for key in ("data_dir", "models_dir"):
        if isinstance(data.get(key), str):
            data[key] = str((base / data[key]).resolve())
    audio = data.get("audio")
    if isinstance(audio, dict) and isinstance(audio.get("file"), str):
        audio["file"] = str((base / audio["file"]).resolve())
    src = data.get("source")
    if isinstance(src, dict) and isinstance(src.get("url"), str) and "://" not in src["url"]:
        src["url"] = str((base / src["url"]).resolve())
