"""The hub's configuration (TOML, validated by pydantic with unknown keys refused)."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import Field, IPvAnyNetwork, field_validator

from central.users import Role
from edge.wire.messages import NAME_PATTERN
from edge.wire.tomlconf import Checked, ConfigError, Issue, Strict, load_model

__all__ = ["ConfigError", "HubConfig", "load"]


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
    """An event whose clip is still ``pending`` this long after the hub received it is marked
    ``failed`` (reason: the deadline). Longer than a box's whole retry span (about 75 min with
    the box's default [clips] retry settings)."""
    max_width: int = Field(default=1920, ge=16, le=7680)
    """Widest clip accepted (the box's ``clips.max_width``); checked from the headers."""
    max_height: int = Field(default=1080, ge=16, le=4320)
    """Tallest clip accepted (the box's ``clips.max_height``); checked from the headers."""
    max_fps: float = Field(default=30.0, gt=0.0, le=120.0)
    """Highest frame rate accepted (the box encodes at ``clips.fps``, at most 30)."""


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
    suppressions: HubSuppressions = HubSuppressions()
    trusted_proxies: list[IPvAnyNetwork] = Field(default_factory=list, max_length=64)
    """Addresses (or networks) of the reverse proxies whose ``X-Forwarded-For`` and
    ``X-Forwarded-Proto`` are believed (the hub role's nginx: 127.0.0.1). From any other peer
    these headers are ignored, so a client cannot pick the address its logins are counted on."""

    def cross_checks(self) -> list[Issue]:
        """The request body limit leaves room for the largest clip upload."""
        if self.web.max_body_bytes is not None and self.web.max_body_bytes <= self.clips.max_bytes:
            return [Issue(("web", "max_body_bytes"),
                          f"web.max_body_bytes ({self.web.max_body_bytes}) must be above "
                          f"clips.max_bytes ({self.clips.max_bytes}): clip uploads would fail")]
        return []

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
