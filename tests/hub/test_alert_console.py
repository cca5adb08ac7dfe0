"""The operators' console in real Chromium: French and Paris time, triage order, repeats folded
and handled at once (audited one by one), live pages (server-sent events), stills, clip states,
procedures, escalation and per-priority sounds."""

from __future__ import annotations

import hashlib
import json
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import cv2
import pytest
from playwright.sync_api import Browser, Page, expect

from central import db as hubdb
from central.config import HubAlerts
from central.triage import group
from tests.conftest import wait_for
from tests.kits.browserkit import login
from tests.kits.hubkit import Hub, event_message, start_hub


def _hub(tmp_path: Path, **alerts: Any) -> Iterator[Hub]:
    yield from start_hub(tmp_path, alerts=HubAlerts(**alerts))


@pytest.fixture
def hub(tmp_path: Path) -> Iterator[Hub]:
    yield from _hub(tmp_path)


@pytest.fixture
def page(browser: Browser) -> Iterator[Page]:
    ctx = browser.new_context(viewport={"width": 1280, "height": 800})
    yield ctx.new_page()
    ctx.close()


def put(database: Path, **kw: Any) -> dict[str, Any]:
    """Store an event message as ingest does (a later message with the same id updates it)."""
    msg = kw.pop("msg", None) or event_message(**kw)
    db = hubdb.connect(database)
    with db.conn:
        db.execute("BEGIN IMMEDIATE")
        hubdb.upsert_event(db, msg, json.dumps(msg))
    db.conn.close()
    return msg


def set_still(hub: Hub, event_id: str, jpeg: bytes) -> None:
    """Give an event its still as the hub's still upload stores it: the file under its hash in
    the clips folder, the event's ``still`` column naming it."""
    from central.ingest.clipstore import still_path

    digest = hashlib.sha256(jpeg).hexdigest()
    path = still_path(Path(hub.app.config["CLIPS_DIR"]), digest)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(jpeg)
    db = hubdb.connect(hub.database)
    db.execute("UPDATE events SET still = ?, updated_at = ? WHERE id = ?",
               [json.dumps({"sha256": digest, "bytes": len(jpeg), "width": 320, "height": 180,
                            "taken_at": "2026-12-01T09:15:31.000Z", "stored_at": time.time()}),
                time.time(), event_id])
    db.conn.close()


def still_jpeg(media: Path) -> bytes:
    """A real frame of the sample video (cars only) as a small JPEG."""
    cap = cv2.VideoCapture(str(media / "video" / "car-detection.mp4"))
    ok, frame = cap.read()
    cap.release()
    assert ok
    ok, jpeg = cv2.imencode(".jpg", cv2.resize(frame, (320, 180)))
    assert ok
    return jpeg.tobytes()


def until(page: Page, expression: str, timeout: float = 10.0) -> None:
    """Wait until a page expression holds (evaluated from here: the pages' CSP forbids the
    eval that Playwright's in-page polling needs)."""
    wait_for(lambda: page.evaluate(expression), timeout, what=expression)


def audit_rows(hub: Hub, action: str) -> list[str]:
    return [r[0] for r in hub.db().execute("SELECT subject FROM audit WHERE action = ? ORDER BY id",
                                           [action])]


def test_grouping_chains_repeats_within_the_window() -> None:
    rows = [{"id": str(i), "site": "s", "camera": "c", "type": "intrusion", "zone": "gate",
             "severity": "warning", "status": "new", "started_at": f"2026-12-01T10:{m:02d}:00Z"}
            for i, m in enumerate((0, 4, 8, 30))]
    rows.append({**rows[0], "id": "crit", "type": "weapon", "severity": "critical",
                 "started_at": "2026-12-01T11:00:00Z"})
    groups = group(rows, 300.0)
    assert [[r["id"] for r in g.rows] for g in groups] == [["crit"], ["0", "1", "2"], ["3"]]
    assert len(group(rows, 0.0)) == 5


