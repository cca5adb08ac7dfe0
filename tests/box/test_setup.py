"""``vigie edge setup`` without a browser: its door (token, cookie, loopback, idle timeout), its
dead-camera message, its TOML save, its forms and its two languages."""

from __future__ import annotations

import re
import stat
import subprocess
import sys
import time
import tomllib
from pathlib import Path
from typing import Any

import pytest
import requests

from edge.config import check_text
from edge.modelstore import ModelStore
from edge.rules.configs import RULE_TYPES
from edge.setup.forms import rule_forms
from edge.setup.messages import EN, FR, pick
from edge.setup.save import previous_path, render, save
from tests.conftest import Proc, wait_for
from tests.kits import scenes

TEXT = """# Caméra 12, parvis de la mairie
site = "mairie"   # le site
camera = "parvis-12"
data_dir = "data"

[source]
url = "video.mp4"   # la vidéo de recette

# Zones dessinées par le technicien
[[zones]]
name = "entree"   # l'entrée principale
polygon = [[0.1, 0.5], [0.9, 0.5], [0.9, 1.0], [0.1, 1.0]]

# Règles
[[rules]]
type = "intrusion"
zone = "entree"
dwell_s = 4   # quatre secondes
"""


def _editor(spawn: Any, cfg: Path, *args: str) -> tuple[Proc, str, str]:
    """``vigie edge setup`` on a free port (stopped after the test); its base URL and token."""
    proc = spawn("setup", "edge", "setup", str(cfg), "--port", "0", *args)
    pattern = re.compile(r"(http://127\.0\.0\.1:\d+/)\?token=(\S+)")
    base, token = wait_for(lambda: (m := pattern.search(proc.text())) and m.groups(), 60,
                           what="the editor's URL")
    return proc, base, token


def test_render_keeps_comments_and_changes_only_what_was_edited() -> None:
    data = tomllib.loads(TEXT)
    zones = [*data["zones"], {"name": "quai", "polygon": [[0, 0], [0.5, 0], [0.5, 0.5]]}]
    zones[0]["polygon"][0] = [0.2, 0.5]
    rules = [*data["rules"], {"type": "intrusion", "zone": "quai"}]
    lines = [{"name": "sortie", "a": [0.5, 1], "b": [0.5, 0]}]
    out = render(TEXT, {"zones": zones, "rules": rules, "lines": lines})
    for comment in ("# Caméra 12, parvis de la mairie", "# le site", "# la vidéo de recette", "# Règles",
                    "# Zones dessinées par le technicien", "# l'entrée principale", "# quatre secondes"):
        assert comment in out
    assert 'polygon = [[0.2, 0.5], [0.9, 0.5], [0.9, 1.0], [0.1, 1.0]]' in out
    again = tomllib.loads(out)
    assert [z["name"] for z in again["zones"]] == ["entree", "quai"]
    assert again["rules"][1] == {"type": "intrusion", "zone": "quai"} and again["rules"][0]["dwell_s"] == 4
    assert again["lines"][0]["name"] == "sortie"
    assert out.index("# Règles") < out.index("[[rules]]"), "a section's heading comment stays above it"
    # Removing the last zone and rule removes their sections; everything else stays.
    gone = render(TEXT, {})
    assert "[[zones]]" not in gone and "[[rules]]" not in gone and "# le site" in gone


def test_save_keeps_the_previous_version_and_the_mode(tmp_path: Path) -> None:
    cfg = tmp_path / "box.toml"
    cfg.write_text(TEXT)
    cfg.chmod(0o640)
    prev = save(cfg, TEXT.replace("dwell_s = 4", "dwell_s = 5"))
    assert prev == previous_path(cfg) == tmp_path / "box.toml.prev"
    assert prev.read_text() == TEXT and "dwell_s = 5" in cfg.read_text()
    assert stat.S_IMODE(cfg.stat().st_mode) == 0o640
    assert sorted(p.name for p in tmp_path.iterdir()) == ["box.toml", "box.toml.prev"], "no temporary left"


