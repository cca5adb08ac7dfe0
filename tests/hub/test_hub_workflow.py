"""The alert workflow, search and export, statistics and silent cameras, against a real hub."""

from __future__ import annotations

import csv
import io
import re
import time
from pathlib import Path

from central import db as hubdb
from central.ingest import camera_watch
from edge.wire.messages import utc_iso
from tests.kits.hubkit import Hub, hub, insert_event

__all__ = ["hub"]


def _audit(hub: Hub) -> list[tuple[str, str, str, str]]:
    return [tuple(r) for r in hub.db().execute(  # type: ignore[misc]
        "SELECT actor, action, subject, why FROM audit ORDER BY id").fetchall()]


def test_ack_assign_resolve_history_and_audit(hub: Hub) -> None:
    alert = insert_event(hub.database, severity="critical")
    op = hub.login("operator")
    sup = hub.login("supervisor")
    r = op.post(f"{hub.url}/api/v1/alerts/{alert}/ack", json={"operator": "supervisor"}, timeout=10)
    assert r.status_code == 403, "a person cannot acknowledge in someone else's name"
    r = op.post(f"{hub.url}/api/v1/alerts/{alert}/ack", json={"comment": "looking"}, timeout=10)
    assert r.status_code == 200 and r.json()["status"] == "acknowledged"
    assert r.json()["acked_by"] == "operator"
    assert op.post(f"{hub.url}/api/v1/alerts/{alert}/ack", json={}, timeout=10).status_code == 409
    r = sup.post(f"{hub.url}/api/v1/alerts/{alert}/assign", json={"operator": "nobody"}, timeout=10)
    assert r.status_code == 400 and "n'est pas un opérateur ou un superviseur actif" in r.json()["message"]
    r = sup.post(f"{hub.url}/api/v1/alerts/{alert}/assign", json={"operator": "operator"}, timeout=10)
    assert r.status_code == 200 and r.json()["assigned_to"] == "operator"
    r = op.post(f"{hub.url}/api/v1/alerts/{alert}/resolve", json={"outcome": "maybe", "comment": "x"},
                timeout=10)
    assert r.status_code == 400 and "l'issue doit être l'une de" in r.json()["message"]
    r = op.post(f"{hub.url}/api/v1/alerts/{alert}/resolve", json={"outcome": "false_alarm"}, timeout=10)
    assert r.status_code == 400 and "commentaire est obligatoire" in r.json()["message"]
    r = op.post(f"{hub.url}/api/v1/alerts/{alert}/resolve",
                json={"outcome": "false_alarm", "comment": "a shadow on the gate"}, timeout=10)
    assert r.status_code == 200
    body = r.json()
    assert (body["status"], body["outcome"], body["resolved_by"]) == ("resolved", "false_alarm", "operator")
    page = op.get(f"{hub.url}/alerts/{alert}", timeout=10)
    assert page.status_code == 200 and f'src="/api/v1/events/{alert}/clip"' in page.text
    hist = op.get(f"{hub.url}/api/v1/alerts/{alert}/history", timeout=10).json()["history"]
    assert [(h["actor"], h["action"]) for h in hist] == [
        ("operator", "alert.ack"), ("supervisor", "alert.assign"), ("operator", "alert.resolve"),
        ("operator", "alert.view")]
    rows = _audit(hub)
    assert ("operator", "alert.resolve", alert, "false_alarm: a shadow on the gate") in rows
    assert ("operator", "alert.view", alert, "") in rows


def test_search_filters_pagination_and_audit(hub: Hub) -> None:
    now = time.time()
    for i in range(7):
        insert_event(hub.database, camera="cam-a", label="person", zone="gate",
                     started_at=utc_iso(now - 3600 * i))
    car = insert_event(hub.database, camera="cam-b", label="car", zone="road",
                       started_at=utc_iso(now - 60))
    old = insert_event(hub.database, camera="cam-b", label="car", zone="road",
                       started_at=utc_iso(now - 5 * 86400))
    s = hub.login("operator")

    def search(**params: str) -> dict:  # type: ignore[type-arg]
        r = s.get(f"{hub.url}/api/v1/events", params=params, timeout=10)
        assert r.status_code == 200, r.text
        return r.json()  # type: ignore[no-any-return]

    assert search()["total"] == 9
    assert [e["id"] for e in search(**{"class": "car"})["events"]] == [car, old]
    assert search(camera="cam-a", zone="gate")["total"] == 7
    got = search(camera="cam-b", **{"from": utc_iso(now - 86400)})
    assert [e["id"] for e in got["events"]] == [car]
    assert search(**{"to": utc_iso(now - 86400)})["events"][0]["id"] == old
    page1, page2 = search(per_page="5", page="1"), search(per_page="5", page="2")
    assert len(page1["events"]) == 5 and len(page2["events"]) == 4
    assert not {e["id"] for e in page1["events"]} & {e["id"] for e in page2["events"]}
    assert search(status="new")["total"] == 9 and search(outcome="test")["total"] == 0
    for bad, why in (({"from": "yesterday"}, "ISO 8601"), ({"status": "open"}, "status doit être"),
                     ({"per_page": "5000"}, "per_page doit être"), ({"zone": "a'--"}, "zone doit comporter")):
        r = s.get(f"{hub.url}/api/v1/events", params=bad, timeout=10)
        assert r.status_code == 400 and why in r.json()["message"], (bad, r.text)
    page = s.get(f"{hub.url}/search", params={"class": "car", "go": "1"}, timeout=10)
    assert "2 événements" in page.text
    searches = [r for r in _audit(hub) if r[1] == "search"]
    assert len(searches) >= 8 and searches[-1][0] == "operator" and '"object_class": "car"' in searches[-1][3]