def test_queue_french_paris_time_groups_bulk_ack_and_filters(hub: Hub, page: Page, media: Path,
                                                             output_dir: Path) -> None:
    repeats = [put(hub.database, camera="cam-01", zone="gate",
                   started_at=f"2026-12-01T09:15:{30 + 5 * i:02d}.000Z")["id"] for i in range(5)]
    critical = put(hub.database, camera="cam-02", severity="critical", type_="weapon",
                   zone="square", label="knife", started_at="2026-12-01T09:40:00.000Z")["id"]
    info = put(hub.database, camera="cam-03", severity="info", type_="crowd_density", zone="hall",
               started_at="2026-12-01T09:00:00.000Z")["id"]
    set_still(hub, info, still_jpeg(media))
    login(page, hub, "operator")
    rows = page.locator("#alerts tbody tr")
    expect(rows).to_have_count(3)
    assert page.eval_on_selector_all("#alerts tbody tr", "rs => rs.map(r => r.dataset.id)") == [
        critical, repeats[0], info], "critical first, then warning, then information"
    expect(page.locator("#open-total")).to_have_text("7 ouvertes")
    head = page.locator("#alerts thead")
    for word in ("Priorité", "Caméra", "Objets", "Statut"):
        expect(head).to_contain_text(word)
    group_row = page.locator(f"tr[data-id='{repeats[0]}']")
    expect(group_row).to_contain_text("Intrusion")
    expect(group_row).to_contain_text("Avertissement")
    expect(group_row).to_contain_text("Nouvelle")
    expect(group_row.locator("button.expand")).to_have_text("×5")
    # 09:15:30 UTC is 10:15:30 in Paris (winter time); the age is French
    assert group_row.locator("td").first.get_attribute("title") == "01/12/2026 10:15:30"
    expect(group_row.locator("td a").first).to_contain_text("il y a")
    expect(page.locator(f"tr[data-id='{critical}']")).to_contain_text("Arme")
    thumb = page.locator(f"tr[data-id='{info}'] img.thumb")
    expect(thumb).to_be_visible()
    until(page, "[...document.querySelectorAll('img.thumb')].every(i => i.naturalWidth > 0)")
    page.set_viewport_size({"width": 800, "height": 700})  # a small screen of the centre
    assert page.evaluate("document.documentElement.scrollWidth") <= 800
    expect(thumb).to_be_visible()
    page.set_viewport_size({"width": 1280, "height": 800})
    group_row.locator("button.expand").click()
    expect(page.locator("tr.member")).to_have_count(5)
    page.screenshot(path=str(output_dir / "queue-grouped.png"))

    group_row.locator("button.ack").click()
    expect(group_row).to_contain_text("Prise en compte par operator", timeout=5000)
    assert sorted(audit_rows(hub, "alert.ack")) == sorted(repeats), "one audit row per alert"
    statuses = {r[0] for r in hub.db().execute(
        f"SELECT status FROM events WHERE id IN ({','.join('?' * 5)})", repeats)}
    assert statuses == {"acknowledged"}

    page.goto(f"{hub.url}/?severity=warning")
    expect(page.locator("#alerts tbody tr")).to_have_count(1)
    expect(page.locator("select[name=severity]")).to_have_value("warning")
    page.goto(f"{hub.url}/?camera=test/cam-02")
    expect(page.locator("#alerts tbody tr")).to_have_count(1)
    expect(page.locator("#alerts tbody tr")).to_have_attribute("data-id", critical)


