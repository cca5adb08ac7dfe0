"""Clip upload and viewing at the hub over real HTTP: good uploads are stored by hash and
served with Range support and audited; bad ones are refused with the right status and leave
nothing behind. The box's uploader retries with backoff and ledgers every attempt."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pytest
import requests

from central import db as hubdb
from edge.clips.encode import ClipFile
from edge.outbound.egress import EgressRefused, UploadError, put_clip
from edge.outbound.ledger import Ledger, read, verify_chain
from edge.wire.messages import uuid7
from tests.kits.clipkit import DEVICE, OPERATOR, OTHER, Hub, clip, hub, make_webm  # noqa: F401  (fixtures)
from tests.kits.samples import sample_event


def add_event(hub: Hub, camera: str = "cam-042") -> str:  # noqa: F811
    msg = sample_event(id=uuid7(), camera=camera)
    hubdb.upsert_event(hub.db(), msg, json.dumps(msg))
    return str(msg["id"])


def put(hub: Hub, event_id: str, data: bytes, token: str = DEVICE, sha: str | None = None,  # noqa: F811
        ctype: str = "video/webm") -> requests.Response:
    return requests.put(
        f"{hub.url}/api/v1/events/{event_id}/clip", data=data, timeout=10,
        headers={"Authorization": f"Bearer {token}", "Content-Type": ctype,
                 "X-Content-SHA256": sha or hashlib.sha256(data).hexdigest()},
    )


def test_upload_store_by_hash_range_and_audit(hub: Hub, clip: ClipFile) -> None:  # noqa: F811
    eid = add_event(hub)
    data = clip.path.read_bytes()
    r = put(hub, eid, data)
    assert r.status_code == 201, r.text
    assert r.json()["sha256"] == clip.sha256 and abs(r.json()["duration_s"] - 2.0) < 0.15
    files = hub.stored_files()
    assert [f.name for f in files] == [f"{clip.sha256}.webm"]
    assert hashlib.sha256(files[0].read_bytes()).hexdigest() == clip.sha256
    # the same upload again (a retry after a lost answer) is accepted and stores nothing new
    again = put(hub, eid, data)
    assert again.status_code == 200 and again.json()["stored"] is False
    assert len(hub.stored_files()) == 1 and hub.clip_rows() == 1

    view = f"{hub.url}/api/v1/events/{eid}/clip"
    assert requests.get(view, timeout=5).status_code == 401
    assert requests.get(view, headers={"Authorization": f"Bearer {DEVICE}"}, timeout=5).status_code == 401
    auth = {"Authorization": f"Bearer {OPERATOR}"}
    whole = requests.get(view, headers=auth, params={"why": "alert check"}, timeout=5)
    assert whole.status_code == 200 and whole.content == data
    assert whole.headers["Content-Type"] == "video/webm" and whole.headers["Accept-Ranges"] == "bytes"
    part = requests.get(view, headers={**auth, "Range": "bytes=100-199"}, timeout=5)
    assert part.status_code == 206 and part.content == data[100:200]
    assert part.headers["Content-Range"] == f"bytes 100-199/{len(data)}"
    first = requests.get(view, headers={**auth, "Range": "bytes=0-"}, timeout=5)
    assert first.status_code == 206 and first.content == data
    rows = hub.db().execute(
        "SELECT actor, action, subject, why FROM audit WHERE action='clip.view'").fetchall()
    # one row per viewing: the plain GET and the one starting at byte 0, not the mid-file range
    assert rows == [("alice", "clip.view", eid, "alert check"), ("alice", "clip.view", eid, "")]


def test_bad_uploads_are_refused_and_nothing_is_stored(hub: Hub, clip: ClipFile, tmp_path: Path) -> None:  # noqa: F811
    eid = add_event(hub)
    data = clip.path.read_bytes()
    cases = {
        "no token": (put(hub, eid, data, token="nope"), 401),
        "wrong device": (put(hub, eid, data, token=OTHER), 403),
        "wrong hash": (put(hub, eid, data, sha="0" * 64), 400),
        "unknown event": (put(hub, uuid7(), data), 404),
        "not a video": (put(hub, eid, b"\x1a\x45\xdf\xa3" + b"garbage" * 1000), 422),
        "wrong type": (put(hub, eid, data, ctype="application/octet-stream"), 415),
        "oversized": (put(hub, eid, b"x" * 500_000), 413),
        "too long": (put(hub, eid, make_webm(tmp_path / "long.webm", 25.0, size=(32, 32)).path.read_bytes()),
                     422),
        "upper-case id": (put(hub, eid.upper(), data), 400),
        "dots in id": (put(hub, "...", data), 400),
    }
    for what, (resp, status) in cases.items():
        assert resp.status_code == status, f"{what}: {resp.status_code} {resp.text}"
        assert resp.json()["message"], what
    # ids that try to leave the route or the folder never reach a handler that stores
    for trick in ("..", "..%2F..%2Fetc", "%2e%2e", eid + "%00", "%2e%2e%2f" + eid, eid + "%2f.."):
        r = requests.put(f"{hub.url}/api/v1/events/{trick}/clip", data=data, timeout=10,
                         headers={"Authorization": f"Bearer {DEVICE}", "Content-Type": "video/webm",
                                  "X-Content-SHA256": clip.sha256})
        assert r.status_code in (400, 404, 405), trick
    assert hub.stored_files() == [] and hub.clip_rows() == 0
    # and the good upload still works afterwards
    assert put(hub, eid, data).status_code == 201
    assert put(hub, eid, make_webm(tmp_path / "other.webm", 1.0).path.read_bytes()).status_code == 409


def test_box_uploader_ledgers_every_attempt(hub: Hub, clip: ClipFile, tmp_path: Path) -> None:  # noqa: F811
    ledger = Ledger(tmp_path / "ledger.jsonl")
    data = clip.path.read_bytes()
    unknown = uuid7()
    assert put_clip(ledger, hub.url, DEVICE, unknown, data, 10) == 404  # not ingested yet: retryable
    eid = add_event(hub)
    assert put_clip(ledger, hub.url, DEVICE, eid, data, 10) == 201
    with pytest.raises(EgressRefused):
        put_clip(ledger, hub.url, DEVICE, "../../etc", data, 10)
    with pytest.raises(EgressRefused):
        put_clip(ledger, hub.url, DEVICE, eid, b"not a webm", 10)
    with pytest.raises(UploadError):
        put_clip(ledger, "http://127.0.0.1:9", DEVICE, eid, data, 2)
    entries = list(read(ledger.path))
    verify_chain(entries)
    # refused payloads take no entry; the two answered attempts and the unreachable one do
    assert [(e.kind, e.dest) for e in entries] == [
        ("http", f"/api/v1/events/{unknown}/clip"), ("http", f"/api/v1/events/{eid}/clip"),
        ("http", f"/api/v1/events/{eid}/clip")]
    assert all(e.sha256 == clip.sha256 and e.bytes == len(data) for e in entries)


def test_clip_status_updates_are_idempotent_and_never_go_back(hub: Hub) -> None:  # noqa: F811
    db = hub.db()
    msg = sample_event(id=uuid7(), clip={"status": "pending", "sha256": None})
    assert hubdb.upsert_event(db, msg, json.dumps(msg))
    done = {**msg, "clip": {"status": "uploaded", "sha256": "a" * 64}}
    assert hubdb.upsert_event(db, done, json.dumps(done))
    assert not hubdb.upsert_event(db, done, json.dumps(done))  # repeated: no change
    end = {**msg, "state": "end", "ended_at": msg["started_at"]}  # end still saying pending
    assert hubdb.upsert_event(db, end, json.dumps(end))
    state, status = db.execute("SELECT state, clip FROM events WHERE id=?", [msg["id"]]).fetchone()
    assert state == "end" and json.loads(status) == {"status": "uploaded", "sha256": "a" * 64}
