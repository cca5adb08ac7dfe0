"""Subject access in real Chromium against a real hub, with the real models: the officer
scrubs the clip, clicks on the requester (the hub picks the person box under the point, and
refuses a click on nobody), sees the estimate, starts the export and follows its progress bar,
then downloads the ZIP whose manifest is in French."""

from __future__ import annotations

import hashlib
import io
import json
import time
import zipfile
from pathlib import Path

import cv2
import numpy as np
import pytest
from playwright.sync_api import Browser, expect

from central.ingest.clipstore import clip_path
from edge.clips.encode import encode
from edge.modelstore import ModelStore
from tests.kits.browserkit import login
from tests.kits.hubkit import Hub, hub, insert_event  # noqa: F401

FRAMES = 12


@pytest.fixture(scope="module")
def visitor(media: Path) -> list[np.ndarray]:
    """12 frames (half size) where one visitor faces the camera."""
    cap = cv2.VideoCapture(str(media / "video" / "one-by-one-person-detection.mp4"))
    cap.set(cv2.CAP_PROP_POS_FRAMES, 270)
    out = []
    for _ in range(FRAMES):
        ok, im = cap.read()
        assert ok
        out.append(cv2.resize(im, (im.shape[1] // 2, im.shape[0] // 2)))
    cap.release()
    return out


def store(hub: Hub, frames: list[np.ndarray], tmp_path: Path) -> str:  # noqa: F811
    clip = encode(frames, 10.0, tmp_path / "clip.webm", 16 * 1024 * 1024)
    data = clip.path.read_bytes()
    sha = hashlib.sha256(data).hexdigest()
    dest = clip_path(Path(hub.app.config["CLIPS_DIR"]), sha)
    dest.parent.mkdir(parents=True, exist_ok=True)
    dest.write_bytes(data)
    event_id = insert_event(hub.database, camera="cam-01")
    hub.db().table("clips").insert({"event_id": event_id, "site": "test", "camera": "cam-01",
                                    "sha256": sha, "bytes": len(data), "stored_at": time.time(),
                                    "frames": FRAMES, "duration_s": FRAMES / 10})
    return event_id


def test_scrub_click_on_the_requester_and_follow_the_export(
    browser: Browser, hub: Hub, visitor: list[np.ndarray], model_store: ModelStore,  # noqa: F811
    tmp_path: Path, output_dir: Path,
) -> None:
    hub.app.config["MODELS_DIR"] = model_store.root
    event_id = store(hub, visitor, tmp_path)
    po = hub.login("privacy-officer")
    persons = po.get(f"{hub.url}/api/v1/privacy/access/{event_id}/persons", params={"frame": 7},
                     timeout=60).json()["persons"]
    assert persons, "the sample frame should show the visitor"
    x, y, w, h = max(persons, key=lambda p: p[2] * p[3])

    page = browser.new_context(viewport={"width": 1280, "height": 900},
                               accept_downloads=True).new_page()
    login(page, hub, "privacy-officer")
    page.goto(f"{hub.url}/privacy/access?camera=cam-01")
    page.click(f"#access-clips tr[data-event='{event_id}'] a")
    expect(page.locator("#estimate")).to_contain_text("Durée estimée : environ")
    expect(page.locator("#estimate")).to_contain_text(f"{FRAMES} images")

    page.locator("#scrub").fill("7")  # scrub to frame 7
    expect(page.locator("#scrub-frame")).to_have_text("7")
    expect(page.locator("#frame")).to_have_attribute("src", f"/privacy/access/{event_id}/frame.jpg?frame=7")
    expect(page.locator("#frame")).to_have_js_property("complete", True)
    img = page.locator("#frame").bounding_box()
    assert img is not None
    page.mouse.click(img["x"] + 2, img["y"] + 2)  # the top-left corner: nobody there
    expect(page.locator("#pick-status")).to_contain_text("Aucune personne trouvée")
    expect(page.locator("#picked")).to_be_hidden()
    page.mouse.click(img["x"] + (x + w / 2) * img["width"], img["y"] + (y + h / 2) * img["height"])
    expect(page.locator("#pick-status")).to_have_text("Demandeur désigné sur l'image 7.")
    expect(page.locator("#picked")).to_be_visible()
    box = [float(v) for v in page.locator("#access-export input[name=box]").input_value().split(",")]
    assert box == pytest.approx([x, y, w, h], abs=2e-4)
    page.screenshot(path=str(output_dir / "subject-access-marked.png"), full_page=True)

    page.fill("#access-export input[name=reason]", "SAR 2026-201, lettre du demandeur")
    page.click("#export-start")
    expect(page.locator("#export-progress")).to_be_visible()
    expect(page.locator("#export-done")).to_be_visible(timeout=120_000)
    assert page.locator("#export-bar").evaluate("b => b.value") == 1
    expect(page.locator("#export-text")).to_contain_text("Terminé en")
    page.screenshot(path=str(output_dir / "subject-access-done.png"), full_page=True)
    with page.expect_download() as dl:
        page.click("#access-download")
    with zipfile.ZipFile(io.BytesIO(Path(dl.value.path()).read_bytes())) as z:
        manifest = json.loads(z.read("manifest.json"))
        summary = z.read("LISEZMOI.txt").decode()
    assert manifest["language"] == "fr" and manifest["subject"]["marked_frame"] == 7
    assert manifest["subject"]["marked_box"] == pytest.approx(box)
    assert "Export au titre du droit d'accès" in summary and "SAR 2026-201" in summary
    assert "ne garde aucune copie" in manifest["retention"]["note"]
    # the job said how far it was: both passes over every frame; the ZIP goes out once
    job_id = page.locator("#access-download").get_attribute("href").split("/")[-2]
    job = po.get(f"{hub.url}/api/v1/privacy/access/jobs/{job_id}", timeout=10).json()
    assert job["state"] == "done" and job["done"] == job["total"] == 2 * FRAMES
    assert po.get(f"{hub.url}/privacy/access/jobs/{job_id}/download", timeout=10).status_code == 404
    actions = [r[0] for r in hub.db().execute("SELECT action FROM audit WHERE subject = ?", [event_id])]
    assert "subject_access.export" in actions and "clip.view" in actions
