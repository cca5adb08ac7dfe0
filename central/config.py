"""The hub's configuration (TOML, validated by pydantic with unknown keys refused)."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import Field, IPvAnyNetwork, field_validator

from central.users import Role
from edge.wire.messages import NAME_PATTERN
from edge.wire.tomlconf import Checked, ConfigError, Issue, Strict, load_model

__all__ = ["ConfigError", "HubConfig", "load"]

_HHMM = re.compile(r"([01]\d|2[0-3]):[0-5]\d")


class HubBroker(Strict):
    host: str = "127.0.0.1"
    """The MQTT broker the ingest subscribes to."""
    port: int = Field(default=1883, ge=1, le=65535)
    """The broker's port."""
    username: str | None = None
    """MQTT user name of the hub, if the broker requires one."""
    password: str | None = None
    """MQTT password, with ``username``."""
    client_id: str = "vigie-hub-ingest"
    """The ingest's persistent session (the search fan-out adds ``-search``). The hub role's
    broker lets only the hub's user connect on its loopback listener, with ids of its choosing;
    boxes, on TLS, are named by their user, so no box can take this id."""


class DeviceIdentity(Strict):
    """The camera a device token speaks for (clip uploads)."""

    site: str = Field(pattern=NAME_PATTERN)
    """The site of the camera this token uploads clips for."""
    camera: str = Field(pattern=NAME_PATTERN)
    """The camera this token uploads clips for."""


class HubClips(Strict):
    """Where clips are stored and what the hub accepts."""

    dir: Path = Path("/var/lib/vigie-hub/clips")
    """Folder where uploaded clips are stored."""
    max_bytes: int = Field(default=16 * 1024 * 1024, ge=64 * 1024, le=1024 * 1024 * 1024)
    """Largest clip accepted."""
    max_duration_s: float = Field(default=60.0, gt=0.0, le=600.0)
    """Longest clip accepted (its declared duration or the span of its frame times, whichever is longer)."""
    pending_deadline_s: float = Field(default=3 * 3600.0, ge=60.0, le=7 * 86400.0)
    """An event whose clip is still ``pending`` or ``making`` this long after the hub received it is marked
    ``failed`` (reason: the deadline). Longer than a box's whole retry span (about 75 min with
    the box's default [clips] retry settings)."""
    max_width: int = Field(default=1920, ge=16, le=7680)
    """Widest clip accepted (the box's ``clips.max_width``); checked from the headers."""
    max_height: int = Field(default=1080, ge=16, le=4320)
    """Tallest clip accepted (the box's ``clips.max_height``); checked from the headers."""
    max_fps: float = Field(default=30.0, gt=0.0, le=120.0)
    """Highest frame rate accepted (the box encodes at ``clips.fps``, at most 30)."""
    still_max_bytes: int = Field(default=1024 * 1024, ge=16 * 1024, le=16 * 1024 * 1024)
    """Largest event still accepted (the box's ``clips.still_max_bytes`` is at most 2 MiB)."""
    still_max_width: int = Field(default=1920, ge=16, le=7680)
    """Widest event still accepted (the box's ``clips.still_max_width``); read from the JPEG header."""
    still_max_height: int = Field(default=1080, ge=16, le=4320)
    """Tallest event still accepted (the box's ``clips.still_max_height``)."""


class ApiToken(Strict):
    """A machine client's token in the hub config: who it acts as, and with which role."""

    actor: str = Field(min_length=1, max_length=100)
    """The name this token's requests are recorded under in the audit log."""
    role: Role = "operator"
    """The role its requests have (what they may see and do)."""


class HubSearch(Strict):
    """Forensic search fan-out."""

    timeout_s: float = Field(default=10.0, gt=0.0, le=600.0)
    """A search stops waiting for boxes that have not answered after this long."""
    expiry_s: float = Field(default=120.0, gt=0.0, le=900.0)
    """Boxes refuse a request older than this (a replayed or delayed request). At most the
    boxes' default ``[index] request_max_lifetime_s`` (900 s), which refuses longer-lived
    requests."""
    max_cameras: int = Field(default=2000, ge=1, le=2000)
    """Most cameras one search may ask."""


class PrivacyVerifyConfig(Strict):
    """Continuous egress-ledger verification (central.privacy.egress_verify)."""

    grace_s: float = Field(default=180.0, gt=0, le=86400)
    """A ledgered message not received after this long is missing (box digests every 60 s)."""
    verify_every_s: float = Field(default=30.0, gt=0, le=3600)
    """Seconds between two continuous verification rounds."""
    window_s: float = Field(default=3600.0, gt=0, le=90 * 86400)
    """How far back each continuous round looks (``vigie privacy verify`` looks at all)."""


