"""Real Chromium (Debian's, driven by Playwright) against a real hub fed by a real Mosquitto."""

from __future__ import annotations

import hashlib
import json
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import cv2
import paho.mqtt.client as mqtt
import pytest
import requests
from paho.mqtt.enums import CallbackAPIVersion
from playwright.sync_api import Browser, expect

from central.config import DeviceIdentity, HubBroker, HubClips, HubConfig
from central.devtools.broker import LocalBroker
from central.ingest.subscriber import Ingest
from edge.clips.encode import encode
from tests.conftest import wait_for
from tests.kits.browserkit import login
from tests.kits.hubkit import Hub, event_message, start_hub

DEVICE_TOKEN = "device-token-test-cam-01-0123456789"


def upload_real_clip(hub: Hub, event_id: str, media: Path, tmp: Path) -> str:
    """Encode 3 s of a real sample video (cars only, no people) and PUT it as the device."""
    cap = cv2.VideoCapture(str(media / "video" / "car-detection.mp4"))
    frames = []
    while len(frames) < 36:
        ok, image = cap.read()
        assert ok
        frames.append(image)
    cap.release()
    clip = encode(frames, 12.0, tmp / "clip.webm", 10_000_000)
    data = (tmp / "clip.webm").read_bytes()
    sha = hashlib.sha256(data).hexdigest()
    r = requests.put(f"{hub.url}/api/v1/events/{event_id}/clip", data=data, timeout=10,
                     headers={"Authorization": f"Bearer {DEVICE_TOKEN}", "Content-Type": "video/webm",
                              "X-Content-SHA256": sha})
    assert r.status_code in (200, 201), r.text
    assert clip is not None
    return sha

@pytest.fixture
def live(tmp_path: Path, broker: LocalBroker) -> Iterator[tuple[Hub, Any]]:
    """A hub with its MQTT ingest on a real broker, and a publisher acting as a box."""
    gen = start_hub(tmp_path, clips=HubClips(dir=tmp_path / "clips"),
                    device_tokens={DEVICE_TOKEN: DeviceIdentity(site="test", camera="cam-01")})
    hub = next(gen)
    ingest = Ingest(HubConfig(database=hub.database,
                              broker=HubBroker(port=broker.port, client_id="ingest-browser-test")))
    ingest.start()
    wait_for(ingest.connected.is_set, 10, what="ingest connected")
    box = mqtt.Client(CallbackAPIVersion.VERSION2, client_id="box-test-cam-01")
    box.connect("127.0.0.1", broker.port)
    box.loop_start()
    yield hub, box
    box.loop_stop()
    box.disconnect()
    ingest.stop()
    next(gen, None)


