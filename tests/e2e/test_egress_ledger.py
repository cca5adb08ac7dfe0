"""Egress-ledger verification, all real: a box's egress, outbox, sender and signed digests
publish through Mosquitto to the hub's ingest (SQLite); the hub verifies. Every tamper case (a
message dropped, altered, replayed or sent around the ledger) is detected and named with the
camera and the ledger sequence number."""

from __future__ import annotations

import hashlib
import json
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import paho.mqtt.client as mqtt
import pytest
from click.testing import CliRunner
from paho.mqtt.enums import CallbackAPIVersion

from central import db as hubdb
from central.config import HubBroker, HubConfig, PrivacyVerifyConfig
from central.devtools.broker import LocalBroker
from central.ingest.receipts import enrol_device
from central.ingest.subscriber import Ingest
from central.privacy.egress_verify import raise_alerts, verify_camera
from edge.config import BrokerConfig
from edge.outbound.digests import Digester, build_digest
from edge.outbound.egress import Egress
from edge.outbound.ledger import Ledger
from edge.outbound.outbox import Outbox
from edge.outbound.sender import Sender
from edge.wire.keys import BOX_KEY, generate_private, keys_dir, public_text
from edge.wire.ledger_entries import REPAIR_KIND
from edge.wire.messages import topic, validate
from tests.conftest import wait_for
from tests.kits.samples import sample_event

SITE, CAM = "marseille", "cam-042"


@dataclass
class Rig:
    """One box (egress + outbox + sender + digester) and the hub's ingest, on a real broker."""

    tmp: Path
    broker: LocalBroker
    egress: Egress
    outbox: Outbox
    sender: Sender
    digester: Digester
    ingest: Ingest
    key: Any

    def db(self) -> Any:
        return hubdb.connect(self.ingest.database)

    def event(self, **kw: Any) -> dict[str, Any]:
        msg = sample_event()
        msg.update(site=SITE, camera=CAM, **kw)
        del msg["seq"]
        return msg

    def send(self, suffix: str, msg: dict[str, Any]) -> None:
        """Through the outbox and the sender, as the agent does."""
        if suffix == "event":  # the outbox keeps events in EventMessage.to_json form
            m = dict(msg)
            model, clip = m.pop("model"), m.pop("clip")
            m.pop("schema")
            m.update(model_name=model["name"], model_sha256=model["sha256"],
                     clip_status=clip["status"], clip_sha256=clip["sha256"])
            msg = m
        self.outbox.put(suffix, msg)
        self.sender.wake()

    def ledger_only(self, suffix: str, msg: dict[str, Any]) -> tuple[int, bytes]:
        """Ledger a message exactly as egress would, but let it never reach the broker."""
        dest = topic(SITE, CAM, suffix)
        entry, payload = self.egress.ledger.append_built(
            "mqtt", dest, lambda seq: self.egress._checked(suffix, msg, seq))
        return entry.seq, payload

    def settle(self) -> None:
        wait_for(lambda: self.sender.wait_empty(0.1), 15, what="outbox drained")
        time.sleep(0.3)  # the hub's ingest batch
        n = sum(self.ingest.counts.values())
        wait_for(lambda: (time.sleep(0.2), sum(self.ingest.counts.values()) == n)[1], 10,
                 what="ingest idle")

    def digest(self) -> None:
        assert self.digester.digest_once() >= 1
        self.settle()


def raw_client(port: int) -> mqtt.Client:
    """A client with the box's own broker credentials (the test broker takes any)."""
    c = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=f"vigie-{SITE}-{CAM}-raw")
    c.connect("127.0.0.1", port)
    c.loop_start()
    return c


def publish_raw(c: mqtt.Client, suffix: str, payload: bytes) -> None:
    c.publish(topic(SITE, CAM, suffix), payload, qos=1).wait_for_publish(5)


