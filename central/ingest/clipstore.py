"""Where the hub keeps clip files: one per content hash, ``<clips dir>/<sha[:2]>/<sha>.webm``,
and event stills: ``<clips dir>/stills/<sha[:2]>/<sha>.jpg``.

Written by the clip upload (:mod:`central.web.clips`), read by clip viewing and subject access,
deleted by retention (:mod:`central.privacy.retention`).
"""

from __future__ import annotations

from pathlib import Path


def clip_path(clips_dir: Path, sha256: str) -> Path:
    """Where the clip with this hash is stored."""
    return clips_dir / sha256[:2] / f"{sha256}.webm"


def still_path(clips_dir: Path, sha256: str) -> Path:
    """Where the event still with this hash is stored: ``<clips dir>/stills/<sha[:2]>/<sha>.jpg``."""
    return clips_dir / "stills" / sha256[:2] / f"{sha256}.jpg"