def test_operator_sees_acks_and_resolves_a_live_alert(browser: Browser, live: tuple[Hub, Any],
                                                     output_dir: Path, media: Path,
                                                     tmp_path: Path) -> None:
    hub, box = live
    ctx = browser.new_context(viewport={"width": 1280, "height": 800})
    page = ctx.new_page()
    login(page, hub, "operator", output_dir)
    expect(page.locator("#status")).to_contain_text("nouvelles")

    warning = event_message(camera="cam-01", severity="warning", zone="gate")
    critical = event_message(camera="cam-01", severity="critical", type_="weapon", zone="square",
                             label="knife")
    box.publish("vigie/v1/test/cam-01/health", json.dumps({
        "schema": "vigie.health/1", "site": "test", "camera": "cam-01",
        "ts": warning["started_at"], "fps_in": 10.0, "fps_processed": 5.0, "inference_ms_p50": 60.0,
        "inference_ms_p95": 90.0, "outbox_depth": 0, "uptime_s": 12.0, "seq": 1}), qos=1)
    box.publish("vigie/v1/test/cam-01/state", "online", qos=1, retain=True)
    box.publish("vigie/v1/test/cam-01/event", json.dumps(warning), qos=1).wait_for_publish(5)
    t0 = time.monotonic()
    box.publish("vigie/v1/test/cam-01/event", json.dumps(critical), qos=1).wait_for_publish(5)
    row = page.locator(f"tr[data-id='{critical['id']}']")
    expect(row).to_be_visible(timeout=3000)
    appeared_s = time.monotonic() - t0
    assert appeared_s < 3.0
    expect(page.locator("#cue")).to_be_visible()
    expect(page.locator("#cue")).to_contain_text("Arme — test/cam-01")
    cue = page.evaluate("window.vigieCue")
    assert cue["flashes"] >= 1 and cue["sounds"] >= 1, cue
    expect(row).to_contain_text("square")
    expect(row).to_contain_text("Critique")
    page.screenshot(path=str(output_dir / "02-queue-new-critical.png"))

    # one key acknowledges the selected (top, newest) alert
    page.locator("#cue").click()
    row.click()
    page.keyboard.press("a")
    expect(row).to_contain_text("Prise en compte par operator", timeout=5000)
    db = hub.db()
    assert db.execute("SELECT status, acked_by FROM events WHERE id = ?",
                      [critical["id"]]).fetchone() == ("acknowledged", "operator")
    # one click acknowledges the other
    page.locator(f"tr[data-id='{warning['id']}'] button.ack").click()
    expect(page.locator(f"tr[data-id='{warning['id']}']")).to_contain_text("Prise en compte",
                                                                           timeout=5000)
    page.screenshot(path=str(output_dir / "03-queue-acknowledged.png"))

    # the box uploads the event's clip; the alert page plays it, and the view is audited
    upload_real_clip(hub, critical["id"], media, tmp_path)
    page.goto(f"{hub.url}/alerts/{critical['id']}")
    video = page.locator("video#clip")
    assert video.get_attribute("src") == f"/api/v1/events/{critical['id']}/clip"
    page.evaluate("document.getElementById('clip').play()")
    page.wait_for_function("document.getElementById('clip').currentTime > 0", timeout=10000)
    assert page.evaluate("document.getElementById('clip').duration") == pytest.approx(3.0, abs=0.5)
    page.screenshot(path=str(output_dir / "04a-alert-clip-playing.png"))
    audit = hub.db().execute("SELECT actor FROM audit WHERE action = 'clip.view' AND subject = ?",
                             [critical["id"]]).fetchall()
    assert ("operator",) in audit
    page.select_option("select[name=outcome]", "false_alarm")
    page.fill("textarea[name=comment]", "umbrella handle, not a knife")
    page.click("#resolve-form button[type=submit]")
    expect(page.locator("#status")).to_have_text("Clôturée", timeout=5000)
    history = page.locator("#history")
    for text in ("Prise en compte", "Clôturée", "Fausse alerte : umbrella handle", "Consultée"):
        expect(history).to_contain_text(text)
    page.screenshot(path=str(output_dir / "04-alert-resolved.png"), full_page=True)
    assert db.execute("SELECT outcome, resolved_by FROM events WHERE id = ?",
                      [critical["id"]]).fetchone() == ("false_alarm", "operator")

    page.goto(f"{hub.url}/cameras")
    cam = page.locator("tr[data-camera='test/cam-01']")
    expect(cam).to_contain_text("En ligne")
    expect(cam).to_contain_text("60 / 90 ms")
    page.screenshot(path=str(output_dir / "05-cameras.png"))

    page.goto(f"{hub.url}/search?class=knife&go=1")
    expect(page.locator("#total")).to_contain_text("1 événement")
    page.screenshot(path=str(output_dir / "06-search.png"))

    # the privacy pages are refused to an operator
    resp = page.goto(f"{hub.url}/privacy/audit")
    assert resp is not None and resp.status == 403
    expect(page.locator("p.error")).to_contain_text("the operator role may not use this")
    page.screenshot(path=str(output_dir / "07-operator-refused-audit.png"))
    ctx.close()

    # the other roles' pages
    for user, path, shot, check in (
        ("supervisor", "/stats", "08-stats.png", "#false-alarms"),
        ("privacy-officer", "/privacy/audit", "09-audit.png", "#audit"),
        ("admin", "/admin/users", "10-users.png", "#users"),
    ):
        ctx = browser.new_context(viewport={"width": 1280, "height": 800})
        page = ctx.new_page()
        login(page, hub, user)
        page.goto(hub.url + path)
        expect(page.locator(check)).to_be_visible()
        if path == "/stats":
            page.wait_for_function("[...document.images].every(i => i.complete && i.naturalWidth > 0)")
        if path == "/privacy/audit":
            expect(page.locator("#audit")).to_contain_text("alert.resolve")
        page.screenshot(path=str(output_dir / shot), full_page=True)
        ctx.close()


def test_silent_camera_alert_reaches_the_queue(live: tuple[Hub, Any], broker: LocalBroker,
                                               tmp_path: Path) -> None:
    """Ingest's watch raises ``camera_silent`` for a camera that stops talking (1 s here)."""
    hub, box = live
    ingest = Ingest(HubConfig(database=hub.database, silent_after_s=1.0,
                              broker=HubBroker(port=broker.port, client_id="ingest-silence-test")))
    ingest.start()
    try:
        box.publish("vigie/v1/test/cam-quiet/state", "online", qos=1, retain=True).wait_for_publish(5)
        db = hub.db()
        row = wait_for(lambda: db.execute(
            "SELECT camera, severity, status FROM events WHERE type = 'camera_silent'").fetchone(),
            15, what="a camera_silent alert")
        assert row == ("cam-quiet", "critical", "new")
    finally:
        ingest.stop()
