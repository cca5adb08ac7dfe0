"""``vigie eval scenes`` on a few seconds of a shared clip, with the real model (subprocess)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from edge.modelstore import ModelStore
from edge.tools.scene_eval import apply_overrides, parse_overrides, sha256_of
from tests.kits import scenes

ROOT = Path(__file__).resolve().parents[2]
VIDEO = "../shared/media/video/one-by-one-person-detection.mp4"


def _vigie(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "edge.cli", *args], capture_output=True, text=True,
                          cwd=ROOT, timeout=300, env={**os.environ, "PYTHONUNBUFFERED": "1"})


def _scene(tmp: Path, store: ModelStore, sha256: str) -> Path:
    """The first 10 s: visitor 1 walks in at 6.5 s. Two whole-frame zones: the truth names
    ``room`` only, so the same alert in ``hall`` is false; a wrong-way interval with no rule
    that could see it is missed."""
    whole = [[0, 0], [1, 0], [1, 1], [0, 1]]
    return scenes.write(tmp / "first-visitor.toml", {
        "video": VIDEO, "sha256": sha256, "until_s": 10.0,
        "box": {"models_dir": str(store.root),
                "zones": [{"name": "room", "polygon": whole}, {"name": "hall", "polygon": whole}],
                "rules": [{"type": "intrusion", "zone": "room"}, {"type": "intrusion", "zone": "hall"}]},
        "truth": [{"type": "intrusion", "zone": "room", "start": 6.5, "end": 19.5},
                  {"type": "wrong_way", "start": 1.0, "end": 3.0}],
        "objects": [{"classes": ["person"], "radius": 0.45,
                     "path": [[6.5, 0.45, 0.85], [9.0, 0.57, 0.5], [10.0, 0.57, 0.5]]}],
    })


def test_eval_scenes_prints_the_table_and_json_counts(model_store: ModelStore, tmp_path: Path) -> None:
    scene = _scene(tmp_path, model_store, sha256_of(ROOT / VIDEO))
    table = _vigie("eval", "scenes", str(scene))
    assert table.returncode == 0, table.stderr
    assert "| event | true | false | duplicate | missed |" in table.stdout
    assert "| intrusion | 1 | 1 | 0 | 0 |" in table.stdout
    assert "scenes:" in table.stderr  # the progress bar
    out = _vigie("eval", "scenes", "--json", str(scene))
    assert out.returncode == 0, out.stderr
    report = json.loads(out.stdout)
    assert report["footage_s"] == 10.0
    intrusion, wrong_way = report["events"]["intrusion"], report["events"]["wrong_way"]
    assert (intrusion["true"], intrusion["false"], intrusion["missed"]) == (1, 1, 0)
    assert 1.0 <= intrusion["latency_median_s"] <= 3.5  # the 2 s dwell after she comes into view
    assert intrusion["false_per_hour"] == 360.0  # one false alert in 10 s
    assert (wrong_way["true"], wrong_way["false"], wrong_way["missed"]) == (0, 0, 1)
    tracking = report["tracking"]
    assert tracking["objects"] == 1 and tracking["ids_per_object"] >= 1 and tracking["coverage"] > 0.5


def test_a_video_with_another_sha256_is_refused(model_store: ModelStore, tmp_path: Path) -> None:
    scene = _scene(tmp_path, model_store, "0" * 64)
    out = _vigie("eval", "scenes", str(scene))
    assert out.returncode != 0
    assert f"has sha256 {sha256_of(ROOT / VIDEO)}" in out.stderr
    assert "labelled on " + "0" * 64 in out.stderr and "another file" in out.stderr


def test_set_reaches_every_rule() -> None:
    doc = {"rules": [{"type": "a"}, {"type": "b"}]}
    apply_overrides(doc, parse_overrides(["rules.gap_s=0", "tracker.class_groups=[]", "tracker.x=word"]))
    assert doc == {"rules": [{"type": "a", "gap_s": 0}, {"type": "b", "gap_s": 0}],
                   "tracker": {"class_groups": [], "x": "word"}}
