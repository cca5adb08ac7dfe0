"""Video sources: a real file, looping, and a dead stream that is retried with backoff."""

from __future__ import annotations

import itertools
import logging
import re
import threading
import time
from pathlib import Path

import pytest

from central.devtools.broker import free_port
from edge.capture import SourceError, VideoSource
from edge.config import SourceConfig


def test_file_frames_have_media_time(media: Path) -> None:
    src = VideoSource(SourceConfig(url=str(media / "video" / "traffic_frames.mp4"), realtime=False))
    frames = list(src.frames())
    assert len(frames) == 20
    assert frames[0].image.shape[:2] == (540, 960)
    assert [f.index for f in frames] == list(range(20))
    assert all(b.ts > a.ts for a, b in itertools.pairwise(frames))


def test_file_loops(media: Path) -> None:
    url = str(media / "video" / "traffic_frames.mp4")
    src = VideoSource(SourceConfig(url=url, realtime=False, loop=True))
    frames = []
    for f in src.frames():
        frames.append(f)
        if len(frames) == 45:
            break
    assert len(frames) == 45  # past the 20-frame file twice


def test_realtime_file_is_paced_and_ends(media: Path) -> None:
    src = VideoSource(SourceConfig(url=str(media / "video" / "traffic_frames.mp4"), realtime=True))
    t0 = time.monotonic()
    n = sum(1 for _ in src.frames())
    elapsed = time.monotonic() - t0
    fps = src.fps
    assert n >= 1
    assert elapsed >= 0.8 * 20 / fps  # paced at the file's own rate, not as fast as possible


def test_missing_file_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(SourceError, match="does not exist"):
        VideoSource(SourceConfig(url=str(tmp_path / "none.mp4")))


def test_dead_stream_is_retried_with_exponential_backoff(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.WARNING, logger="edge.capture")
    url = f"rtsp://127.0.0.1:{free_port()}/cam"  # nothing listens there
    src = VideoSource(SourceConfig(url=url, reconnect_initial_s=0.1, reconnect_max_s=0.4))
    got: list[object] = []
    t = threading.Thread(target=lambda: got.extend(src.frames()), daemon=True)
    t.start()
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline and len(
        [r for r in caplog.records if "retrying" in r.getMessage()]
    ) < 4:
        time.sleep(0.1)
    src.stop()
    t.join(10)
    delays = [float(m.group(1)) for r in caplog.records
              if (m := re.search(r"retrying in ([\d.]+) s", r.getMessage()))]
    assert delays[:4] == [0.1, 0.2, 0.4, 0.4]
    assert got == [] and not t.is_alive() and not src.connected
