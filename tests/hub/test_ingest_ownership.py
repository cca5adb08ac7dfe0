"""Event ownership and clock skew at hub ingest (real SQLite), and what the privacy officer and
the cameras page show of them (real hub over HTTP)."""

from __future__ import annotations

import json
import logging
import re
import time
from pathlib import Path

import pytest

from central import db as hubdb
from central.config import HubConfig
from central.ingest.received import Delivery
from central.ingest.subscriber import Ingest
from central.privacy.retention import DAY_S, purge
from edge.wire.messages import encode, utc_iso, uuid7
from tests.kits.hubkit import Hub, hub  # noqa: F401
from tests.kits.samples import sample_event, sample_health, sample_stats

A = "vigie/v1/marseille/cam-042/"
B = "vigie/v1/marseille/cam-043/"


def other_camera(msg: dict[str, object], **kw: object) -> bytes:
    return encode({**msg, "camera": "cam-043", **kw})


def test_another_camera_cannot_end_or_touch_an_event(
    tmp_path: Path, caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.WARNING)
    ing = Ingest(HubConfig(database=tmp_path / "hub.sqlite"))
    start = sample_event(id=uuid7(), started_at=utc_iso(time.time() - 60))
    assert ing.handle(A + "event", encode(start)) == "stored"
    end = {**start, "state": "end", "ended_at": utc_iso(time.time() - 1)}
    uploaded = {**start, "clip": {"status": "uploaded", "sha256": "ab" * 32}}
    for attempt in (other_camera(end), other_camera(uploaded), other_camera(start),
                    other_camera(start, state="start", clip={"status": "failed", "sha256": None})):
        assert ing.handle(B + "event", attempt) == "rejected"
    row = next(ing.db.query("SELECT site, camera, state, ended_at, clip FROM events"))
    assert (row["camera"], row["state"], row["ended_at"]) == ("cam-042", "start", None)
    assert json.loads(row["clip"])["status"] == start["clip"]["status"]  # type: ignore[index]
    spoofs = list(ing.db.query("SELECT site, camera, category, reason FROM quarantine"))
    assert len(spoofs) == 4
    want = f"spoof: event {start['id']} belongs to marseille/cam-042"
    assert all(s["category"] == "spoof" and s["reason"] == want and s["camera"] == "cam-043"
               for s in spoofs)
    warned = [r for r in caplog.records if want in r.getMessage()]
    assert len(warned) == 4 and all(r.levelno == logging.WARNING for r in warned)
    # the owner still ends its own event; a box cannot end the hub's camera_silent alert
    assert ing.handle(A + "event", encode(end)) == "stored"
    from central.ingest.camera_watch import check

    hubdb.camera_seen(ing.db, "marseille", "cam-042")
    ing.db.execute("UPDATE cameras SET last_seen = 0")
    (silent,) = check(ing.db, 60)
    fake_end = {**end, "id": silent, "type": "intrusion"}
    assert ing.handle(A + "event", encode(fake_end)) == "rejected"
    assert "is a camera_silent event" in ing.db.execute(
        "SELECT reason FROM quarantine ORDER BY id DESC").fetchone()[0]


def test_future_dates_are_quarantined_and_the_skew_is_measured(tmp_path: Path) -> None:
    ing = Ingest(HubConfig(database=tmp_path / "hub.sqlite", max_clock_skew_s=300))
    now = time.time()
    ahead = utc_iso(now + 3600)
    future = [
        (A + "event", sample_event(id=uuid7(), started_at=ahead)),
        (A + "event", sample_event(id=uuid7(), started_at=utc_iso(now - 5), state="end",
                                   ended_at=ahead)),
        (A + "stats", {**sample_stats(), "interval_start": utc_iso(now), "interval_end": ahead}),
        (A + "health", {**sample_health(), "ts": utc_iso(now + 600)}),
        (A + "event", sample_event(id=uuid7(), started_at="2026-13-45T99:00:00Z")),
    ]
    assert ing.process_batch([Delivery(t, encode(m)) for t, m in future]) == ["rejected"] * 5
    rows = list(ing.db.query("SELECT category, reason FROM quarantine ORDER BY id"))
    assert [r["category"] for r in rows] == ["clock_skew"] * 4 + ["invalid"]
    assert "started_at" in rows[0]["reason"] and "in the future" in rows[0]["reason"]
    assert "not a valid UTC date" in rows[4]["reason"]
    cam = next(ing.db.query("SELECT health, clock_skew_s FROM cameras"))
    assert cam["health"] is None and 590 < cam["clock_skew_s"] < 610  # measured though refused
    # within the skew: stored; a box 40 s behind is measured as -40 s
    soon = sample_event(id=uuid7(), started_at=utc_iso(now + 200))
    assert ing.handle(A + "event", encode(soon)) == "stored"
    assert ing.handle(A + "health", encode({**sample_health(), "ts": utc_iso(time.time() - 40)})) == "stored"
    cam = next(ing.db.query("SELECT health, clock_skew_s FROM cameras"))
    assert cam["health"] and -45 < cam["clock_skew_s"] < -35
    assert ing.db.execute("SELECT COUNT(*) FROM events").fetchone()[0] == 1


