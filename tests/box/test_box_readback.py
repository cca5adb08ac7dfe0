"""What the box reads back from its own disk is parsed as hostile: a corrupt outbox row, a
ledger line of 10,000 brackets or ``{"seq": 1e400}`` must not stop the sender or the digests,
and a rule's ``NaN`` must neither reach the wire nor cost the event."""

from __future__ import annotations

import json
import math
import sqlite3
import time
from pathlib import Path

import paho.mqtt.client as mqtt
import pytest
from click.testing import CliRunner
from paho.mqtt.enums import CallbackAPIVersion

from central.devtools.broker import LocalBroker
from edge.cli import main
from edge.config import BrokerConfig
from edge.outbound.digests import Digester
from edge.outbound.egress import Egress, EgressRefused
from edge.outbound.ledger import Ledger
from edge.outbound.outbox import Outbox
from edge.outbound.sender import Sender
from edge.wire.keys import BOX_KEY, generate_private, keys_dir
from edge.wire.messages import MAX_NUMBER, EventMessage, decode, encode, topic, validate
from tests.conftest import wait_for
from tests.kits.samples import sample_event, sample_health

SITE, CAM = "marseille", "cam-042"
CORRUPT: list[bytes] = [
    b"[" * 10_000 + b"]" * 10_000,  # RecursionError in json.loads
    b"\xff\xfe not UTF-8",
    b'{"id": NaN}',
    b"[1, 2, 3]",  # JSON, but not an object
    b'{"objects": "none"}',  # an object, but not a stored event
    b'{"n": ' + b"9" * 5000 + b"}",
]


def stored_event() -> dict[str, object]:
    wire = sample_event()
    msg = EventMessage(
        id=str(wire["id"]), site=SITE, camera=CAM, type="intrusion", state="start",
        severity="warning", started_at=str(wire["started_at"]), ended_at=None, zone=None,
        objects=(), measure={"count": 1.0}, model_name="yolox-nano", model_sha256="e8" * 32)
    return msg.to_json()


def test_corrupt_outbox_rows_are_set_aside_and_the_rest_is_sent(
        tmp_path: Path, broker: LocalBroker) -> None:
    """Six corrupt rows between two events: both events reach the broker, the six rows move to
    the ``unreadable`` table with their reason and count as dropped events."""
    data = tmp_path / "box"
    first, last = stored_event(), stored_event()
    outbox = Outbox(data / "outbox.sqlite")
    outbox.put("event", first)
    outbox.close()
    con = sqlite3.connect(data / "outbox.sqlite")
    con.executemany("INSERT INTO outbox (suffix, body, created) VALUES ('event', ?, ?)",
                    [(body, time.time()) for body in CORRUPT])
    con.commit()
    con.close()
    outbox = Outbox(data / "outbox.sqlite")
    outbox.put("event", last)
    got: list[dict[str, object]] = []
    spy = mqtt.Client(CallbackAPIVersion.VERSION2, client_id="spy")
    spy.on_message = lambda c, u, m: got.append(decode("event", m.payload, SITE, CAM))
    spy.on_connect = lambda c, u, f, rc, p: c.subscribe(topic(SITE, CAM, "event"), qos=1)
    spy.connect("127.0.0.1", broker.port)
    spy.loop_start()
    egress = Egress(SITE, CAM, BrokerConfig(port=broker.port), Ledger(data / "egress-ledger.jsonl"))
    sender = Sender(outbox, egress, 20)
    try:
        wait_for(spy.is_connected, 10, what="spy connection")
        egress.start()
        sender.start()
        wait_for(lambda: len(got) == 2, 30, what="both events at the broker")
        wait_for(lambda: outbox.depth() == 0, 10, what="outbox drained")
        assert [m["id"] for m in got] == [first["id"], last["id"]]
        unreadable = outbox.unreadable()
        assert [kind for _, kind, _ in unreadable] == ["event"] * len(CORRUPT)
        reasons = [why for _, _, why in unreadable]
        assert "nested 10000 deep" in reasons[0] and "UTF-8" in reasons[1]
        assert "non-finite" in reasons[2] and "not an object" in reasons[3]
        assert "not a stored event" in reasons[4] and "digits" in reasons[5]
        assert outbox.dropped() == {"event": len(CORRUPT)}
        assert outbox.bytes_stored() == 0
    finally:
        sender.stop()
        egress.stop()
        spy.loop_stop()
        outbox.close()