def test_the_checker_refuses_crossing_and_outside_outlines(tmp_path: Path) -> None:
    """The same findings ``check-config`` prints, with their lines."""
    (tmp_path / "video.mp4").write_bytes(b"")
    bowtie = TEXT.replace("[[0.1, 0.5], [0.9, 0.5], [0.9, 1.0], [0.1, 1.0]]",
                          "[[0.1, 0.5], [0.9, 1.0], [0.9, 0.5], [0.1, 1.0]]")
    _cfg, problems = check_text(bowtie, tmp_path / "box.toml")
    assert [(p.line, p.location) for p in problems] == [(12, "zones[0].polygon")]
    assert "crosses itself" in problems[0].message
    outside = TEXT.replace("[0.9, 1.0], [0.1, 1.0]]", "[0.9, 1.2], [0.1, 1.0]]") + \
        '\n[[privacy_masks]]\nname = "m"\npolygon = [[0, 0], [1, 1], [1, 0], [0, 1]]\n'
    _cfg, problems = check_text(outside, tmp_path / "box.toml")
    messages = {p.location: p.message for p in problems}
    assert "point 3 [0.9, 1.2] is outside the frame" in messages["zones[0].polygon"]
    assert "crosses itself" in messages["privacy_masks[0].polygon"]
    bad = tmp_path / "bad.toml"
    bad.write_text(bowtie)
    r = subprocess.run([sys.executable, "-m", "edge.cli", "edge", "check-config", str(bad)],
                       capture_output=True, text=True, timeout=120)
    assert r.returncode != 0 and "line 12: zones[0].polygon: the outline crosses itself" in r.stderr


def test_forms_cover_the_catalogue_with_defaults_and_limits() -> None:
    forms = {f["type"]: {fd["name"]: fd for fd in f["fields"]} for f in rule_forms()}
    assert set(forms) == set(RULE_TYPES)
    dwell = forms["intrusion"]["dwell_s"]
    assert (dwell["kind"], dwell["default"], dwell["min"], dwell["max"]) == ("number", 2.0, 0.0, 3600.0)
    assert forms["intrusion"]["zone"]["kind"] == "zone" and forms["intrusion"]["zone"]["required"]
    assert forms["wrong_way"]["direction"]["kind"] == "vector" and forms["wrong_way"]["direction"]["required"]
    assert forms["weapon"]["classes"]["default"] == ["knife"]
    assert forms["crowd_movement"]["method"]["options"] == ["tracks", "flow"]
    assert forms["camera_tamper"]["min_similarity"]["lt"] == 1.0
    assert not forms["weapon"]["zone"]["required"]


def test_both_languages_have_every_text() -> None:
    assert set(FR) == set(EN) and all(FR.values()) and all(EN.values())
    assert pick("") == "fr" and pick("en-GB,en;q=0.9") == "en" and pick("de, en;q=0.5, fr;q=0.8") == "fr"
    assert pick("en;q=abc, fr;q=0.1") == "fr"


def test_a_non_loopback_bind_is_refused_without_the_flag(tmp_path: Path) -> None:
    cfg = tmp_path / "box.toml"
    cfg.write_text(TEXT)
    r = subprocess.run([sys.executable, "-m", "edge.cli", "edge", "setup", str(cfg), "--host", "0.0.0.0"],
                       capture_output=True, text=True, timeout=120, cwd=tmp_path)
    assert r.returncode != 0 and "refusing to bind to 0.0.0.0" in r.stderr
    assert "--allow-remote-bind" in r.stderr


def test_the_door_the_dead_camera_and_the_idle_timeout(tmp_path: Path, spawn: Any) -> None:
    """Without its token nothing is served; a token serves once; the editor stops by itself."""
    cfg = tmp_path / "box.toml"
    cfg.write_text(TEXT)  # video.mp4 does not exist: the camera is dead, the editor is not
    proc, base, token = _editor(spawn, cfg, "--idle-timeout", "4")
    banner = proc.text()
    assert re.search(r"ssh -L (\d+):127\.0\.0\.1:\1 tech@box", banner), banner
    assert requests.get(base, timeout=10).status_code == 403
    assert requests.get(base + "api/state", timeout=10).status_code == 403
    assert requests.get(base, params={"token": token[:-1] + "x"}, timeout=10).status_code == 403
    with requests.Session() as s:
        r = s.get(base, params={"token": token}, headers={"Accept-Language": "fr"}, timeout=10)
        assert r.status_code == 200 and "réglage de la caméra" in r.text and "token=" not in r.url
        cookie = r.history[0].headers["Set-Cookie"]
        assert "HttpOnly" in cookie and "SameSite=Strict" in cookie
        assert requests.get(base, params={"token": token}, timeout=10).status_code == 403, "one use only"
        frame = s.get(base + "api/frame", headers={"Accept-Language": "fr"}, timeout=10)
        assert frame.status_code == 503
        assert frame.json()["error"] == "La caméra ne donne pas d'image"
        assert "does not exist" in frame.json()["detail"]
        assert s.get(base, headers={"Accept-Language": "en"}, timeout=10).text.count("camera setup") >= 1
        no_header = s.post(base + "api/check", json={"layout": {}}, timeout=10)
        assert no_header.status_code == 403, "a POST without the X-Vigie-Setup header (another site's form)"
        checked = s.post(base + "api/check", json={"layout": {}}, headers={"X-Vigie-Setup": "1"}, timeout=10)
        assert checked.status_code == 200 and checked.json()["problems"][0]["location"] == "source.url"
    started = time.monotonic()
    wait_for(lambda: not proc.alive(), 30, what="the editor to stop by itself")
    assert time.monotonic() - started < 30 and proc.stop() == 0
    assert "no activity for 4 s: stopping the editor" in proc.text()
    assert not (tmp_path / "data").exists(), "nothing written to the box's data folder"


