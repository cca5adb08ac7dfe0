"""``vigie edge setup`` driven in real Chromium as a technician does, through the mouse.

One editor session on the person video: draw the table zone, the exit line and a privacy
mask, attach an intrusion rule, save (comments kept, previous version kept, check-config
passes), try the saved layout on the video (an intrusion fires in the new zone), then see a
self-crossing zone and a zone outside the frame refused. Screenshots go to the test's output
folder, and also to ``$VIGIE_FIGURES`` when set (``VIGIE_FIGURES=docs/figures`` makes the
technician guide's figures).
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import cv2
import numpy as np
import psutil
import pytest
from PIL import Image
from playwright.sync_api import Browser, Page

from edge.modelstore import ModelStore
from tests.conftest import Proc, wait_for
from tests.kits import scenes
from tests.kits.browserkit import chromium

ZONE = [(0.40, 0.70), (0.78, 0.70), (0.78, 0.99), (0.40, 0.99)]
"""Around the standing table, where each visitor of the person video stops."""
LINE = [(0.75, 0.99), (0.75, 0.40)]
MASK = [(0.02, 0.02), (0.15, 0.02), (0.15, 0.30), (0.02, 0.30)]
CALIBRATION = [(0.1, 0.6), (0.9, 0.6), (0.95, 0.98), (0.05, 0.98)]
GROUND = [(0, 4), (4, 4), (4, 0), (0, 0)]
COMMENT = "# Caméra du hall : réglée avec vigie edge setup"


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    with chromium() as b:
        yield b


def _shot(page: Page, out: Path, name: str, selector: str | None = None) -> None:
    """A PNG of the page's top (or of ``selector``), 900 px wide at most and 256 colours (small
    enough for the docs)."""
    path = out / name
    if selector:
        page.locator(selector).screenshot(path=str(path))
    else:
        page.evaluate("window.scrollTo(0, 0)")
        page.screenshot(path=str(path))
    img = cv2.imread(str(path))
    if img.shape[1] > 900:
        img = cv2.resize(img, (900, round(img.shape[0] * 900 / img.shape[1])), interpolation=cv2.INTER_AREA)
    small = Image.fromarray(cv2.cvtColor(img, cv2.COLOR_BGR2RGB)).quantize(256, Image.Quantize.FASTOCTREE)
    small.save(path, optimize=True)
    if figures := os.environ.get("VIGIE_FIGURES"):
        Path(figures).mkdir(parents=True, exist_ok=True)
        small.save(Path(figures) / f"setup-{name}", optimize=True)


def _click(page: Page, points: list[tuple[float, float]]) -> None:
    for x, y in points:
        s = page.evaluate(f"vigie.toScreen({x}, {y})")
        page.mouse.click(s["x"], s["y"])


def _drag(page: Page, a: tuple[float, float], b: tuple[float, float]) -> None:
    start, end = page.evaluate(f"vigie.toScreen{a}"), page.evaluate(f"vigie.toScreen{b}")
    page.mouse.move(start["x"], start["y"])
    page.mouse.down()
    page.mouse.move(end["x"], end["y"], steps=5)
    page.mouse.up()


def _problems(page: Page) -> int:
    return int(page.get_attribute("#status", "data-problems") or -1)


def start_editor(tmp: Path, cfg: Path, *args: str) -> tuple[Proc, str]:
    """``vigie edge setup`` on any free port; returns the process and its printed URL."""
    proc = Proc(["edge", "setup", str(cfg), "--port", "0", *args], tmp / "setup.log", cwd=tmp)
    pattern = re.compile(r"(http://127\.0\.0\.1:\d+/\?token=\S+)")
    url = wait_for(lambda: (m := pattern.search(proc.text())) and m.group(1), 60, what="the editor's URL")
    return proc, str(url)


def test_a_technician_draws_saves_and_tries_a_zone(browser: Browser, model_store: ModelStore, media: Path,
                                                  tmp_path: Path, output_dir: Path) -> None:
    video = media / scenes.PERSON_VIDEO
    cfg = tmp_path / "box.toml"
    scenes.write(cfg, scenes.box_scene(video, site="hall", camera="cam-1", data_dir=tmp_path / "data",
                                       models_dir=model_store.root, realtime=None, health_s=None))
    original = f"{COMMENT}\n" + cfg.read_text() + "\n# zones : dessinées dans l'éditeur\n"
    cfg.write_text(original)
    proc, url = start_editor(tmp_path, cfg, "--lang", "fr", "--idle-timeout", "300")
    try:
        page = browser.new_page(viewport={"width": 1400, "height": 950})
        page.goto(url)
        page.wait_for_selector("body[data-ready='1']")
        assert "token=" not in page.url, "the token is exchanged for a cookie and leaves the address bar"
        assert "Rien n'est envoyé" in page.inner_text("header")

        page.click("#tool-zone")
        _click(page, ZONE)
        page.keyboard.press("Enter")
        page.click("#tool-line")
        _click(page, LINE)
        page.click("#tool-mask")
        _click(page, MASK)
        page.keyboard.press("Enter")
        page.select_option("#add-rule-type", "intrusion")
        page.click("#add-rule")
        page.fill("#rule-0-dwell_s", "1")
        page.press("#rule-0-dwell_s", "Tab")
        page.fill("#name-zones-0", "table")
        wait_for(lambda: page.input_value("#rule-0-zone") == "table" and _problems(page) == 0, 20,
                 what="a valid layout with the rule on the renamed zone")
        # A wrong-way rule whose allowed direction is drawn as an arrow (left to right).
        page.select_option("#add-rule-type", "wrong_way")
        page.click("#add-rule")
        page.click("#rules-1 >> text=Tracer la direction")
        _drag(page, (0.45, 0.5), (0.7, 0.5))
        wait_for(lambda: page.input_value("#rule-1-direction-0") == "1", 20, what="the drawn direction")
        # The four ground points of the calibration, and where they lie in metres.
        page.click("#tool-calibration")
        _click(page, CALIBRATION)
        for k, (gx, gy) in enumerate(GROUND):
            page.fill(f"#ground-{k}-0", str(gx))
            page.press(f"#ground-{k}-0", "Tab")
            page.fill(f"#ground-{k}-1", str(gy))
            page.press(f"#ground-{k}-1", "Tab")
        wait_for(lambda: _problems(page) == 0 and page.input_value("#ground-3-1") == "0", 20,
                 what="a valid calibration")
        # The preview is masked by the box's own MaskPainter: black where the mask is.
        frame = page.request.get(url.split("?")[0] + "api/frame")
        img = cv2.imdecode(np.frombuffer(frame.body(), np.uint8), cv2.IMREAD_GRAYSCALE)
        h, w = img.shape
        assert img[int(0.05 * h):int(0.27 * h), int(0.04 * w):int(0.13 * w)].max() < 30
        assert img[int(0.4 * h):int(0.6 * h), int(0.4 * w):int(0.6 * w)].mean() > 60
        _shot(page, output_dir, "01-zone-line-mask.png")

        page.click("#save")
        page.wait_for_selector("#saved:not([hidden])")
        assert "Enregistré" in page.inner_text("#saved")
        saved = cfg.read_text()
        assert COMMENT in saved and "# zones : dessinées dans l'éditeur" in saved, "comments are kept"
        assert (tmp_path / "box.toml.prev").read_text() == original, "the previous version is kept"
        check = subprocess.run([sys.executable, "-m", "edge.cli", "edge", "check-config", str(cfg)],
                               capture_output=True, text=True, timeout=120)
        assert check.returncode == 0, check.stderr
        assert "1 zone(s), 2 rule(s)" in check.stdout
        from edge.config import load

        box = load(cfg)
        assert box.zones[0].name == "table" and box.rules[0].zone == "table" and box.rules[0].dwell_s == 1
        assert [round(v, 2) for v in box.zones[0].polygon[1]] == [0.78, 0.7]
        assert box.lines[0].name == "ligne-1" and box.privacy_masks[0].name == "masque-1"
        assert box.rules[1].type == "wrong_way" and box.rules[1].direction == (1.0, 0.0)
        assert box.calibration is not None and box.calibration.ground[1] == (4.0, 4.0)
        assert [round(v, 2) for v in box.calibration.image[2]] == [0.95, 0.98]

        # Try it on the video: the intrusion fires in the zone just drawn, drawn on its frame.
        page.fill("#try-file", str(video))
        page.fill("#try-max", "100")
        page.click("#try-run")
        wait_for(lambda: page.get_attribute("#try-status", "data-state") in ("done", "failed"), 180,
                 what="the trial to end")
        assert page.get_attribute("#try-status", "data-state") == "done", page.inner_text("#try-status")
        events = page.inner_text("#try-events")
        assert "intrusion · table · début" in events, events
        page.wait_for_selector("#try-shots img")
        _shot(page, output_dir, "02-try-it.png", "#try")

        # A self-crossing zone is refused beside it, and so is saving.
        page.click("#tool-zone")
        _click(page, [(0.1, 0.1), (0.3, 0.3), (0.3, 0.1), (0.1, 0.3)])
        page.keyboard.press("Enter")
        wait_for(lambda: "crosses itself" in page.inner_text("#problems-zones-1"), 20,
                 what="the crossing refused")
        page.click("#save")
        wait_for(lambda: "refusé" in page.inner_text("#saved"), 20, what="the save refused")
        assert cfg.read_text() == saved
        page.evaluate("document.getElementById('zones-1').scrollIntoView()")
        _shot(page, output_dir, "03-refused.png")
        # Fixed by dragging a point (edit tool); then a point dragged out of the picture is refused.
        page.click("#tool-edit")
        _drag(page, (0.1, 0.3), (0.2, 0.02))
        wait_for(lambda: _problems(page) == 0, 20, what="the zone fixed")
        _drag(page, (0.3, 0.1), (0.3, -0.03))
        wait_for(lambda: "outside the frame" in page.inner_text("#problems-zones-1"), 20,
                 what="the point outside the frame refused")

        # Nothing was sent: no egress ledger, and every socket of the editor is on loopback.
        sockets = psutil.Process(proc.proc.pid).net_connections(kind="inet")
        assert sockets and all(s.laddr.ip in ("127.0.0.1", "::1") for s in sockets), sockets
        assert [s.laddr.ip for s in sockets if s.status == psutil.CONN_LISTEN] == ["127.0.0.1"]
        page.close()
    finally:
        assert proc.stop() == 0, proc.text()[-3000:]
    ledger = tmp_path / "data" / "egress-ledger.jsonl"
    assert not ledger.exists() or ledger.read_text() == "", "the editor sent nothing"