def test_queue_and_alert_page_update_live(hub: Hub, page: Page, media: Path) -> None:
    login(page, hub, "operator")
    until(page, "window.vigieLive.mode === 'stream'")
    page.evaluate("window.notReloaded = true")
    fresh = put(hub.database, camera="cam-07", zone="car-park")
    expect(page.locator(f"tr[data-id='{fresh['id']}']")).to_be_visible(timeout=5000)
    assert page.evaluate("window.notReloaded") is True

    page.goto(f"{hub.url}/alerts/{fresh['id']}")
    until(page, "window.vigieLive.mode === 'stream'")
    page.evaluate("window.notReloaded = true")
    state = page.locator("#clip-state")
    expect(state).to_contain_text("Séquence : En attente")
    expect(page.locator("#still")).to_be_hidden()
    set_still(hub, fresh["id"], still_jpeg(media))
    expect(page.locator("#still")).to_be_visible(timeout=5000)
    put(hub.database, msg={**fresh, "clip": {"status": "failed", "sha256": None,
                                             "reason": "encoder stopped: disk full"}})
    expect(state).to_contain_text("Échec — encoder stopped: disk full", timeout=5000)
    assert page.evaluate("window.notReloaded") is True

    other = put(hub.database, camera="cam-07")
    page.goto(f"{hub.url}/alerts/{other['id']}")
    expect(page.locator("video#clip")).to_be_hidden()
    until(page, "window.vigieLive.refreshes > 0")
    put(hub.database, msg={**other, "clip": {"status": "uploaded", "sha256": "a" * 64}})
    expect(page.locator("video#clip")).to_be_visible(timeout=5000)
    assert page.locator("video#clip").get_attribute("src") == f"/api/v1/events/{other['id']}/clip"


def test_streams_are_bounded_and_pages_fall_back_to_polling(tmp_path: Path, page: Page) -> None:
    """Each stream ends after stream_s; beyond max_streams the hub refuses (503) and pages poll."""
    gen = _hub(tmp_path, stream_s=1.0, max_streams=1)
    served = next(gen)
    try:
        s = served.login("operator")
        sse = {"Accept": "text/event-stream"}
        t0 = time.monotonic()
        r = s.get(f"{served.url}/api/v1/alerts/stream", headers=sse, timeout=10)
        assert r.status_code == 200 and "event: change" in r.text and "retry: 1000" in r.text
        assert time.monotonic() - t0 < 5, "the stream ends by itself"
        one = s.get(f"{served.url}/api/v1/alerts/stream", timeout=5)
        assert one.status_code == 200 and one.text.count("event: change") == 1, "no stream asked"
        with s.get(f"{served.url}/api/v1/alerts/stream", headers=sse, stream=True, timeout=10) as held:
            assert held.status_code == 200
            next(held.iter_lines())
            busy = s.get(f"{served.url}/api/v1/alerts/stream", headers=sse, timeout=10)
            assert busy.status_code == 503 and busy.json()["error"] == "busy"
        served.app.config["ALERT_STREAMS"] = 0  # no stream to spare at all
        login(page, served, "operator")
        until(page, "window.vigieLive.mode === 'poll'")
        msg = put(served.database, camera="cam-09")
        expect(page.locator(f"tr[data-id='{msg['id']}']")).to_be_visible(timeout=5000)
    finally:
        next(gen, None)