def test_old_rows_with_future_dates_are_purged(tmp_path: Path) -> None:
    """Rows stored before ingest refused future dates: purged by reception time."""
    db = hubdb.connect(tmp_path / "hub.sqlite")
    msg = sample_event(id=uuid7(), started_at="2099-01-01T00:00:00.000Z")
    hubdb.upsert_event(db, msg, json.dumps(msg))
    db.execute("UPDATE events SET received_at = ?", [time.time() - 11 * DAY_S])
    young = sample_event(id=uuid7(), started_at="2099-01-01T00:00:00.000Z")
    hubdb.upsert_event(db, young, json.dumps(young))
    from central.ingest.quarantine import record

    record(db, A + "event", b"old", "x", now=time.time() - 11 * DAY_S)
    record(db, A + "event", b"new", "y")
    report = purge(db, tmp_path / "clips", 10)
    assert report.events == (msg["id"],) and report.quarantined == 1
    assert [r[0] for r in db.execute("SELECT id FROM events")] == [young["id"]]
    assert [r[0] for r in db.execute("SELECT reason FROM quarantine")] == ["y"]


def test_privacy_officer_sees_quarantine_and_spoof_attempts(hub: Hub) -> None:  # noqa: F811
    ing = Ingest(HubConfig(database=hub.database))
    start = sample_event(id=uuid7(), started_at=utc_iso(time.time() - 60))
    ing.handle(A + "event", encode(start))
    ing.handle(B + "event", other_camera({**start, "state": "end", "ended_at": utc_iso(time.time())}))
    ing.handle(A + "event", b"[[[]]] not json")
    ing.handle(A + "health", encode({**sample_health(), "ts": utc_iso(time.time() + 900)}))

    po = hub.login("privacy-officer")
    api = po.get(f"{hub.url}/api/v1/privacy/quarantine", timeout=10).json()
    assert api["counts"] == {"invalid": 1, "spoof": 1, "clock_skew": 1, "unstorable": 0, "search": 0}
    assert {m["category"] for m in api["messages"]} == {"invalid", "spoof", "clock_skew"}
    assert all("payload" not in m and len(m["sha256"]) == 64 for m in api["messages"])
    only = po.get(f"{hub.url}/api/v1/privacy/quarantine?category=spoof", timeout=10).json()
    assert [m["camera"] for m in only["messages"]] == ["cam-043"]
    assert po.get(f"{hub.url}/api/v1/privacy/quarantine?category=nope", timeout=10).status_code == 400
    page = po.get(f"{hub.url}/privacy/quarantine", timeout=10)
    assert page.status_code == 200 and "tentatives d&#39;usurpation" in page.text
    assert f"event {start['id']} belongs to marseille/cam-042" in page.text
    template = (Path(__file__).parents[2] / "central/web/templates/privacy/quarantine.html").read_text()
    assert "<script" not in template and not re.search(r"\son[a-z]+\s*=", template)
    assert 'href="/privacy/quarantine"' in page.text  # in the navigation
    inventory = po.get(f"{hub.url}/api/v1/privacy/inventory", timeout=10).json()["items"]
    assert any(i["name"] == "quarantine" and i["count"] == 3 for i in inventory)
    assert hub.login("admin").get(f"{hub.url}/privacy/quarantine", timeout=10).status_code == 200
    for role in ("operator", "supervisor", "investigator"):
        s = hub.login(role)
        assert s.get(f"{hub.url}/api/v1/privacy/quarantine", timeout=10).status_code == 403

    cams = hub.login("operator").get(f"{hub.url}/api/v1/cameras", timeout=10).json()["cameras"]
    assert 890 < cams[0]["clock_skew_s"] < 910
    page = hub.login("admin").get(f"{hub.url}/cameras", timeout=10).text
    assert "Décalage d" in page and "+9" in page



def test_cameras_page_says_a_box_disk_is_full(hub: Hub) -> None:  # noqa: F811
    ing = Ingest(HubConfig(database=hub.database))
    now = utc_iso(time.time())
    full = {**sample_health(), "ts": now, "disk_full": True, "disk_free_bytes": 0,
            "outbox_error": "database or disk is full"}
    assert ing.handle(A + "health", encode(full)) == "stored"
    row = hub.login("admin").get(f"{hub.url}/cameras", timeout=10).text
    assert "<th>Disque</th>" in row and "PLEIN (database or disk is full)" in row
    ing.handle(A + "health", encode({**full, "disk_full": False, "disk_free_bytes": 3 * 2**30,
                                     "outbox_error": None}))
    row = hub.login("admin").get(f"{hub.url}/cameras", timeout=10).text
    assert "PLEIN" not in row and "3.0 Gio libres" in row