@pytest.fixture
def rig(tmp_path: Path, broker: LocalBroker) -> Iterator[Rig]:
    data = tmp_path / "box"
    key = generate_private(keys_dir(data) / BOX_KEY)
    cfg = HubConfig(database=tmp_path / "hub.sqlite", broker=HubBroker(port=broker.port),
                    privacy=PrivacyVerifyConfig(verify_every_s=3600))
    ingest = Ingest(cfg)
    db = hubdb.connect(cfg.database)
    enrol_device(db, SITE, CAM, public_text(key), "test")
    db.conn.close()
    ingest.start()
    wait_for(ingest.connected.is_set, 10, what="ingest connection")
    ledger = Ledger(data / "egress-ledger.jsonl")
    egress = Egress(SITE, CAM, BrokerConfig(port=broker.port), ledger)
    outbox = Outbox(data / "outbox.sqlite")
    sender = Sender(outbox, egress, 20)
    digester = Digester(key, SITE, CAM, ledger.path, outbox, data, 3600, sender.wake)
    egress.start()
    sender.start()
    wait_for(egress.connected.is_set, 10, what="egress connection")
    r = Rig(tmp_path, broker, egress, outbox, sender, digester, ingest, key)
    yield r
    sender.stop()
    egress.stop()
    ingest.stop()


def kinds_by_seq(rig: Rig) -> dict[int | None, set[str]]:
    db = rig.db()
    report = verify_camera(db, SITE, CAM, grace_s=0.0, now=time.time() + 1)
    raise_alerts(db, report.findings)
    out: dict[int | None, set[str]] = {}
    for f in report.findings:
        assert (f.site, f.camera) == (SITE, CAM)
        out.setdefault(f.seq, set()).add(f.kind)
    return out


def test_honest_box_verifies_clean(rig: Rig) -> None:
    """Events, stats-free health (QoS 0), state and the last will: no finding, and the digests
    themselves are ledgered and covered by the next digest."""
    for _ in range(3):
        rig.send("event", rig.event())
    rig.egress.publish("health", {
        "schema": "vigie.health/1", "site": SITE, "camera": CAM, "ts": "2026-11-24T10:00:00.000Z",
        "fps_in": 1, "fps_processed": 1, "inference_ms_p50": None, "inference_ms_p95": None,
        "outbox_depth": 0, "uptime_s": 1})
    rig.settle()
    rig.digest()
    rig.send("event", rig.event())
    rig.settle()
    rig.digest()  # covers the first digest's own ledger entry
    db = rig.db()
    digests = db.execute("SELECT sig_ok, n FROM digests ORDER BY id").fetchall()
    assert [d[0] for d in digests] == [1, 1]
    report = verify_camera(db, SITE, CAM, grace_s=0.0, now=time.time() + 1)
    assert report.findings == (), report.findings
    assert report.status == "ok"
    assert report.head_seq == rig.egress.ledger.seq - 1  # all but the last digest's own entry
    # the will "offline" (seq 1) was ledgered but never published: not a finding
    will = db.execute("SELECT COUNT(*) FROM receipts WHERE dest LIKE '%/state'").fetchone()[0]
    assert will == 1  # only "online"


def test_repaired_torn_tail_verifies_clean_at_the_hub(rig: Rig) -> None:
    """A torn tail (what a full disk left) is cut off when the box reopens its ledger; the
    repair entry chains, is digested, stored by the hub, and raises no finding."""
    rig.send("event", rig.event())
    rig.settle()
    rig.digest()
    path = rig.egress.ledger.path
    good = path.read_bytes()
    last = good.splitlines(keepends=True)[-1]
    with path.open("ab") as f:  # a short write and the next entry appended on the same line
        f.write(last[:30] + last)
    reopened = Ledger(path)  # as the restarted agent does
    assert reopened.repair is not None
    rig.egress.ledger = reopened
    rig.send("event", rig.event())
    rig.settle()
    rig.digest()
    db = rig.db()
    kinds = [k for (k,) in db.execute("SELECT kind FROM ledger_entries ORDER BY seq")]
    assert kinds.count(REPAIR_KIND) == 1
    assert db.execute("SELECT COUNT(*) FROM rejected").fetchone()[0] == 0
    report = verify_camera(db, SITE, CAM, grace_s=0.0, now=time.time() + 1)
    assert report.findings == (), report.findings
    assert report.head_seq == reopened.seq - 1


