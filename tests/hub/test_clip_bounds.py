"""Clips are checked from their headers before anything is decoded, and decoded one frame at a
time: measured on the real ``vigie hub serve`` process (peak RSS from /proc, reset before each
attack) with a huge-resolution VP8 clip made here, an H.264 MP4, a clip whose track header
lies about its frame size, and the same clips already on disk (stored before these checks)
opened by the subject-access page and export. A normal clip still uploads and plays."""

from __future__ import annotations

import hashlib
import re
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np
import psutil
import pytest
import requests

from central import db as hubdb
from central.devtools.broker import free_port, wait_port
from central.ingest.clipstore import clip_path
from tests.kits.hubkit import insert_event

DEVICE = "bounds-device-token-cam-01-0123456789"
OPERATOR = "bounds-operator-token"
OFFICER = "bounds-privacy-officer-token"
GROWTH_MB = 100
"""Peak RSS growth allowed for one refused clip (the old code grew ~190 MB at 4096x4096 by
decoding it at upload, as much again at every subject-access look)."""


def vp8(path: Path, size: tuple[int, int], frames: int, fps: float = 10.0) -> Path:
    """A real VP8 WebM made by OpenCV (as the box makes them): a moving gradient."""
    w, h = size
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter.fourcc(*"VP80"), fps, (w, h))
    assert writer.isOpened()
    ramp = np.tile(np.linspace(0, 255, w, dtype=np.uint8), (h, 1))
    for k in range(frames):
        image = np.roll(ramp, 4 * k, axis=1)
        writer.write(cv2.merge([image, image // 2, 255 - image]))
    writer.release()
    return path


@pytest.fixture(scope="module")
def clips(tmp_path_factory: pytest.TempPathFactory, media: Path) -> dict[str, Path]:
    d = tmp_path_factory.mktemp("bounds")
    huge = vp8(d / "huge.webm", (4096, 4096), 2)
    # the same frames under a track header that says 160x120: only the frame headers tell
    data = huge.read_bytes()
    width, height = b"\xb0\x82\x10\x00", b"\xba\x82\x10\x00"
    assert data.count(width) == 1 and data.count(height) == 1
    liar = d / "liar.webm"
    liar.write_bytes(data.replace(width, b"\xb0\x82\x00\xa0").replace(height, b"\xba\x82\x00\x78"))
    return {"normal": vp8(d / "normal.webm", (320, 240), 20), "huge": huge, "liar": liar,
            "h264": media / "video" / "traffic_frames.mp4"}


@dataclass
class Served:
    url: str
    database: Path
    clips_dir: Path
    pid: int

    def put(self, event_id: str, data: bytes) -> requests.Response:
        return requests.put(
            f"{self.url}/api/v1/events/{event_id}/clip", data=data, timeout=120,
            headers={"Authorization": f"Bearer {DEVICE}", "Content-Type": "video/webm",
                     "X-Content-SHA256": hashlib.sha256(data).hexdigest()})

    def get(self, path: str, token: str = OPERATOR, **kw: object) -> requests.Response:
        return requests.get(f"{self.url}{path}", headers={"Authorization": f"Bearer {token}"},
                            timeout=300, **kw)  # type: ignore[arg-type]

    def event(self) -> str:
        return insert_event(self.database, camera="cam-01")

    def clip_status(self, event_id: str) -> str:
        db = hubdb.connect(self.database)
        try:
            return str(db.execute("SELECT clip FROM events WHERE id = ?", [event_id]).fetchone()[0])
        finally:
            db.conn.close()

    def store_directly(self, path: Path) -> str:
        """A clip put on disk and in the clips table as the hub did before it checked headers."""
        event_id = self.event()
        data = path.read_bytes()
        sha = hashlib.sha256(data).hexdigest()
        dest = clip_path(self.clips_dir, sha)
        dest.parent.mkdir(parents=True, exist_ok=True)
        dest.write_bytes(data)
        db = hubdb.connect(self.database)
        db.table("clips").insert({"event_id": event_id, "site": "test", "camera": "cam-01",
                                  "sha256": sha, "bytes": len(data), "stored_at": time.time()})
        db.conn.close()
        return event_id

    def processes(self) -> list[psutil.Process]:
        """The server and any worker processes it runs."""
        me = psutil.Process(self.pid)
        return [me, *me.children(recursive=True)]

    def reset_peak(self) -> int:
        """Reset the kernel's peak-RSS mark of the server's processes; their RSS now (MB)."""
        total = 0
        for p in self.processes():
            Path(f"/proc/{p.pid}/clear_refs").write_text("5")
            total += _status(p.pid, "VmRSS")
        return total

    def peak(self) -> int:
        """Peak RSS (MB) of the server's processes since :meth:`reset_peak`."""
        return sum(_status(p.pid, "VmHWM") for p in self.processes())


def _status(pid: int, key: str) -> int:
    text = Path(f"/proc/{pid}/status").read_text()
    m = re.search(rf"^{key}:\s+(\d+) kB", text, re.M)
    assert m, text
    return int(m.group(1)) // 1024


@pytest.fixture
def served(tmp_path: Path, spawn) -> Served:  # type: ignore[no-untyped-def]
    """``vigie hub serve`` on the clip limits the hub role ships (its defaults)."""
    port = free_port()
    cfg = tmp_path / "hub.toml"
    cfg.write_text(
        f'database = "hub.sqlite"\nport = {port}\nretention_days = 10\n[clips]\ndir = "clips"\n'
        f'[api_tokens]\n{OPERATOR} = "alice"\n'
        f'{OFFICER} = {{ actor = "dpo", role = "privacy_officer" }}\n'
        f'[device_tokens]\n{DEVICE} = {{ site = "test", camera = "cam-01" }}\n')
    proc = spawn("serve", "hub", "serve", "--config", str(cfg))
    assert wait_port(port, 30, proc.proc), proc.text()
    return Served(f"http://127.0.0.1:{port}", tmp_path / "hub.sqlite", tmp_path / "clips",
                  proc.proc.pid)


def test_uploads_checked_from_headers_within_a_memory_bound(served: Served, clips: dict[str, Path]) -> None:
    # a normal clip uploads and plays, served as the WebM it was checked to be
    good = served.event()
    data = clips["normal"].read_bytes()
    r = served.put(good, data)
    assert r.status_code == 201, r.text
    assert abs(r.json()["duration_s"] - 2.0) < 0.15
    view = served.get(f"/api/v1/events/{good}/clip")
    assert view.status_code == 200 and view.content == data
    assert view.headers["Content-Type"] == "video/webm"
    assert view.headers["X-Content-Type-Options"] == "nosniff"

    attacks = {
        "huge": (422, "too_large_frame", "4096x4096"),
        "liar": (422, "frame_size_mismatch", "coded at 4096x4096"),
        "h264": (415, "unsupported_media_type", "MP4"),
    }
    for name, (status, error, words) in attacks.items():
        event_id = served.event()
        before = served.reset_peak()
        r = served.put(event_id, clips[name].read_bytes())
        growth = served.peak() - before
        assert r.status_code == status, (name, r.status_code, r.text)
        assert r.json()["error"] == error and words in r.json()["message"], (name, r.json())
        assert growth < GROWTH_MB, f"{name}: the server grew by {growth} MB"
        # the event says why it has no clip; nothing is stored for it
        assert '"status": "failed"' in served.clip_status(event_id)
        assert error in served.clip_status(event_id)
        assert served.get(f"/api/v1/events/{event_id}/clip").status_code == 404
    stored = [p for p in served.clips_dir.rglob("*.webm")]
    assert [p.name for p in stored] == [f"{hashlib.sha256(data).hexdigest()}.webm"]


def test_stored_clips_checked_again_before_subject_access_and_viewing(
    served: Served, clips: dict[str, Path],
) -> None:
    officer = {"token": OFFICER}
    for name, words in (("huge", "4096x4096"), ("liar", "coded at 4096x4096"), ("h264", "MP4")):
        event_id = served.store_directly(clips[name])
        before = served.reset_peak()
        persons = served.get(f"/api/v1/privacy/access/{event_id}/persons", **officer)
        page = served.get(f"/privacy/access/{event_id}", **officer)
        export = requests.post(
            f"{served.url}/api/v1/privacy/access/{event_id}/export", timeout=300,
            headers={"Authorization": f"Bearer {OFFICER}"},
            json={"frame": 0, "box": [0.1, 0.1, 0.2, 0.2], "reason": "SAR: requester letter"})
        growth = served.peak() - before
        for r in (persons, page, export):
            assert r.status_code == 400, (name, r.status_code, r.text[:300])
            assert words in r.text, (name, r.text[:300])
        assert growth < GROWTH_MB, f"{name}: the server grew by {growth} MB"
        # a stored file that is not a WebM is not served as one
        view = served.get(f"/api/v1/events/{event_id}/clip")
        if name == "h264":
            assert view.status_code == 409 and "not a WebM" in view.text
        else:
            assert view.status_code == 200 and view.headers["Content-Type"] == "video/webm"


DECODE = """
import re, sys
from pathlib import Path
from central.ingest.clipcheck import ClipLimits, frames, read_clip
def mb(key):
    return int(re.search(key + r":\\s+(\\d+)", Path("/proc/self/status").read_text()).group(1)) // 1024
limits = ClipLimits(16 * 1024 * 1024, 60.0, 1920, 1080)
data, info = read_clip(Path(sys.argv[1]), limits)
for _ in frames(data, info, stop=1):
    pass
Path("/proc/self/clear_refs").write_text("5")
before = mb("VmRSS")
n = sum(1 for _ in frames(data, info))
print(n, info.frames, mb("VmHWM") - before)
"""


def test_a_full_hd_clip_decodes_one_frame_at_a_time(tmp_path: Path) -> None:
    """60 frames of 1920x1080 are 373 MB decoded; a process decoding them through
    :func:`central.ingest.clipcheck.frames` grows by a few frames only."""
    clip = vp8(tmp_path / "hd.webm", (1920, 1080), 60)
    out = subprocess.run([sys.executable, "-c", DECODE, str(clip)], capture_output=True, text=True,
                         timeout=300, check=True)
    decoded, declared, growth = (int(v) for v in out.stdout.split())
    assert decoded == declared == 60
    assert growth < 60, f"decoding grew the process by {growth} MB"


def test_box_fits_a_larger_camera_into_what_the_hub_accepts(tmp_path: Path) -> None:
    """A 2560x1440 camera's clip is anonymised at full size, then encoded at 1920x1080 (the
    box's clips.max_width x max_height, the hub's defaults), and passes the hub's check."""
    from central.config import HubClips
    from central.ingest.clipcheck import ClipLimits, inspect
    from edge.clips.maker import make_clip
    from edge.clips.preroll import compress
    from edge.config_wings import ClipsConfig
    from edge.privacy.faces import Anonymiser
    from edge.privacy.masks import MaskPainter

    ramp = np.tile(np.linspace(0, 255, 2560, dtype=np.uint8), (1440, 1))
    image = cv2.merge([ramp, ramp, ramp])
    cfg = ClipsConfig(anonymize="persons")
    person = ((1000.0, 400.0, 1300.0, 1200.0),)
    stored = [compress(k / 10, image, person, 85, None) for k in range(10)]
    clip = make_clip(stored, 0.0, 1.0, cfg, Anonymiser(MaskPainter([]), cfg.anonymize, None),
                     tmp_path / "qhd.webm")
    hub = HubClips()
    info = inspect(clip.path.read_bytes(), ClipLimits(hub.max_bytes, hub.max_duration_s,
                                                      hub.max_width, hub.max_height, hub.max_fps))
    assert (info.width, info.height) == (1920, 1080) == (cfg.max_width, cfg.max_height)
    assert info.frames == 10
