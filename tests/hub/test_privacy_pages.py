"""The privacy officer's pages and API over real HTTP on a real SQLite file: audit filters,
the append-only audit log, egress status and privacy alerts (not for operators), the data
inventory and the retention setting with its legal cap."""

from __future__ import annotations

import sqlite3
import time
from pathlib import Path

import pytest
import requests

from central import audit
from central.ingest.clipstore import clip_path
from central.privacy.egress_verify import Finding, raise_alerts
from tests.kits.clipkit import make_webm
from tests.kits.hubkit import MACHINE_TOKEN, Hub, hub, insert_event  # noqa: F401


def test_look_search_export_each_audited_and_filters(hub: Hub, tmp_path: Path) -> None:  # noqa: F811
    ev1 = insert_event(hub.database, camera="cam-01")
    insert_event(hub.database, camera="cam-02")
    clips_dir = Path(hub.app.config["CLIPS_DIR"])
    made = make_webm(tmp_path / "c.webm", 1.0)
    sha = made.sha256
    f = clip_path(clips_dir, sha)
    f.parent.mkdir(parents=True, exist_ok=True)
    f.write_bytes(made.path.read_bytes())
    db = hub.db()
    db.table("clips").insert({"event_id": ev1, "site": "test", "camera": "cam-01", "sha256": sha,
                              "bytes": f.stat().st_size, "stored_at": time.time()})
    db.execute("INSERT INTO audit (ts, actor, action, subject, why) VALUES (?, 'old', 'login', 'old', '')",
               [time.time() - 40 * 86400])

    op = hub.login("operator")
    assert op.get(f"{hub.url}/api/v1/events/{ev1}/clip?why=incident+42", timeout=10).status_code == 200
    assert op.get(f"{hub.url}/api/v1/events", params={"camera": "cam-01"}, timeout=10).status_code == 200
    sup = hub.login("supervisor")
    r = sup.post(f"{hub.url}/api/v1/events/export", json={"reason": "police request 17"}, timeout=10)
    assert r.status_code == 200, r.text

    po = hub.login("privacy-officer")

    def rows(**params: str) -> list[dict]:  # type: ignore[type-arg]
        r = po.get(f"{hub.url}/api/v1/audit", params=params, timeout=10)
        assert r.status_code == 200, r.text
        return r.json()["audit"]  # type: ignore[no-any-return]

    actions = {(a["actor"], a["action"]) for a in rows()}
    assert {("operator", "clip.view"), ("operator", "search"), ("supervisor", "export")} <= actions
    assert [a["subject"] for a in rows(action="clip.view")] == [ev1]
    assert rows(action="clip.view")[0]["why"] == "incident 42"
    assert {a["action"] for a in rows(actor="supervisor")} == {"login", "export"}
    assert [a["action"] for a in rows(camera="cam-01")] == ["clip.view"]  # about its event
    assert rows(camera="test/cam-02") == []
    today = time.strftime("%Y-%m-%d", time.gmtime())
    assert "old" not in {a["actor"] for a in rows(**{"from": today})}
    month_ago = time.strftime("%Y-%m-%d", time.gmtime(time.time() - 30 * 86400))
    assert {a["actor"] for a in rows(to=month_ago)} == {"old"}
    r = po.get(f"{hub.url}/api/v1/audit", params={"from": "yesterday"}, timeout=10)
    assert r.status_code == 400 and "not a date" in r.json()["message"]
    page = po.get(f"{hub.url}/privacy/audit", params={"camera": "cam-01"}, timeout=10)
    assert page.status_code == 200 and ev1 in page.text and "police request" not in page.text