def test_procedures_for_a_type_and_one_camera(hub: Hub, page: Page, output_dir: Path) -> None:
    db = hub.db()
    hubdb.camera_seen(db, "test", "cam-02", state="online", state_at=time.time())
    db.conn.close()
    plain = put(hub.database, camera="cam-01", zone="gate")["id"]
    special = put(hub.database, camera="cam-02", zone="quay")["id"]
    login(page, hub, "supervisor")
    page.goto(f"{hub.url}/procedures")
    expect(page.locator("#procedures")).to_contain_text("Aucune consigne")
    page.select_option("select[name=type]", "intrusion")
    page.fill("textarea[name=text]", "1. Vérifier la zone sur la caméra.\n2. Envoyer une patrouille.")
    page.click("#procedure-form button[type=submit]")
    expect(page.locator("p.ok")).to_have_text("Consigne enregistrée.")
    sup = hub.login("supervisor")
    r = sup.put(f"{hub.url}/api/v1/procedures", timeout=10, json={
        "type": "intrusion", "camera": "test/cam-02", "text": "Quai : prévenir la capitainerie."})
    assert r.status_code == 200, r.text
    assert sup.put(f"{hub.url}/api/v1/procedures", json={"type": "intrusion", "text": " "},
                   timeout=10).status_code == 400
    assert hub.login("operator").put(f"{hub.url}/api/v1/procedures", timeout=10, json={
        "type": "intrusion", "text": "x"}).status_code == 403
    assert audit_rows(hub, "procedure.set") == ["intrusion", "intrusion@test/cam-02"]

    page.goto(f"{hub.url}/alerts/{plain}")
    proc = page.locator("#procedure")
    expect(proc).to_have_attribute("data-scope", "type")
    expect(proc).to_contain_text("Envoyer une patrouille")
    expect(page.locator("#plan-link")).to_have_attribute("href", f"/plan?alert={plain}")
    page.screenshot(path=str(output_dir / "alert-procedure.png"), full_page=True)
    page.goto(f"{hub.url}/alerts/{special}")
    expect(proc).to_have_attribute("data-scope", "camera")
    expect(proc).to_contain_text("prévenir la capitainerie")
    expect(proc).not_to_contain_text("patrouille")


def test_escalation_and_a_sound_per_priority(tmp_path: Path, browser: Browser) -> None:
    gen = _hub(tmp_path, escalate_after_s=1.0)
    served = next(gen)
    ctx = browser.new_context(viewport={"width": 1280, "height": 800})
    try:
        op = served.login("operator")
        taken = put(served.database, camera="cam-05", severity="critical", type_="weapon")["id"]
        assert op.post(f"{served.url}/api/v1/alerts/{taken}/ack", json={}, timeout=10).ok
        page = ctx.new_page()
        login(page, served, "supervisor")
        until(page, "window.vigieLive.refreshes > 0")
        ids: dict[str, str] = {}
        for sev in ("warning", "info", "critical"):  # one at a time: each sounds its own pattern
            ids[sev] = event_id = put(served.database, camera=f"cam-{sev}", severity=sev)["id"]
            until(page, f"window.vigieCue.played.some(p => p.pattern === '{sev}' "
                                   f"&& p.id === '{event_id}')")
        row = page.locator(f"tr[data-id='{ids['critical']}']")
        expect(row.locator(".escalated-flag")).to_have_text("Escaladée", timeout=10000)
        until(page, "window.vigieCue.played.some(p => p.pattern === 'escalation' "
                               f"&& p.id === '{ids['critical']}')")
        expect(page.locator("#escalated")).to_contain_text("Superviseur : 1 alerte(s) critique(s)")
        assert audit_rows(served, "alert.escalated") == [ids["critical"]]
        assert served.db().execute("SELECT escalated_at FROM events WHERE id = ?",
                                   [taken]).fetchone()[0] is None, "an acknowledged one is not"
        row.locator("button.mute").click()
        expect(row).to_contain_text("son coupé", timeout=5000)
        assert audit_rows(served, "alert.mute") == [ids["critical"]]
        muted_by = served.db().execute("SELECT muted_by FROM events WHERE id = ?",
                                       [ids["critical"]]).fetchone()[0]
        assert muted_by == "supervisor"
        wait_for(lambda: audit_rows(served, "alert.escalated") == [ids["critical"]], 3,
                 what="still one escalation row")
    finally:
        ctx.close()
        next(gen, None)


def test_escalation_is_written_once_and_never_for_a_taken_alert(tmp_path: Path) -> None:
    from central.triage import EscalationJob, escalate_due

    database = tmp_path / "hub.sqlite"
    late = put(database, severity="critical", type_="weapon")["id"]
    taken = put(database, severity="critical", type_="weapon")["id"]
    warning = put(database, severity="warning")["id"]
    db = hubdb.connect(database)
    db.execute("UPDATE events SET status = 'acknowledged' WHERE id = ?", [taken])
    assert escalate_due(db, 60.0) == [], "not due yet"
    job = EscalationJob(database, 60.0)
    later = time.time() + 61
    assert escalate_due(db, 60.0, now=later) == [late]
    assert escalate_due(db, 60.0, now=later + 5) == [] and job.run_once() == []
    rows = db.execute("SELECT subject, actor FROM audit WHERE action = 'alert.escalated'").fetchall()
    assert rows == [(late, "hub")]
    assert db.execute("SELECT COUNT(*) FROM events WHERE escalated_at IS NOT NULL").fetchone()[0] == 1
    assert warning not in {r[0] for r in rows}
    db.conn.close()