@pytest.mark.parametrize("lang,word", [("fr", "Enregistrer"), ("en", "Save")])
def test_the_page_follows_lang(tmp_path: Path, media: Path, spawn: Any, lang: str, word: str) -> None:
    cfg = scenes.write(tmp_path / "box.toml", scenes.box_scene(media / scenes.TRAFFIC_VIDEO, health_s=None))
    proc, base, token = _editor(spawn, cfg, "--lang", lang, "--idle-timeout", "60")
    with requests.Session() as s:
        page = s.get(base, params={"token": token}, headers={"Accept-Language": "de"}, timeout=10)
        assert f">{word}</button>" in page.text and f'<html lang="{lang}">' in page.text
        jpeg = s.get(base + "api/frame", timeout=20)
        assert jpeg.status_code == 200 and jpeg.content[:2] == b"\xff\xd8"
        loop = wait_for(lambda: len(s.get(base + "api/loop", timeout=10).json()["frames"]) >= 2, 20,
                        what="recent frames kept")
        assert loop
    assert proc.stop() == 0


def test_the_editor_imports_nothing_of_the_hub() -> None:
    """The editor's modules load without the hub's code and without an MQTT client (the ``vigie``
    root adds the hub's commands only where the hub extra is installed)."""
    script = ("import sys, edge.setup.server, edge.setup.app, edge.setup.tryit\n"
              "print(sorted(m for m in sys.modules if m.split('.')[0] in ('central', 'paho')))")
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0 and out.stdout.strip() == "[]", out.stdout + out.stderr


def test_try_it_runs_on_the_frames_kept_by_the_session(tmp_path: Path, media: Path, spawn: Any,
                                                       model_store: ModelStore) -> None:
    """The unsaved layout (with a rule the file does not have) on the last seconds kept."""
    cfg = scenes.write(tmp_path / "box.toml", scenes.box_scene(
        media / scenes.TRAFFIC_VIDEO, health_s=None, models_dir=model_store.root, data_dir=tmp_path / "data"))
    before = cfg.read_text()
    _proc, base, token = _editor(spawn, cfg, "--idle-timeout", "120")
    layout = {"zones": [{"name": "rue", "polygon": [[0, 0.3], [1, 0.3], [1, 1], [0, 1]]}],
              "rules": [{"type": "intrusion", "zone": "rue", "classes": ["car"], "dwell_s": 0}]}
    post = {"headers": {"X-Vigie-Setup": "1"}, "timeout": 20}
    with requests.Session() as s:
        s.get(base, params={"token": token}, timeout=10)
        wait_for(lambda: len(s.get(base + "api/loop", timeout=10).json()["frames"]) >= 8, 30,
                 what="frames kept")
        two_points = {"zones": [{"name": "x", "polygon": [[0, 0], [1, 1]]}]}
        bad = s.post(base + "api/try", json={"layout": two_points}, **post)
        assert bad.status_code == 422 and bad.json()["problems"][0]["location"] == "zones[0].polygon"
        run = s.post(base + "api/try", json={"layout": layout, "seconds": 3}, **post).json()
        assert run["state"] == "running" and run["total"] >= 8
        status = base + f"api/try/{run['id']}"
        done = wait_for(lambda: (r := s.get(status, timeout=10).json())["state"] != "running" and r, 120,
                        what="the trial to end")
        assert done["state"] == "done" and done["done"] == done["total"], done
        starts = [e for e in done["events"] if e["state"] == "start"]
        assert starts and starts[0]["type"] == "intrusion" and starts[0]["zone"] == "rue", done["events"]
        shot = s.get(base + f"api/try/{run['id']}/shot/{done['shots'][0]}", timeout=10)
        assert shot.status_code == 200 and shot.content[:2] == b"\xff\xd8"
    assert cfg.read_text() == before, "trying never saves"
    assert not (tmp_path / "data").exists(), "the trial uses a temporary folder, not the box's data"