class ControllerConfig(Strict):
    """What the processing register says of the controller (``vigie privacy register``)."""

    name: str | None = Field(default=None, max_length=200)
    """The data controller (e.g. the town), printed at the head of the register."""
    legal_basis: str | None = Field(default=None, max_length=1000)
    """The legal basis of the processing (lawfulness, the texts it rests on); default: the
    public-interest mission of French law 2023-380 art. 10 and decree 2023-828."""
    dpo: str | None = Field(default=None, max_length=200)
    """How to reach the data protection officer."""
class HubSuppressions(Strict):
    """False-alarm suppressions made from operators' resolutions (central.suppressions)."""

    auto: bool = True
    """Resolving an alert as ``false_alarm`` creates (or extends) a suppression for its camera,
    rule, zone and region. Off: no suppression is made (those already made run out)."""
    lifetime_days: float = Field(default=7.0, ge=0.01, le=30.0)
    """How long a suppression applies (renewed when a false alarm extends it); at most the
    30 days events may be kept, so a suppression never outlives the alert it came from."""
    margin: float = Field(default=0.05, ge=0.0, le=0.5)
    """The region is the union of the event's objects' boxes grown by this fraction of the
    frame on each side."""
    max_per_camera: int = Field(default=50, ge=1, le=200)
    """Most active suppressions per camera; beyond it a false alarm makes none (logged)."""


class HubWeb(Strict):
    """The production HTTP server of ``vigie hub serve`` (waitress)."""

    threads: int = Field(default=8, ge=1, le=64)
    """Requests served at once; more wait in the accept queue."""
    channel_timeout_s: int = Field(default=120, ge=2, le=3600)
    """A connection idle (nothing sent or received) this long is closed: slow clients cannot
    hold every thread."""
    max_body_bytes: int | None = Field(default=None, ge=64 * 1024, le=2 * 1024 * 1024 * 1024)
    """The largest request body accepted; default: the clip limit plus 1 MiB (a clip upload is
    the largest legal body)."""


class HubShifts(Strict):
    """The operators' shifts (the shift page shows what happened since the current one began)."""

    starts: list[str] = Field(default_factory=lambda: ["06:00", "14:00", "22:00"], min_length=1,
                              max_length=12)
    """When each shift begins, ``HH:MM`` in the site's time zone (``timezone``), e.g. three
    eight-hour shifts."""

    @field_validator("starts")
    @classmethod
    def _clock_times(cls, value: list[str]) -> list[str]:
        for text in value:
            if not _HHMM.fullmatch(text):
                raise ValueError(f"shift start {text[:20]!r} is not a time HH:MM (00:00 to 23:59)")
        if len(set(value)) != len(value):
            raise ValueError("shift starts must be distinct")
        return sorted(value)


class HubPlan(Strict):
    """The site plan image a supervisor uploads (the plan page; no map tiles)."""

    max_bytes: int = Field(default=8 * 1024 * 1024, ge=64 * 1024, le=64 * 1024 * 1024)
    """Largest plan file accepted."""
    max_pixels: int = Field(default=4096, ge=256, le=16384)
    """Widest and tallest plan accepted, in pixels."""
class HubAlerts(Strict):
    """The operators' alert queue: grouping of repeats, escalation, live updates."""

    group_window_s: float = Field(default=300.0, ge=0.0, le=3600.0)
    """Alerts of one camera, type and zone that start within this long of the previous one
    fold into one row of the queue (0: no grouping). Five minutes covers a rule re-firing on
    one intruder walking about, without merging separate incidents of an hour."""
    escalate_after_s: float = Field(default=60.0, ge=1.0, le=3600.0)
    """A critical alert nobody has acknowledged this long after the hub received it is
    escalated: it sounds again and is flagged to the supervisors (audited once)."""
    stream_s: float = Field(default=25.0, ge=1.0, le=300.0)
    """How long one live-update stream (server-sent events) lasts before the hub closes it
    and the browser reconnects: a stream holds one of the web server's threads."""
    max_streams: int | None = Field(default=None, ge=0, le=63)
    """Live-update streams served at once (0: none, every page polls); pages beyond this
    poll instead. Default: half of ``web.threads`` (4 of 8); when set, it must be below
    ``web.threads`` so that streams leave threads for requests."""