def test_audit_log_cannot_be_edited(hub: Hub) -> None:  # noqa: F811
    db = hub.db()
    audit.record(db, "someone", "clip.view", "x", "why")
    with pytest.raises(sqlite3.IntegrityError, match="append-only"):
        db.execute("UPDATE audit SET actor = 'nobody'")
    with pytest.raises(sqlite3.IntegrityError, match="append-only"):
        db.execute("DELETE FROM audit")
    assert db.execute("SELECT COUNT(*) FROM audit WHERE actor = 'someone'").fetchone()[0] == 1
    # no route of the application changes the audit log
    for rule in hub.app.url_map.iter_rules():
        if "audit" in rule.rule:
            assert rule.methods is not None and rule.methods <= {"GET", "HEAD", "OPTIONS"}, rule
    admin = hub.login("admin")
    for method in ("PUT", "PATCH", "DELETE", "POST"):
        r = admin.request(method, f"{hub.url}/api/v1/audit", timeout=10)
        assert r.status_code == 405, (method, r.status_code)


def test_privacy_alerts_are_for_the_privacy_officer_only(hub: Hub) -> None:  # noqa: F811
    db = hub.db()
    raise_alerts(db, [Finding("test", "cam-07", 42, "not_in_ledger", "sent around the ledger", "1")])
    po = hub.login("privacy-officer")
    r = po.get(f"{hub.url}/api/v1/privacy/egress", timeout=10)
    assert r.status_code == 200
    [alert] = r.json()["alerts"]
    assert (alert["camera"], alert["seq"], alert["kind"]) == ("cam-07", 42, "not_in_ledger")
    [cam] = [c for c in r.json()["cameras"] if c["camera"] == "cam-07"]
    assert cam["status"] == "alert" and cam["alerts"] == 1
    page = po.get(f"{hub.url}/privacy/egress", timeout=10)
    assert page.status_code == 200 and "not_in_ledger" in page.text and "cam-07" in page.text
    op = hub.login("operator")
    assert op.get(f"{hub.url}/api/v1/privacy/egress", timeout=10).status_code == 403
    assert "not_in_ledger" not in op.get(f"{hub.url}/", timeout=10).text  # not in the queue
    assert "cam-07" not in op.get(f"{hub.url}/api/v1/alerts", timeout=10).text


def test_inventory_and_retention_cap(hub: Hub) -> None:  # noqa: F811
    from edge.wire.messages import utc_iso

    insert_event(hub.database, started_at=utc_iso(time.time() - 3 * 86400))
    insert_event(hub.database)
    po = hub.login("privacy-officer")
    inv = po.get(f"{hub.url}/api/v1/privacy/inventory", timeout=10).json()
    assert inv["retention_days"] == 10 and inv["legal_max_days"] == 30
    events = next(i for i in inv["items"] if i["name"] == "events")
    assert events["count"] == 2 and events["bytes"] > 0
    assert 6.9 * 86400 < events["purge_in_s"] < 7.01 * 86400  # oldest is 3 days into 10
    r = po.put(f"{hub.url}/api/v1/privacy/retention", json={"days": 31}, timeout=10)
    assert r.status_code == 400 and "legal maximum of 30 days" in r.json()["message"]
    r = po.put(f"{hub.url}/api/v1/privacy/retention", json={"days": 5}, timeout=10)
    assert r.status_code == 200 and r.json() == {"retention_days": 5}
    inv = po.get(f"{hub.url}/api/v1/privacy/inventory", timeout=10).json()
    events = next(i for i in inv["items"] if i["name"] == "events")
    assert inv["retention_days"] == 5 and events["purge_in_s"] < 2.01 * 86400
    page = po.get(f"{hub.url}/privacy/inventory", timeout=10)
    assert page.status_code == 200 and "Durée de conservation en vigueur : 5 jours" in page.text
    r = po.post(f"{hub.url}/privacy/retention", data={"days": "45", "csrf_token": po.headers["X-CSRF-Token"]},
                timeout=10)
    assert r.status_code == 400 and "exceeds the legal maximum" in r.text
    sup = hub.login("supervisor")
    assert sup.put(f"{hub.url}/api/v1/privacy/retention", json={"days": 20}, timeout=10).status_code == 403
    db = hub.db()
    assert db.execute("SELECT actor, why FROM audit WHERE action = 'retention.set'").fetchall() == [
        ("privacy-officer", "5 days")]
    # the purge uses the officer's setting
    from central.privacy.inventory import retention_days
    from central.privacy.retention import purge

    report = purge(db, Path(hub.app.config["CLIPS_DIR"]), retention_days(db, 10), dry_run=True)
    assert len(report.events) == 0
    assert requests.get(f"{hub.url}/api/v1/privacy/inventory", timeout=10).status_code == 401