def test_every_tamper_is_detected_with_camera_and_seq(rig: Rig) -> None:
    raw = raw_client(rig.broker.port)
    try:
        rig.send("event", rig.event())
        rig.settle()
        # 1. dropped between box and hub: ledgered, never delivered
        dropped, _ = rig.ledger_only("event", rig.event())
        # 2. altered on the way: the ledgered payload is not what arrives
        altered, payload = rig.ledger_only("event", rig.event())
        publish_raw(raw, "event", payload.replace(b'"severity":"warning"', b'"severity":"info"'))
        # 3. replayed: the genuine payload arrives twice
        replayed, payload = rig.ledger_only("event", rig.event())
        publish_raw(raw, "event", payload)
        publish_raw(raw, "event", payload)
        # 4. bypass: a valid message published straight to the broker, never ledgered
        bypass = 9999
        msg = rig.event()
        publish_raw(raw, "event", json.dumps({**msg, "seq": bypass}).encode())
        rig.settle()
        # 5. ledger line edited on the box (before the digest reads it): hide what was sent
        edited, _ = rig.ledger_only("event", rig.event())
        # 6. entries reordered on the box
        ra, _ = rig.ledger_only("event", rig.event())
        rb, _ = rig.ledger_only("event", rig.event())
        path = rig.egress.ledger.path
        lines = path.read_bytes().splitlines(keepends=True)
        idx = {json.loads(ln)["seq"]: i for i, ln in enumerate(lines)}
        e = json.loads(lines[idx[edited]])
        e["sha256"] = hashlib.sha256(b"something harmless").hexdigest()
        lines[idx[edited]] = json.dumps(e, separators=(",", ":"), sort_keys=True).encode() + b"\n"
        lines[idx[ra]], lines[idx[rb]] = lines[idx[rb]], lines[idx[ra]]
        path.write_bytes(b"".join(lines))
        rig.digest()
        # 7. a digest with a bad signature (another key), e.g. forged to cover the bypass
        from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

        forged_seq = 5000
        fake_entry = {"seq": forged_seq, "ts": time.time(), "kind": "mqtt",
                      "dest": topic(SITE, CAM, "event"), "bytes": 10, "sha256": "a" * 64,
                      "prev": "b" * 64, "hash": "c" * 64}
        forged = build_digest(Ed25519PrivateKey.generate(), SITE, CAM, [fake_entry], forged_seq,
                              "c" * 64).to_wire(4999)
        validate("ledger", forged)
        publish_raw(raw, "ledger", json.dumps(forged).encode())
        rig.settle()
        rig.send("event", rig.event())  # and a later honest digest, so receipts are judged
        rig.settle()
        rig.digest()
    finally:
        raw.loop_stop()
        raw.disconnect()

    found = kinds_by_seq(rig)
    assert "missing" in found[dropped]
    assert "altered" in found[altered]
    assert "replayed" in found[replayed]
    assert "not_in_ledger" in found[bypass]
    assert "entry_edited" in found[edited]
    assert "reordered" in found[ra] | found[rb]
    assert "bad_signature" in found[forged_seq]
    # nothing else is accused: every finding is about one of the tampered seq numbers
    tampered = {dropped, altered, replayed, bypass, edited, ra, rb, forged_seq, 4999}
    assert set(found) <= tampered, found
    db = rig.db()
    alerts = db.execute("SELECT site, camera, seq, kind FROM privacy_alerts").fetchall()
    assert (SITE, CAM, bypass, "not_in_ledger") in [tuple(a) for a in alerts]
    assert raise_alerts(db, verify_camera(db, SITE, CAM, 0.0, now=time.time() + 1).findings) == 0


def test_enrol_box_cli_and_bad_key(tmp_path: Path) -> None:
    from edge.cli import main

    hub = tmp_path / "hub.toml"
    hub.write_text('database = "hub.sqlite"\n')
    key = generate_private(tmp_path / "k" / BOX_KEY)
    runner = CliRunner()
    args = ["hub", "enrol-box", "--config", str(hub), "--site", SITE, "--camera", CAM]
    r = runner.invoke(main, [*args, "--public-key", public_text(key)])
    assert r.exit_code == 0, r.output
    assert "registered" in r.output
    r = runner.invoke(main, [*args, "--public-key", "ed25519:notbase64!"])
    assert r.exit_code != 0 and "malformed Ed25519 public key" in r.output
    r = runner.invoke(main, [*args[:-1], "Cam/42", "--public-key", public_text(key)])
    assert r.exit_code != 0 and "not a valid identifier" in r.output
    db = hubdb.connect(tmp_path / "hub.sqlite")
    assert db.execute("SELECT public_key FROM devices").fetchall() == [(public_text(key),)]
    assert db.execute("SELECT action, subject FROM audit").fetchall() == [
        ("device.enrol", f"{SITE}/{CAM}")]


