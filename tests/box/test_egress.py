"""Egress: the one way out. Invalid payloads never leave; everything sent is ledgered first."""

from __future__ import annotations

import hashlib
import threading
from pathlib import Path

import paho.mqtt.client as mqtt
import pytest
from paho.mqtt.enums import CallbackAPIVersion

from central.devtools.broker import LocalBroker
from edge.config import BrokerConfig
from edge.outbound.egress import Egress, EgressRefused
from edge.outbound.ledger import Ledger, read, verify_chain
from tests.conftest import wait_for
from tests.kits.samples import sample_event


@pytest.fixture
def egress(tmp_path: Path, broker: LocalBroker):  # type: ignore[no-untyped-def]
    eg = Egress("marseille", "cam-042", BrokerConfig(port=broker.port), Ledger(tmp_path / "l.jsonl"))
    eg.start()
    wait_for(eg.connected.is_set, 10, what="egress connection")
    yield eg
    eg.stop()


def test_sent_bytes_match_ledger_and_invalid_is_refused(
    egress: Egress, broker: LocalBroker, tmp_path: Path
) -> None:
    received: list[tuple[str, bytes]] = []
    got = threading.Event()
    sub = mqtt.Client(CallbackAPIVersion.VERSION2, client_id="spy")

    def on_message(c, u, msg):  # type: ignore[no-untyped-def]
        received.append((msg.topic, msg.payload))
        if msg.topic.endswith("/event"):
            got.set()

    sub.on_message = on_message
    sub.connect("127.0.0.1", broker.port)
    sub.subscribe("vigie/#", qos=1)
    sub.loop_start()
    wait_for(lambda: any(t.endswith("/state") for t, _ in received), 5, what="retained state")

    msg = sample_event()
    del msg["seq"]
    before = egress.ledger.seq
    with pytest.raises(EgressRefused):
        egress.publish("event", {**msg, "frame": "base64..."})
    with pytest.raises(EgressRefused):
        egress.publish("video", {"anything": 1})
    with pytest.raises(EgressRefused):
        egress.publish("event", {**msg, "camera": "cam-999"})
    assert egress.ledger.seq == before  # refused payloads take no ledger entry

    info = egress.publish("event", msg)
    assert info is not None
    info.wait_for_publish(5)
    assert got.wait(5)
    sub.loop_stop()
    topic, payload = next((t, p) for t, p in received if t.endswith("/event"))
    assert topic == "vigie/v1/marseille/cam-042/event"
    entries = list(read(tmp_path / "l.jsonl"))
    verify_chain(entries)
    last = entries[-1]
    assert last.sha256 == hashlib.sha256(payload).hexdigest()
    assert last.dest == topic and last.bytes == len(payload)
    assert b'"seq":%d' % last.seq in payload
    # every received message on the box's prefix is in the ledger
    hashes = {e.sha256 for e in entries}
    assert all(hashlib.sha256(p).hexdigest() in hashes for _, p in received)