def test_inventory_lists_every_store_with_search_results_and_previews(hub: Hub) -> None:  # noqa: F811
    from central.privacy.processings import BOX_STORES, HUB_TABLES

    now = time.time()
    db = hub.db()
    db.execute("INSERT INTO searches (id, requester, case_ref, reason, created_at, deadline, "
               "expires_at, window_start, window_end, query, asked) VALUES ('s1', 'inv', 'PV-12', "
               "'theft of a van', ?, ?, ?, '2026-12-01T08:00:00Z', '2026-12-01T09:00:00Z', '{}', 2)",
               [now - 2 * 86400, now, now])
    for row, (label, preview) in enumerate([("car", b"\xff\xd8jpeg-preview"), ("person", None),
                                            ("truck", b"\xff\xd8another")]):
        db.execute("INSERT INTO search_results (search_id, site, camera, row, class, first_seen, "
                   "last_seen, zones, direction) VALUES ('s1', 'test', 'cam-01', ?, ?, "
                   "'2026-12-01T08:10:00Z', '2026-12-01T08:11:00Z', '[]', 'left')", [row, label])
        if preview:
            db.execute("UPDATE search_results SET preview = ? WHERE row = ?", [preview, row])
    po = hub.login("privacy-officer")
    items = {i["name"]: i for i in po.get(f"{hub.url}/api/v1/privacy/inventory", timeout=10).json()["items"]}
    assert set(HUB_TABLES) - {"rejected"} <= set(items) and set(BOX_STORES) <= set(items)
    assert items["search_results"]["count"] == 3 and items["searches"]["count"] == 1
    previews = items["search_results.preview"]
    assert previews["count"] == 2
    assert previews["bytes"] == len(b"\xff\xd8jpeg-preview") + len(b"\xff\xd8another")
    assert items["search_results"]["oldest"] == "2026-12-01T08:10:00.000Z"
    assert items["index.sqlite:tracks"]["count"] is None  # kept on the boxes only
    assert "10 jours" in items["search_results"]["policy"]
    page = po.get(f"{hub.url}/privacy/inventory", timeout=10).text
    assert 'data-name="search_results.preview"' in page and "sur le boîtier" in page
    assert "vignette anonymisée" in page


def test_admin_enrols_a_box_over_the_api(hub: Hub) -> None:  # noqa: F811
    from edge.wire.keys import BOX_KEY, generate_private, public_text

    key = public_text(generate_private(Path(hub.database).parent / "k" / BOX_KEY))
    admin = hub.login("admin")
    r = admin.put(f"{hub.url}/api/v1/devices/test/cam-09", json={"public_key": key}, timeout=10)
    assert r.status_code == 200 and r.json()["changed"] is True
    r = admin.put(f"{hub.url}/api/v1/devices/test/cam-09", json={"public_key": "ed25519:AAAA"}, timeout=10)
    assert r.status_code == 400 and "malformed Ed25519 public key" in r.json()["message"]
    po = hub.login("privacy-officer")
    assert po.put(f"{hub.url}/api/v1/devices/test/cam-09", json={"public_key": key},
                  timeout=10).status_code == 403
    devices = po.get(f"{hub.url}/api/v1/devices", timeout=10).json()["devices"]
    assert [(d["site"], d["camera"], d["public_key"], d["enrolled_by"]) for d in devices] == [
        ("test", "cam-09", key, "admin")]
    assert hub.db().execute("SELECT actor, subject FROM audit WHERE action = 'device.enrol'"
                            ).fetchall() == [("admin", "test/cam-09")]
