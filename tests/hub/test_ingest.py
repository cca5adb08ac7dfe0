"""Hub ingest over a real Mosquitto: malformed payloads are refused, logged and never stored."""

from __future__ import annotations

import json
import logging
from pathlib import Path

import paho.mqtt.client as mqtt
import pytest
from paho.mqtt.enums import CallbackAPIVersion

from central import db as hubdb
from central.config import HubBroker, HubConfig
from central.devtools.broker import LocalBroker
from central.ingest.subscriber import Ingest
from edge.wire.messages import encode, uuid7
from tests.conftest import wait_for
from tests.kits.samples import sample_event

TOPIC = "vigie/v1/marseille/cam-042/event"


def malformed() -> list[tuple[str, bytes, str]]:
    """(topic, payload, what) — every one must be refused."""
    good = sample_event()
    cases: list[tuple[str, bytes, str]] = [
        (TOPIC, b"not json at all", "not JSON"),
        (TOPIC, b"\xff\xfe\x00garbage", "binary"),
        (TOPIC, b"", "empty"),
        (TOPIC, b"[]", "array"),
        (TOPIC, b'"a string"', "string"),
        (TOPIC, b"{" + b'"a":' * 10 + b"}", "broken JSON"),
        (TOPIC, b'{"schema": "vigie.event/1"' + b" " * (1024 * 1024) + b"}", "1 MB payload"),
        ("vigie/v1/marseille/cam-043/event", encode(good), "camera does not match topic"),
        ("vigie/v1/other-site/cam-042/event", encode(good), "site does not match topic"),
        ("vigie/v1/marseille/cam-042/video", encode(good), "unknown suffix"),
        (TOPIC, encode({**good, "thumbnail": "iVBORw0KGgo="}), "unknown field"),
        (TOPIC, encode({**good, "objects": [{**good["objects"][0], "gender": "f"}]}), "nested unknown field"),  # type: ignore[index]
        (TOPIC, encode({**good, "seq": "12"}), "wrong type seq"),
        (TOPIC, encode({**good, "objects": "car"}), "wrong type objects"),
        (TOPIC, encode({**good, "state": "middle"}), "bad enum"),
        (TOPIC, encode({**good, "id": "not-a-uuid"}), "bad id"),
        (TOPIC, encode({**good, "schema": "vigie.event/2"}), "wrong schema version"),
        ("vigie/v1/marseille/cam-042/state", b"rebooting", "bad state"),
        ("vigie/v1/marseille/cam-042/health", b'{"fps": 3}', "bad health"),
    ]
    for field in ("id", "type", "started_at", "model", "clip", "seq"):
        broken = dict(good)
        del broken[field]
        cases.append((TOPIC, encode(broken), f"missing {field}"))
    return cases


@pytest.fixture
def ingest(tmp_path: Path, broker: LocalBroker):  # type: ignore[no-untyped-def]
    cfg = HubConfig(database=tmp_path / "hub.sqlite", broker=HubBroker(port=broker.port))
    ing = Ingest(cfg)
    ing.start()
    wait_for(ing.connected.is_set, 10, what="ingest connection")
    yield ing
    ing.stop()


def publisher(port: int) -> mqtt.Client:
    c = mqtt.Client(CallbackAPIVersion.VERSION2, client_id="test-pub")
    c.connect("127.0.0.1", port)
    c.loop_start()
    return c


def test_malformed_payloads_are_refused_logged_and_not_stored(
    ingest: Ingest, broker: LocalBroker, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING, logger="central.ingest.quarantine")
    cases = malformed()
    assert len(cases) >= 20
    pub = publisher(broker.port)
    for topic, payload, _ in cases:
        pub.publish(topic, payload, qos=1).wait_for_publish(5)
    good = sample_event(id=uuid7())
    pub.publish(TOPIC, encode(good), qos=1).wait_for_publish(5)
    wait_for(lambda: ingest.counts["stored"] >= 1, 10, what="the valid event")
    wait_for(lambda: ingest.counts["rejected"] >= len(cases), 10, what="all rejections")
    pub.loop_stop()

    db = hubdb.connect(ingest.cfg.database)
    assert [r["id"] for r in db.query("SELECT id FROM events")] == [good["id"]]
    rejected = list(db.query("SELECT topic, reason, sha256, category FROM quarantine"))
    assert len(rejected) == len(cases)
    assert all(r["reason"] for r in rejected)
    logged = [r.getMessage() for r in caplog.records if "rejected message" in r.getMessage()]
    assert len(logged) == len(cases)
    reasons = " | ".join(logged)
    for fragment in ("not JSON", "exceeds", "published under", "not ingested",
                     "Additional properties are not allowed", "is a required property",
                     "is not of type", "state payload must be"):
        assert fragment in reasons, fragment
    assert ingest.client.is_connected()


def test_ingest_is_idempotent_and_end_updates_start(tmp_path: Path) -> None:
    ing = Ingest(HubConfig(database=tmp_path / "hub.sqlite"))
    start = sample_event()
    assert ing.handle(TOPIC, encode(start)) == "stored"
    assert ing.handle(TOPIC, encode(start)) == "duplicate"
    end = {**start, "state": "end", "ended_at": "2026-11-23T10:15:09.000Z", "seq": start["seq"] + 1}  # type: ignore[operator]
    assert ing.handle(TOPIC, encode(end)) == "stored"
    assert ing.handle(TOPIC, encode(start)) == "duplicate"  # a late redelivered start changes nothing
    rows = list(ing.db.query("SELECT state, ended_at, status, payload FROM events"))
    assert len(rows) == 1
    assert rows[0]["state"] == "end" and rows[0]["ended_at"] == "2026-11-23T10:15:09.000Z"
    assert json.loads(rows[0]["payload"])["id"] == start["id"]


def test_state_and_health_update_cameras(tmp_path: Path) -> None:
    ing = Ingest(HubConfig(database=tmp_path / "hub.sqlite"))
    assert ing.handle("vigie/v1/marseille/cam-042/state", b"online") == "stored"
    row = next(ing.db.query("SELECT * FROM cameras"))
    assert row["state"] == "online" and row["key"] == "marseille/cam-042"