class HubConfig(Checked):
    database: Path = Path("/var/lib/vigie-hub/hub.sqlite")
    """The hub's SQLite database."""
    broker: HubBroker = HubBroker()
    api_tokens: dict[str, str | ApiToken] = Field(default_factory=dict)
    """Bearer token -> the name it acts as (role ``operator``), or ``{actor, role}``."""
    bind: str = "127.0.0.1"
    """Address the web server listens on (behind the reverse proxy: 127.0.0.1)."""
    port: int = Field(default=8080, ge=1, le=65535)
    """Port of the web server."""
    device_tokens: dict[str, DeviceIdentity] = Field(default_factory=dict)
    """Device bearer token -> the site/camera it uploads clips for."""
    clips: HubClips = HubClips()
    retention_days: int = Field(default=10, ge=1, le=30)
    """Events and clips older than this are purged (30 days is the French legal maximum)."""
    cookie_secure: bool = True
    """Session cookies only over HTTPS (browsers also accept them on http://localhost)."""
    silent_after_s: float = Field(default=60.0, gt=0, le=3600)
    """A camera not heard from for this long raises an operational alert."""
    max_clock_skew_s: float = Field(default=300.0, ge=1.0, le=86400.0)
    """Event, statistics, health and ledger-digest times more than this far in the future
    (by the hub's clock) are refused and quarantined; each camera's measured skew is shown."""
    language: Literal["fr", "en"] = "fr"
    """The pages', notifications' and reports' language for people who have not chosen one."""
    timezone: str = Field(default="Europe/Paris", min_length=1, max_length=64)
    """The site's time zone (IANA name): every time people read is shown in it."""
    signing_key: Path | None = None
    """The hub's Ed25519 private key (``vigie hub keygen``); signs search requests. Without it
    the hub cannot search (boxes refuse unsigned requests)."""
    search: HubSearch = HubSearch()
    privacy: PrivacyVerifyConfig = PrivacyVerifyConfig()
    web: HubWeb = HubWeb()
    controller: ControllerConfig = ControllerConfig()
    shifts: HubShifts = HubShifts()
    plan: HubPlan = HubPlan()
    alerts: HubAlerts = HubAlerts()
    suppressions: HubSuppressions = HubSuppressions()
    trusted_proxies: list[IPvAnyNetwork] = Field(default_factory=list, max_length=64)
    """Addresses (or networks) of the reverse proxies whose ``X-Forwarded-For`` and
    ``X-Forwarded-Proto`` are believed (the hub role's nginx: 127.0.0.1). From any other peer
    these headers are ignored, so a client cannot pick the address its logins are counted on."""

    def cross_checks(self) -> list[Issue]:
        """The request body limit leaves room for the largest clip upload; live streams
        leave threads for requests."""
        if self.alerts.max_streams is not None and self.alerts.max_streams >= self.web.threads:
            return [Issue(("alerts", "max_streams"),
                          f"alerts.max_streams ({self.alerts.max_streams}) must be below "
                          f"web.threads ({self.web.threads}): streams would hold every thread")]
        if self.web.max_body_bytes is not None and self.web.max_body_bytes <= self.clips.max_bytes:
            return [Issue(("web", "max_body_bytes"),
                          f"web.max_body_bytes ({self.web.max_body_bytes}) must be above "
                          f"clips.max_bytes ({self.clips.max_bytes}): clip uploads would fail")]
        return []

    def alert_streams(self) -> int:
        """Live-update streams served at once (``alerts.max_streams``, else half the threads)."""
        if self.alerts.max_streams is not None:
            return self.alerts.max_streams
        return self.web.threads // 2

    def max_body_bytes(self) -> int:
        """The request body limit the web server enforces."""
        return self.web.max_body_bytes or self.clips.max_bytes + 1024 * 1024

    @field_validator("timezone")
    @classmethod
    def _known_zone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError) as exc:
            raise ValueError(f"unknown time zone {value!r} (an IANA name such as Europe/Paris)") from exc
        return value


def load(path: Path | str) -> HubConfig:
    """Read and validate a hub config; relative paths are taken from the file's folder.

    Raises :class:`ConfigError` listing every problem with its line.
    """
    return load_model(HubConfig, path, _resolve_paths)


def _resolve_paths(data: dict[str, Any], base: Path) -> None:
    for key in ("database", "signing_key"):
        if isinstance(data.get(key), str):
            data[key] = str((base / data[key]).resolve())
    clips = data.get("clips")
    if isinstance(clips, dict) and isinstance(clips.get("dir"), str):
        clips["dir"] = str((base / clips["dir"]).resolve())
