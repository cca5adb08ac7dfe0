"""The hub's configuration (TOML, validated by pydantic with unknown keys refused)."""

from __future__ import annotations

import tomllib
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from edge.config import ConfigError, problems_from
from edge.messages import NAME_PATTERN


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class HubBroker(Strict):
    host: str = "127.0.0.1"
    port: int = Field(default=1883, ge=1, le=65535)
    username: str | None = None
    password: str | None = None
    client_id: str = "vigie-hub-ingest"


class DeviceIdentity(Strict):
    """The camera a device token speaks for (clip uploads)."""

    site: str = Field(pattern=NAME_PATTERN)
    camera: str = Field(pattern=NAME_PATTERN)


class HubClips(Strict):
    """Where clips are stored and what the hub accepts."""

    dir: Path = Path("/var/lib/vigie-hub/clips")
    max_bytes: int = Field(default=16 * 1024 * 1024, ge=64 * 1024, le=1024 * 1024 * 1024)
    max_duration_s: float = Field(default=60.0, gt=0.0, le=600.0)
    max_width: int = Field(default=1920, ge=16, le=7680)
    """Widest clip accepted (the box's ``clips.max_width``); checked from the headers."""
    max_height: int = Field(default=1080, ge=16, le=4320)
    """Tallest clip accepted (the box's ``clips.max_height``); checked from the headers."""
    max_fps: float = Field(default=30.0, gt=0.0, le=120.0)
    """Highest frame rate accepted (the box encodes at ``clips.fps``, at most 30)."""


class ApiToken(Strict):
    """A machine client's token in the hub config: who it acts as, and with which role."""

    actor: str = Field(min_length=1, max_length=100)
    role: Literal["operator", "supervisor", "privacy_officer", "admin", "investigator"] = "operator"


class HubSearch(Strict):
    """Forensic search fan-out (issue 12)."""

    timeout_s: float = Field(default=10.0, gt=0.0, le=600.0)
    """A search stops waiting for boxes that have not answered after this long."""
    expiry_s: float = Field(default=120.0, gt=0.0, le=3600.0)
    """Boxes refuse a request older than this (a replayed or delayed request)."""
    max_cameras: int = Field(default=2000, ge=1, le=2000)


class PrivacyVerifyConfig(Strict):
    """Continuous egress-ledger verification (central.egress_verify)."""

    grace_s: float = Field(default=180.0, gt=0, le=86400)
    """A ledgered message not received after this long is missing (box digests every 60 s)."""
    verify_every_s: float = Field(default=30.0, gt=0, le=3600)
    window_s: float = Field(default=3600.0, gt=0, le=90 * 86400)
    """How far back each continuous round looks (``vigie privacy verify`` looks at all)."""


class HubConfig(Strict):
    database: Path = Path("/var/lib/vigie-hub/hub.sqlite")
    broker: HubBroker = HubBroker()
    api_tokens: dict[str, str | ApiToken] = Field(default_factory=dict)
    """Bearer token -> the name it acts as (role ``operator``), or ``{actor, role}``."""
    bind: str = "127.0.0.1"
    port: int = Field(default=8080, ge=1, le=65535)
    device_tokens: dict[str, DeviceIdentity] = Field(default_factory=dict)
    """Device bearer token -> the site/camera it uploads clips for."""
    clips: HubClips = HubClips()
    retention_days: int = Field(default=10, ge=1, le=30)
    """Events and clips older than this are purged (30 days is the French legal maximum)."""
    cookie_secure: bool = True
    """Session cookies only over HTTPS (browsers also accept them on http://localhost)."""
    silent_after_s: float = Field(default=60.0, gt=0, le=3600)
    """A camera not heard from for this long raises an operational alert."""
    signing_key: Path | None = None
    """The hub's Ed25519 private key (``vigie hub keygen``); signs search requests. Without it
    the hub cannot search (boxes refuse unsigned requests)."""
    search: HubSearch = HubSearch()
    privacy: PrivacyVerifyConfig = PrivacyVerifyConfig()


def load(path: Path | str) -> HubConfig:
    """Read and validate a hub config; relative paths are taken from the file's folder."""
    path = Path(path)
    text = path.read_text(encoding="utf-8")
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(path, []) from exc
    if isinstance(data.get("database"), str):
        data["database"] = str((path.parent / data["database"]).resolve())
    if isinstance(data.get("signing_key"), str):
        data["signing_key"] = str((path.parent / data["signing_key"]).resolve())
    clips = data.get("clips")
    if isinstance(clips, dict) and isinstance(clips.get("dir"), str):
        clips["dir"] = str((path.parent / clips["dir"]).resolve())
    try:
        return HubConfig.model_validate(data)
    except ValidationError as exc:
        raise ConfigError(path, problems_from(exc, text)) from None