def test_digest_survives_broker_outage(tmp_path: Path, broker: LocalBroker) -> None:
    """A digest made while the broker is down waits in the outbox and goes out after."""
    data = tmp_path / "box"
    key = generate_private(keys_dir(data) / BOX_KEY)
    ledger = Ledger(data / "egress-ledger.jsonl")
    egress = Egress(SITE, CAM, BrokerConfig(port=broker.port), ledger)
    outbox = Outbox(data / "outbox.sqlite")
    sender = Sender(outbox, egress, 20)
    digester = Digester(key, SITE, CAM, ledger.path, outbox, data, 3600, sender.wake)
    got: list[bytes] = []
    spy = mqtt.Client(CallbackAPIVersion.VERSION2, client_id="spy", clean_session=False)
    spy.on_message = lambda c, u, m: got.append(m.payload)
    spy.on_connect = lambda c, u, f, rc, p: c.subscribe(topic(SITE, CAM, "ledger"), qos=1)
    spy.connect("127.0.0.1", broker.port)
    spy.loop_start()
    egress.start()
    sender.start()
    try:
        wait_for(egress.connected.is_set, 10, what="egress connection")
        broker.stop()
        wait_for(lambda: not egress.connected.is_set(), 10, what="disconnect")
        assert digester.digest_once() == 1  # the will and the first "online"
        assert outbox.depth_of("ledger") == 1
        restarted = __import__("central.devtools.broker", fromlist=["start_broker"]).start_broker(
            tmp_path / "broker2", port=broker.port)
        try:
            wait_for(lambda: outbox.depth_of("ledger") == 0, 30, what="digest sent after outage")
            wait_for(lambda: got, 10, what="digest received")
        finally:
            sender.stop()
            egress.stop()
            spy.loop_stop()
            restarted.stop()
    finally:
        outbox.close()
    msg = json.loads(got[0])
    validate("ledger", msg)
    assert [e["seq"] for e in msg["entries"]] == [1, 2]
    cursor = json.loads((data / "ledger-digest.json").read_text())
    assert cursor["seq"] == 2


def test_ledger_thread_interval(tmp_path: Path) -> None:
    """The digester's own thread digests every interval, and nothing when nothing was sent."""
    data = tmp_path / "box"
    key = generate_private(keys_dir(data) / BOX_KEY)
    ledger = Ledger(data / "egress-ledger.jsonl")
    outbox = Outbox(data / "outbox.sqlite")
    woke = threading.Event()
    d = Digester(key, SITE, CAM, ledger.path, outbox, data, 0.2, woke.set)
    d.start()
    try:
        ledger.append("mqtt", topic(SITE, CAM, "state"), b"online")
        wait_for(woke.is_set, 5, what="a digest")
        time.sleep(0.6)
        assert outbox.depth_of("ledger") == 1  # no new entry: no new digest
    finally:
        d.stop()
        outbox.close()


