"""Clips for the tests: a hub that takes clip uploads over real HTTP (two cameras' device
tokens, small limits), a real WebM of random frames, and every frame of a clip decoded."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np
import pytest
from werkzeug.serving import make_server

from central import create_app
from central import db as hubdb
from central.config import DeviceIdentity, HubClips, HubConfig
from edge.clips.encode import ClipFile, encode

DEVICE = "device-token-cam-042-0123456789"
"""marseille/cam-042's device token."""
OTHER = "device-token-cam-043-0123456789"
"""marseille/cam-043's device token."""
OPERATOR = "operator-token"


@dataclass
class Hub:
    """The clip hub: its URL and its config."""

    url: str
    cfg: HubConfig

    def db(self):  # type: ignore[no-untyped-def]
        return hubdb.connect(self.cfg.database)

    def stored_files(self) -> list[Path]:
        return [p for p in self.cfg.clips.dir.rglob("*") if p.is_file()]

    def clip_rows(self) -> int:
        return int(self.db().execute("SELECT COUNT(*) FROM clips").fetchone()[0])


@pytest.fixture
def hub(tmp_path: Path) -> Iterator[Hub]:
    """A hub on a free port taking clips of at most 400 kB and 20 s."""
    cfg = HubConfig(
        database=tmp_path / "hub.sqlite",
        api_tokens={OPERATOR: "alice"},
        device_tokens={DEVICE: DeviceIdentity(site="marseille", camera="cam-042"),
                       OTHER: DeviceIdentity(site="marseille", camera="cam-043")},
        clips=HubClips(dir=tmp_path / "clips", max_bytes=400_000, max_duration_s=20.0),
    )
    app = create_app(cfg)
    server = make_server("127.0.0.1", 0, app, threaded=True)
    t = threading.Thread(target=server.serve_forever, daemon=True)
    t.start()
    yield Hub(f"http://127.0.0.1:{server.server_port}", cfg)
    server.shutdown()


def make_webm(path: Path, seconds: float, fps: float = 10.0, size: tuple[int, int] = (160, 120)) -> ClipFile:
    """A real WebM of ``seconds`` of random frames (seeded: the same bytes every time)."""
    rng = np.random.default_rng(7)
    n = round(seconds * fps)
    frames = (rng.integers(0, 255, (size[1], size[0], 3), dtype=np.uint8) for _ in range(n))
    return encode(frames, fps, path, 10_000_000)


@pytest.fixture(scope="module")
def clip(tmp_path_factory: pytest.TempPathFactory) -> ClipFile:
    """A 2 s WebM."""
    return make_webm(tmp_path_factory.mktemp("clip") / "c.webm", 2.0)


def decode_all(path: Path) -> list[np.ndarray]:
    """Every frame of the video at ``path``."""
    cap = cv2.VideoCapture(str(path))
    out = []
    while True:
        ok, image = cap.read()
        if not ok:
            break
        out.append(image)
    cap.release()
    return out