def test_export_needs_reason_is_audited_and_safe(hub: Hub) -> None:
    insert_event(hub.database, camera="cam-a", zone="gate")
    insert_event(hub.database, camera="cam-b", zone="road")
    s = hub.login("privacy_officer".replace("_", "-"))
    r = s.post(f"{hub.url}/api/v1/events/export", json={"filters": {}}, timeout=10)
    assert r.status_code == 400 and "motif" in r.json()["message"]
    r = s.post(f"{hub.url}/api/v1/events/export",
               json={"reason": "requisition 2026-118", "filters": {"camera": "cam-a"}}, timeout=10)
    assert r.status_code == 200 and r.headers["Content-Type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(r.text)))
    assert [row["Caméra"] for row in rows] == ["cam-a"]
    assert rows[0]["Type"] == "Intrusion" and rows[0]["Statut"] == "Nouvelle"
    started = rows[0]["Début (Europe/Paris)"]
    assert re.fullmatch(r"\d\d/\d\d/\d{4} \d\d:\d\d:\d\d", started), started
    form = s.post(f"{hub.url}/search/export", data={"camera": "cam-b", "reason": "court order 7",
                                                    "csrf_token": s.headers["X-CSRF-Token"]},
                  timeout=10)
    assert form.status_code == 200 and "cam-b" in form.text and "cam-a" not in form.text
    exports = [r for r in _audit(hub) if r[1] == "export"]
    assert [(e[0], e[3].split(" | ")[0]) for e in exports] == [
        ("privacy-officer", "requisition 2026-118"), ("privacy-officer", "court order 7")]
    op = hub.login("operator")
    assert op.post(f"{hub.url}/api/v1/events/export", json={"reason": "curious!"},
                   timeout=10).status_code == 403


def test_false_alarm_rate_per_rule_and_camera(hub: Hub) -> None:
    op = hub.login("operator")
    outcomes = ["false_alarm", "false_alarm", "true_alert", "test"]
    for outcome in outcomes:
        a = insert_event(hub.database, camera="cam-a", zone="gate")
        r = op.post(f"{hub.url}/api/v1/alerts/{a}/resolve", json={"outcome": outcome, "comment": "c"},
                    timeout=10)
        assert r.status_code == 200
    b = insert_event(hub.database, camera="cam-b", zone="gate")
    op.post(f"{hub.url}/api/v1/alerts/{b}/resolve", json={"outcome": "true_alert", "comment": "c"},
            timeout=10)
    sup = hub.login("supervisor")
    rates = sup.get(f"{hub.url}/api/v1/stats/false-alarms", timeout=10).json()["rates"]
    by_cam = {r["camera"]: (r["resolved"], r["false_alarms"], r["rate"]) for r in rates}
    assert by_cam == {"cam-a": (3, 2, 0.667), "cam-b": (1, 0, 0.0)}, "tests are not counted"
    svg = sup.get(f"{hub.url}/stats/false-alarms.svg", timeout=30)
    assert svg.headers["Content-Type"].startswith("image/svg+xml") and "<svg" in svg.text
    per_hour = sup.get(f"{hub.url}/api/v1/stats/events-per-hour?hours=2", timeout=10).json()
    assert sum(per_hour["by_type"]["intrusion"].values()) == 5


def test_silent_camera_raises_and_ends_an_operational_alert(tmp_path: Path) -> None:
    db = hubdb.connect(tmp_path / "h.sqlite")
    hubdb.camera_seen(db, "test", "cam-q", state="online")
    now = time.time()
    assert camera_watch.check(db, 60, now + 30) == []
    raised = camera_watch.check(db, 60, now + 61)
    assert len(raised) == 1
    assert camera_watch.check(db, 60, now + 90) == [], "one alert per silence"
    row = db.execute("SELECT type, severity, state, status, camera FROM events WHERE id = ?",
                     raised).fetchone()
    assert row == ("camera_silent", "critical", "start", "new", "cam-q")
    hubdb.camera_seen(db, "test", "cam-q", state="online")
    camera_watch.check(db, 60)
    assert db.execute("SELECT state FROM events WHERE id = ?", raised).fetchone()[0] == "end"


def test_cameras_page_shows_health(hub: Hub) -> None:
    import json

    db = hub.db()
    hubdb.camera_seen(db, "test", "cam-h", state="online", health=json.dumps({
        "schema": "vigie.health/1", "site": "test", "camera": "cam-h", "ts": utc_iso(time.time()),
        "fps_in": 10.0, "fps_processed": 4.5, "inference_ms_p50": 61.0, "inference_ms_p95": 80.0,
        "outbox_depth": 3, "uptime_s": 100.0, "seq": 9,
        "detector": {"model": "yolox-nano", "backend": "onnxruntime"},
        "audio": {"enabled": True, "legal_basis": "AIPD-2026-014"}}))
    hubdb.camera_seen(db, "test", "cam-old", state="offline")
    s = hub.login("operator")
    page = s.get(f"{hub.url}/cameras", timeout=10).text
    assert "4.5" in page and "61 / 80 ms" in page and "yolox-nano (onnxruntime)" in page
    assert "<td>actif</td>" in page and "AIPD-2026-014" in page
    assert ">En ligne<" in page and "<th>Dernier signal</th>" in page
    cams = {c["camera"]: c for c in s.get(f"{hub.url}/api/v1/cameras", timeout=10).json()["cameras"]}
    assert cams["cam-h"]["online"] is True and cams["cam-old"]["online"] is False


def test_queue_keeps_old_open_alerts(hub: Hub) -> None:
    """The queue asks for open alerts, so a forgotten old one is never pushed out by newer ones."""
    old = insert_event(hub.database, started_at=utc_iso(time.time() - 3 * 86400))
    s = hub.login("operator")
    for _ in range(3):
        a = insert_event(hub.database)
        s.post(f"{hub.url}/api/v1/alerts/{a}/resolve", json={"outcome": "test", "comment": "drill"},
               timeout=10)
    acked = insert_event(hub.database)
    s.post(f"{hub.url}/api/v1/alerts/{acked}/ack", json={}, timeout=10)
    got = s.get(f"{hub.url}/api/v1/alerts?status=open&limit=2", timeout=10).json()["alerts"]
    assert [a["id"] for a in got] == [acked, old]
    r = s.get(f"{hub.url}/api/v1/alerts?status=closed", timeout=10)
    assert r.status_code == 400 and "(open : nouvelles et prises en compte)" in r.json()["message"]


def test_stats_messages_chart(hub: Hub) -> None:
    """Counts from `stats` rows (table as the event-catalogue issue's migration makes it)."""
    db = hub.db()
    db.execute("CREATE TABLE IF NOT EXISTS stats (key TEXT PRIMARY KEY, site TEXT NOT NULL, "
               "camera TEXT NOT NULL, interval_start TEXT NOT NULL, interval_end TEXT NOT NULL, "
               "lines TEXT NOT NULL, zones TEXT NOT NULL, seq INTEGER, received_at FLOAT)")
    now = time.time()
    for i, (fwd, back, peak) in enumerate(((3, 1, 2), (5, 0, 7))):
        start = utc_iso(now - 600 * (i + 1))
        db.execute("INSERT INTO stats VALUES (?, 'test', 'cam-s', ?, ?, ?, ?, ?, ?)", [
            f"test/cam-s/{start}", start, utc_iso(now - 600 * i),
            json_dumps([{"line": "door", "class": "person", "forward": fwd, "backward": back}]),
            json_dumps([{"zone": "hall", "class": "person", "max": peak, "mean": 1.0}]), i, now])
    sup = hub.login("supervisor")
    page = sup.get(f"{hub.url}/stats", timeout=30).text
    assert 'id="crossings"' in page and "hall/person" in page and "<td>7</td>" in page
    counts = sup.get(f"{hub.url}/api/v1/stats/counts?hours=2", timeout=10).json()
    assert sum(counts["crossings"]["person"].values()) == 3 + 1 + 5 + 0
    assert counts["occupancy"] == {"hall/person": 7.0}
    svg = sup.get(f"{hub.url}/stats/crossings-per-hour.svg?hours=2", timeout=30)
    assert svg.status_code == 200 and "Personne" in svg.text and "<svg" in svg.text
    assert "Franchissements de ligne par heure" in svg.text and "Europe/Paris" in svg.text


def json_dumps(value: object) -> str:
    import json

    return json.dumps(value)