def test_streams_must_leave_threads_for_requests() -> None:
    from central.config import HubConfig, HubWeb
    from edge.wire.tomlconf import ConfigError

    with pytest.raises((ConfigError, ValueError), match="max_streams"):
        HubConfig(web=HubWeb(threads=4), alerts=HubAlerts(max_streams=4))
    assert HubConfig(web=HubWeb(threads=4), alerts=HubAlerts(max_streams=3)).alert_streams() == 3
    assert HubConfig(web=HubWeb(threads=2)).alert_streams() == 1, "half the threads by default"
    assert HubConfig(web=HubWeb(threads=1)).alert_streams() == 0, "one thread: pages poll"


def test_api_triage_filters_and_bulk_resolve(hub: Hub) -> None:
    """Old parameters keep working; sort=triage and the filters combine; a bulk resolve acts
    on each alert once (audited one by one) and lists what it skipped."""
    old_warning = put(hub.database, started_at="2026-12-01T08:00:00.000Z")["id"]
    new_warning = put(hub.database, started_at="2026-12-01T08:03:00.000Z")["id"]
    critical = put(hub.database, severity="critical", type_="weapon",
                   started_at="2026-12-01T09:30:00.000Z")["id"]
    other_cam = put(hub.database, camera="cam-02", started_at="2026-12-01T07:00:00.000Z")["id"]
    s = hub.login("operator")

    def ids(query: str) -> list[str]:
        r = s.get(f"{hub.url}/api/v1/alerts?{query}", timeout=10)
        assert r.status_code == 200, r.text
        return [a["id"] for a in r.json()["alerts"]]

    assert ids("status=new") == [critical, new_warning, old_warning, other_cam], "newest first"
    assert ids("status=open&sort=triage") == [critical, other_cam, old_warning, new_warning]
    assert ids("sort=triage&camera=test/cam-01&severity=warning") == [old_warning, new_warning]
    assert ids("type=weapon") == [critical] and ids("camera=cam-02") == [other_cam]
    assert s.get(f"{hub.url}/api/v1/alerts?severity=loud", timeout=10).status_code == 400
    q = s.get(f"{hub.url}/api/v1/alerts/queue", timeout=10).json()
    assert [g["count"] for g in q["groups"]] == [1, 1, 2] and q["total"] == 4
    assert q["groups"][2]["ids"] == [old_warning, new_warning]

    body = {"action": "resolve", "ids": [old_warning, new_warning, "no-such-alert"],
            "outcome": "false_alarm", "comment": "cat on the fence"}
    r = s.post(f"{hub.url}/api/v1/alerts/bulk", json=body, timeout=10)
    assert r.status_code == 200, r.text
    assert r.json()["done"] == [old_warning, new_warning]
    assert r.json()["skipped"] == [{"id": "no-such-alert", "reason": "missing"}]
    again = s.post(f"{hub.url}/api/v1/alerts/bulk", json=body, timeout=10).json()
    assert again["done"] == [] and {x["reason"] for x in again["skipped"]} == {"resolved", "missing"}
    assert audit_rows(hub, "alert.resolve") == [old_warning, new_warning]
    assert s.post(f"{hub.url}/api/v1/alerts/bulk", json={**body, "comment": ""},
                  timeout=10).status_code == 400
    assert s.post(f"{hub.url}/api/v1/alerts/bulk", json={"action": "ack", "ids": []},
                  timeout=10).status_code == 400