HOSTILE_LINES = [
    b"[" * 10_000 + b"]" * 10_000,
    b'{"seq": 1e400}',
    b'{"seq": NaN}',
    b'{"seq": 4, "ts": 1, "kind": "mqtt", "dest": "x", "bytes": 99999999999999999999}',
    b"\xff\xfe",
    b'"just a string"',
]


def test_digest_leaves_out_hostile_ledger_lines(tmp_path: Path) -> None:
    """Each hostile line is left out (the hub sees the gap) and the honest entries are digested;
    before, the first of them stopped every digest for good (RecursionError, OverflowError)."""
    data = tmp_path / "box"
    key = generate_private(keys_dir(data) / BOX_KEY)
    ledger = Ledger(data / "egress-ledger.jsonl")
    outbox = Outbox(data / "outbox.sqlite")
    dest = topic(SITE, CAM, "state")
    try:
        ledger.append("mqtt", dest, b"online")
        with ledger.path.open("ab") as f:
            f.write(b"\n".join(HOSTILE_LINES) + b"\n")
        ledger.append("mqtt", dest, b"offline")
        assert Digester(key, SITE, CAM, ledger.path, outbox, data, 60).digest_once() == 1
        [item] = outbox.pending(5, kinds=("ledger",))
        digest = {**item.body, "seq": 3}
        validate("ledger", digest)
        assert [e["seq"] for e in digest["entries"]] == [1, 2]
        assert digest["head_seq"] == 2
    finally:
        outbox.close()


def test_ledger_export_reports_a_hostile_line(tmp_path: Path) -> None:
    """The on-site inspection command says the chain is broken instead of a traceback."""
    data = tmp_path / "box-data"
    ledger = Ledger(data / "egress-ledger.jsonl")
    ledger.append("mqtt", topic("test", "cam-01", "state"), b"online")
    with ledger.path.open("ab") as f:
        f.write(b"[" * 2000 + b"]" * 2000 + b"\n")  # 4 KB: RecursionError in json.loads
    box = tmp_path / "box.toml"
    box.write_text(f'site = "test"\ncamera = "cam-01"\ndata_dir = "{data}"\n'
                   '[source]\nurl = "rtsp://127.0.0.1/none"\n')
    r = CliRunner().invoke(main, ["edge", "ledger", "export", str(box), "-o", str(tmp_path / "x")])
    assert r.exit_code == 0, r.output
    assert "2 entries" in r.output and "CHAIN BROKEN" in r.output and "nested 2000 deep" in r.output


def test_non_finite_measure_is_left_out_and_the_event_kept() -> None:
    msg = EventMessage(
        id="0192f0c1-0000-7000-8000-000000000000", site=SITE, camera=CAM, type="crowd_movement",
        state="start", severity="warning", started_at="2026-11-24T10:00:00.000Z", ended_at=None,
        zone=None, objects=(), measure={"speed": math.nan, "baseline": math.inf, "moving": 3.0,
                                        "huge": 1e300, "low": -1e300},
        model_name="yolox-nano", model_sha256="e8" * 32)
    assert msg.measure == {"moving": 3.0, "huge": MAX_NUMBER, "low": -MAX_NUMBER}
    wire = msg.to_wire(7)
    validate("event", wire)
    assert decode("event", encode(wire), SITE, CAM) == wire
    assert EventMessage.from_json(json.loads(json.dumps(msg.to_json()))) == msg


def test_egress_refuses_a_non_finite_number(tmp_path: Path) -> None:
    """``NaN`` is not JSON: before, a health message carrying it went out as the text NaN."""
    egress = Egress(SITE, CAM, BrokerConfig(port=1), Ledger(tmp_path / "egress-ledger.jsonl"))
    try:
        for field, value in (("fps_in", math.nan), ("uptime_s", math.inf)):
            with pytest.raises(EgressRefused):
                egress.publish("health", {**sample_health(), field: value})
    finally:
        egress.client.loop_stop()
