"""``vigie edge replay`` and ``vigie edge calibrate`` as a technician runs them (subprocesses)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import cv2
import numpy as np
import pytest

from edge.calibration import GroundPlane
from edge.config import ConfigError, parse
from edge.modelstore import ModelStore
from tests.kits import scenes

ROOT = Path(__file__).resolve().parents[2]


def _vigie(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "edge.cli", *args], capture_output=True, text=True,
                          cwd=cwd, timeout=300, env={**os.environ, "PYTHONUNBUFFERED": "1"})


def _config(tmp: Path, store: ModelStore, video: Path) -> Path:
    return scenes.write(tmp / "box.toml", scenes.box_scene(
        video, site="s1", camera="c1", data_dir=tmp / "data", models_dir=store.root,
        realtime=None, health_s=None, zones=[scenes.TABLE], lines=[scenes.EXIT],
        calibration={"image": [[0.1, 0.6], [0.9, 0.6], [0.95, 0.98], [0.05, 0.98]],
                     "ground": [[0, 4], [4, 4], [4, 0], [0, 0]]},
        rules=[scenes.intrusion(classes=None, dwell_s=2)]))


@pytest.mark.slow
def test_replay_writes_events_and_an_annotated_video(model_store: ModelStore, media: Path, tmp_path: Path,
                                                     output_dir: Path) -> None:
    """The first 250 frames: visitor 1 stands at the table from frame ~80 (intrusion
    start ~2 s later) and leaves right by frame ~194, crossing the exit line."""
    video = media / "video/one-by-one-person-detection.mp4"
    cfg = _config(tmp_path, model_store, video)
    out = output_dir / "replay.mp4"
    r = _vigie("edge", "replay", str(video), "--config", str(cfg), "--out", str(out), "--max-frames", "250",
               cwd=tmp_path)
    assert r.returncode == 0, r.stderr[-2000:]
    lines = [json.loads(x) for x in r.stdout.splitlines()]
    events = [m for m in lines if m["schema"] == "vigie.event/1"]
    assert [(e["type"], e["state"]) for e in events][:2] == [("intrusion", "start"), ("intrusion", "end")]
    assert 60 <= events[0]["frame"] <= 130
    stats = [m for m in lines if m["schema"] == "vigie.stats/1"]
    assert stats and stats[-1]["lines"] == [{"line": "exit", "class": "person", "forward": 1, "backward": 0}]
    assert "replay" in r.stderr and "250/250" in r.stderr, "the progress bar goes to stderr"
    # The output plays: OpenCV decodes every frame at the source size.
    cap = cv2.VideoCapture(str(out))
    assert int(cap.get(cv2.CAP_PROP_FRAME_COUNT)) == 250
    cap.set(cv2.CAP_PROP_POS_FRAMES, events[0]["frame"] + 5)
    ok, img = cap.read()
    cap.release()
    assert ok and img.shape == (432, 768, 3)
    cv2.imwrite(str(output_dir / "replay-frame.png"), img)
    # The event banner and frame border are drawn in pure red (BGR 0, 0, 255) while the
    # event is open; the zone outline in yellow (0, 215, 255) along its top edge y = 0.70.
    red = (img[:, :, 2] > 200) & (img[:, :, 1] < 60) & (img[:, :, 0] < 60)
    assert red[:, -2:].mean() > 0.9, "red frame border of an open event"
    row = img[int(0.70 * 432) - 1: int(0.70 * 432) + 2, int(0.45 * 768): int(0.55 * 768)]
    yellow = (row[:, :, 2] > 180) & (row[:, :, 1] > 150) & (row[:, :, 0] < 100)
    assert yellow.any(), "zone outline"


def test_replay_reports_a_missing_video(model_store: ModelStore, tmp_path: Path) -> None:
    cfg = _config(tmp_path, model_store, tmp_path / "nope.mp4")
    r = _vigie("edge", "replay", str(tmp_path / "nope.mp4"), "--config", str(cfg), cwd=tmp_path)
    assert r.returncode != 0 and "does not exist" in r.stderr


def test_calibrate_snapshot(model_store: ModelStore, media: Path, tmp_path: Path, output_dir: Path) -> None:
    cfg = _config(tmp_path, model_store, media / "video/one-by-one-person-detection.mp4")
    snap = output_dir / "calibrate.png"
    r = _vigie("edge", "calibrate", str(cfg), "--snapshot", str(snap), cwd=tmp_path)
    assert r.returncode == 0, r.stderr[-2000:]
    area = GroundPlane.from_points([(0.1, 0.6), (0.9, 0.6), (0.95, 0.98), (0.05, 0.98)],
                                   [(0, 4), (4, 4), (4, 0), (0, 0)]).area_m2(
        [(0.40, 0.70), (0.78, 0.70), (0.78, 1.0), (0.40, 1.0)])
    assert f"zone table: {area:.1f} m2" in r.stdout
    img = cv2.imread(str(snap))
    assert img is not None and img.shape == (432, 768, 3)
    green = (img[:, :, 1] > 200) & (img[:, :, 0] < 120) & (img[:, :, 2] < 120)
    assert green[int(0.6 * 432):, :].mean() > 0.005, "the metric grid is drawn on the floor"


def test_homography_maps_the_calibration_points() -> None:
    image = [(0.1, 0.6), (0.9, 0.6), (0.95, 0.98), (0.05, 0.98)]
    ground = [(0.0, 4.0), (4.0, 4.0), (4.0, 0.0), (0.0, 0.0)]
    plane = GroundPlane.from_points(image, ground)
    assert np.allclose(plane.to_ground(image), ground, atol=1e-6)
    assert np.allclose(plane.to_image(ground), image, atol=1e-6)
    square = GroundPlane.from_points([(0, 0), (1, 0), (1, 1), (0, 1)], [(0, 0), (10, 0), (10, 5), (0, 5)])
    assert square.area_m2([(0, 0), (0.5, 0), (0.5, 0.5), (0, 0.5)]) == pytest.approx(12.5)


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ('[[rules]]\ntype = "fire"\nsource = "model"\n', "has no flame or smoke class"),
        ('[[zones]]\nname = "z"\npolygon = [[0,0],[1,0],[1,1]]\n'
         '[[rules]]\ntype = "crowd_density"\nzone = "z"\n',
         "needs ground-plane calibration"),
        ('[[rules]]\ntype = "weapon"\n', "add them to [detector] classes"),
        ('[[rules]]\ntype = "weapon"\nclasses = ["rifle"]\n', "has no class 'rifle'"),
        ('[[rules]]\ntype = "person_down"\ndwel_s = 3\n', "unknown key"),
        ('[[rules]]\ntype = "wrong_way"\nzone = "nowhere"\ndirection = [1, 0]\n', "not a [[zones]] entry"),
        ('[[rules]]\ntype = "camera_tamper"\nk = 3\n', "unknown key"),
        ('[calibration]\nimage = [[0,0],[0.5,0.5],[1,1],[0,1]]\nground = [[0,0],[1,0],[1,1],[0,1]]\n',
         "on one line"),
        ('[[lines]]\nname = "l"\na = [0.5, 0.5]\nb = [0.5, 0.5]\n', "same point"),
        ('mode = "stealth"\n', "'alerts' or 'statistics'"),
    ],
)
def test_config_errors_are_specific(body: str, message: str, tmp_path: Path) -> None:
    text = f'site = "s"\ncamera = "c"\n{body}\n[source]\nurl = "x.mp4"\n'
    with pytest.raises(ConfigError) as err:
        parse(text, tmp_path / "box.toml")
    assert message in str(err.value)


def test_config_error_points_at_the_line(tmp_path: Path) -> None:
    text = 'site = "s"\ncamera = "c"\n[source]\nurl = "x.mp4"\n[[rules]]\ntype = "person_down"\ndwel_s = 3\n'
    with pytest.raises(ConfigError) as err:
        parse(text, tmp_path / "box.toml")
    assert "line 7" in str(err.value) and "rules[0].dwel_s" in str(err.value)
