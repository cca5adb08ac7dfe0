"""The hub's configuration (TOML, validated by pydantic with unknown keys refused)."""

from __future__ import annotations

import tomllib
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from edge.config import ConfigError, problems_from


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class HubBroker(Strict):
    host: str = "127.0.0.1"
    port: int = Field(default=1883, ge=1, le=65535)
    username: str | None = None
    password: str | None = None
    client_id: str = "vigie-hub-ingest"


class HubConfig(Strict):
    database: Path = Path("/var/lib/vigie-hub/hub.sqlite")
    broker: HubBroker = HubBroker()
    api_tokens: dict[str, str] = Field(default_factory=dict)
    """Bearer token -> the operator name it acts as (users and roles come later)."""
    bind: str = "127.0.0.1"
    port: int = Field(default=8080, ge=1, le=65535)


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
    try:
        return HubConfig.model_validate(data)
    except ValidationError as exc:
        raise ConfigError(path, problems_from(exc, text)) from None
