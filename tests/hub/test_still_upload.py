"""Event stills at the hub over real HTTP: the owning device's JPEG is stored by hash, shown in
the alert JSON and served with the first view per person audited; another camera's token, an
oversized or a non-JPEG still is refused, quarantined with its reason and stores nothing; each
body read is a receipt for the ledger check; retention deletes the still with its event."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import cv2
import numpy as np
import requests

from central import db as hubdb
from central.config import DeviceIdentity, HubClips, HubConfig
from central.ingest.ebml import ClipRefused
from central.ingest.stillcheck import StillLimits, check_still
from central.privacy.retention import purge
from edge.wire.messages import uuid7
from tests.kits.clipkit import DEVICE, OPERATOR, OTHER, Hub, hub  # noqa: F401  (fixtures)
from tests.kits.samples import sample_event

LIMITS = StillLimits(200_000, 1920, 1080)


def jpeg(w: int = 320, h: int = 180, seed: int = 1) -> bytes:
    image = np.random.default_rng(seed).integers(0, 255, (h, w, 3), dtype=np.uint8)
    ok, buf = cv2.imencode(".jpg", image, [cv2.IMWRITE_JPEG_QUALITY, 70])
    assert ok
    return bytes(buf.tobytes())


def add_event(hub: Hub, camera: str = "cam-042", started_at: str | None = None) -> str:  # noqa: F811
    msg = sample_event(id=uuid7(), camera=camera)
    if started_at:
        msg["started_at"] = started_at
    hubdb.upsert_event(hub.db(), msg, json.dumps(msg))
    return str(msg["id"])


def put(hub: Hub, eid: str, data: bytes, token: str = DEVICE,  # noqa: F811
        ctype: str = "image/jpeg") -> requests.Response:
    return requests.put(f"{hub.url}/api/v1/events/{eid}/still", data=data, timeout=10, headers={
        "Authorization": f"Bearer {token}", "Content-Type": ctype,
        "X-Content-SHA256": hashlib.sha256(data).hexdigest(),
        "X-Taken-At": "2026-12-01T10:00:00.000Z"})


def stills(hub: Hub) -> list[Path]:  # noqa: F811
    return [p for p in (hub.cfg.clips.dir / "stills").rglob("*.jpg")] if (
        hub.cfg.clips.dir / "stills").exists() else []


def view(hub: Hub, eid: str) -> requests.Response:  # noqa: F811
    return requests.get(f"{hub.url}/api/v1/events/{eid}/still", timeout=5,
                        headers={"Authorization": f"Bearer {OPERATOR}"})


def test_a_still_is_stored_shown_in_the_alert_and_its_first_view_audited(hub: Hub) -> None:  # noqa: F811
    eid = add_event(hub)
    data = jpeg()
    r = put(hub, eid, data)
    assert r.status_code == 201, r.text
    assert put(hub, eid, data).status_code == 200  # a retry after a lost answer
    assert [p.name for p in stills(hub)] == [f"{hashlib.sha256(data).hexdigest()}.jpg"]
    alert = requests.get(f"{hub.url}/api/v1/alerts/{eid}", timeout=5,
                         headers={"Authorization": f"Bearer {OPERATOR}"}).json()
    assert alert["still"] == {"url": f"/api/v1/events/{eid}/still",
                              "taken_at": "2026-12-01T10:00:00.000Z"}
    for _ in range(3):  # a queue thumbnail refreshing
        got = view(hub, eid)
        assert got.status_code == 200 and got.content == data
        assert got.headers["Content-Type"] == "image/jpeg"
    assert requests.get(f"{hub.url}/api/v1/events/{eid}/still", timeout=5,
                        headers={"Authorization": f"Bearer {DEVICE}"}).status_code == 401
    rows = hub.db().execute("SELECT actor, subject FROM audit WHERE action = 'still.view'").fetchall()
    assert rows == [("alice", eid)]
    assert put(hub, eid, jpeg(seed=2)).status_code == 409  # never replaced by other bytes


def test_refused_stills_are_quarantined_with_their_reason(hub: Hub) -> None:  # noqa: F811
    eid = add_event(hub)
    cases = {
        "another camera": (put(hub, eid, jpeg(), token=OTHER), 403),
        "not a jpeg": (put(hub, eid, b"GIF89a" + bytes(5000)), 415),
        "oversized": (put(hub, eid, jpeg(1920, 1080) + bytes(1_100_000)), 413),
        "wrong type": (put(hub, eid, jpeg(), ctype="image/png"), 415),
        "truncated": (put(hub, eid, jpeg()[:600]), 422),
    }
    for name, (r, want) in cases.items():
        assert r.status_code == want, (name, r.status_code, r.text)
        assert r.json()["error"] and r.json()["message"], name
    assert stills(hub) == []
    assert hub.db().execute("SELECT still FROM events WHERE id = ?", [eid]).fetchone()[0] is None
    q = hub.db().execute("SELECT site, camera, topic, reason FROM quarantine ORDER BY id").fetchall()
    reasons = [row[3] for row in q]
    assert len(q) == 4 and all(row[:2] == ("marseille", "cam-042") for row in q)
    assert all(row[2].endswith(f"/api/v1/events/{eid}/still") for row in q)
    assert any("not_a_jpeg" in r for r in reasons) and any("too_large" in r for r in reasons)
    receipts = hub.db().execute("SELECT valid FROM receipts WHERE kind = 'http'").fetchall()
    assert receipts == [(0,), (0,), (0,)]  # the three bodies read: each a receipt, refused


def test_the_header_is_checked_before_decoding() -> None:
    assert check_still(jpeg(), LIMITS).width == 320
    for bad, error in ((b"\xff\xd8" + b"\xff\xe0\x00\x10" + bytes(14) + b"\xff\xc3\x00\x0b" + bytes(9),
                        "unsupported"),
                       (b"\xff\xd8\xff\xe0\xff\xff", "malformed"),
                       (jpeg(2000, 100), "too_large")):
        try:
            check_still(bad, LIMITS)
        except ClipRefused as exc:
            assert exc.error == error, (bad[:8], exc.error)
        else:
            raise AssertionError(f"{bad[:8]!r} accepted")


def test_retention_deletes_the_still_with_its_event(tmp_path: Path) -> None:
    cfg = HubConfig(database=tmp_path / "hub.sqlite", clips=HubClips(dir=tmp_path / "clips"),
                    device_tokens={DEVICE: DeviceIdentity(site="marseille", camera="cam-042")})
    db = hubdb.connect(cfg.database)
    hubdb.migrate(db)
    from central.ingest.clipstore import still_path

    kept = []
    for started in ("2020-01-01T00:00:00Z", "2099-01-01T00:00:00Z"):
        msg = sample_event(id=uuid7(), camera="cam-042")
        msg["started_at"] = started
        hubdb.upsert_event(db, msg, json.dumps(msg))
        sha = hashlib.sha256(started.encode()).hexdigest()
        path = still_path(cfg.clips.dir, sha)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(b"x")
        with db.conn:
            db.execute("UPDATE events SET still = ?, received_at = ? WHERE id = ?",
                       [json.dumps({"sha256": sha, "taken_at": started}),
                        4_000_000_000 if started.startswith("2099") else 0, msg["id"]])
        kept.append(path)
    report = purge(db, cfg.clips.dir, 30, now=1_900_000_000)
    assert report.files == (kept[0],) and not kept[0].exists() and kept[1].exists()


def test_a_clip_still_being_made_past_the_deadline_fails_with_the_reason(tmp_path: Path) -> None:
    from central.ingest.camera_watch import expire_clips

    db = hubdb.connect(tmp_path / "hub.sqlite")
    hubdb.migrate(db)
    ids = []
    for status in ("making", "making", "uploaded"):
        msg = sample_event(id=uuid7(), camera="cam-042")
        msg["clip"] = {"status": status, "sha256": "ab" * 32 if status == "uploaded" else None}
        hubdb.upsert_event(db, msg, json.dumps(msg))
        ids.append(msg["id"])
    with db.conn:
        db.execute("UPDATE events SET received_at = 0 WHERE id IN (?, ?)", [ids[0], ids[2]])
    plan = " ".join(str(r) for r in db.execute(
        "EXPLAIN QUERY PLAN SELECT id FROM events WHERE json_extract(clip, '$.status') = "
        "'making' AND received_at < ?", [1.0]).fetchall())
    assert "events_clip_making" in plan
    assert expire_clips(db, 3600) == [ids[0]]
    clips = [json.loads(db.execute("SELECT clip FROM events WHERE id = ?", [i]).fetchone()[0])
             for i in ids]
    assert clips[0] == {"status": "failed", "sha256": None,
                        "reason": "no clip received within 3600 s (hub deadline)"}
    assert clips[1]["status"] == "making" and clips[2]["status"] == "uploaded"
    # a box message saying "pending" after "making" changes nothing (states only move forward)
    back = sample_event(id=ids[1], camera="cam-042")
    back["clip"] = {"status": "pending", "sha256": None}
    assert hubdb.upsert_event(db, back, json.dumps(back)) is False