def test_clip_uploads_are_receipted_and_verified(tmp_path: Path, media: Path) -> None:
    """A clip PUT through edge.outbound.egress.put_clip (ledgered) verifies; one PUT around the ledger
    with the device's token is reported."""
    import cv2
    import requests

    from central.config import DeviceIdentity, HubClips
    from edge.clips.encode import encode
    from edge.outbound.egress import put_clip
    from edge.wire.messages import uuid7
    from tests.kits.hubkit import event_message, start_hub

    token = "device-token-for-the-ledger-test"
    gen = start_hub(tmp_path, clips=HubClips(dir=tmp_path / "clips"),
                    device_tokens={token: DeviceIdentity(site=SITE, camera=CAM)})
    hub = next(gen)
    try:
        db = hubdb.connect(hub.database)
        key = generate_private(tmp_path / "box" / "keys" / BOX_KEY)
        enrol_device(db, SITE, CAM, public_text(key), "test")
        ids = []
        for _ in range(2):
            msg = {**event_message(), "site": SITE, "camera": CAM, "id": uuid7()}
            hubdb.upsert_event(db, msg, json.dumps(msg))
            ids.append(msg["id"])
        cap = cv2.VideoCapture(str(media / "video" / "traffic_frames.mp4"))
        frames = [cap.read()[1] for _ in range(20)]
        cap.release()
        clips = [encode(frames[i:i + 10], 10.0, tmp_path / f"c{i}.webm", 10_000_000).path.read_bytes()
                 for i in (0, 10)]
        ledger = Ledger(tmp_path / "box" / "egress-ledger.jsonl")
        assert put_clip(ledger, hub.url, token, ids[0], clips[0], 30) == 201
        sha = hashlib.sha256(clips[1]).hexdigest()
        r = requests.put(f"{hub.url}/api/v1/events/{ids[1]}/clip", data=clips[1], timeout=30,
                         headers={"Authorization": f"Bearer {token}", "Content-Type": "video/webm",
                                  "X-Content-SHA256": sha})
        assert r.status_code == 201  # the hub took it: the device token was genuine
        outbox = Outbox(tmp_path / "box" / "outbox.sqlite")
        Digester(key, SITE, CAM, ledger.path, outbox, tmp_path / "box", 60).digest_once()
        [item] = outbox.pending(5)
        ingest = Ingest(HubConfig(database=hub.database))
        digest = json.dumps({**item.body, "seq": 2}).encode()
        assert ingest.handle(topic(SITE, CAM, "ledger"), digest) == "stored"
        report = verify_camera(db, SITE, CAM, grace_s=0.0, now=time.time() + 1)
        assert [(f.kind, f.seq) for f in report.findings] == [("not_in_ledger", None)]
        assert f"/api/v1/events/{ids[1]}/clip" in report.findings[0].detail
        kinds = db.execute("SELECT kind, COUNT(*) FROM receipts GROUP BY kind").fetchall()
        assert dict(kinds) == {"http": 2, "mqtt": 1}
        outbox.close()
    finally:
        next(gen, None)


def test_digest_reads_on_from_its_cursor_and_rescans_a_replaced_ledger(tmp_path: Path) -> None:
    """The cursor keeps the byte offset after the last digested line, so a digest reads only the
    new lines of a ledger that only grows; a ledger replaced under it is read from the top."""
    from edge.outbound.digests import CURSOR_FILE, read_cursor

    data = tmp_path / "box"
    key = generate_private(keys_dir(data) / BOX_KEY)
    ledger = Ledger(data / "egress-ledger.jsonl")
    outbox = Outbox(data / "outbox.sqlite")
    d = Digester(key, SITE, CAM, ledger.path, outbox, data, 60)
    dest = topic(SITE, CAM, "state")
    try:
        for _ in range(3):
            ledger.append("mqtt", dest, b"online")
        assert d.digest_once() == 1
        cursor = read_cursor(data / CURSOR_FILE)
        assert (cursor.seq, cursor.offset) == (3, ledger.path.stat().st_size)
        ledger.append("mqtt", dest, b"online")
        ledger.append("mqtt", dest, b"offline")
        assert d.digest_once() == 1
        assert [e["seq"] for e in last_digest(outbox)["entries"]] == [4, 5]
        # a new ledger of shorter lines, so the old offset falls inside seq 6: read from the top
        ledger.path.unlink()
        fresh = Ledger(ledger.path)
        for _ in range(8):
            fresh.append("http", "/c", b"{}")
        assert d.digest_once() == 1
        assert [e["seq"] for e in last_digest(outbox)["entries"]] == [6, 7, 8]
        assert read_cursor(data / CURSOR_FILE).offset == fresh.path.stat().st_size
    finally:
        outbox.close()


def last_digest(outbox: Outbox) -> dict[str, Any]:
    return outbox.pending(1000, kinds=("ledger",))[-1].body
