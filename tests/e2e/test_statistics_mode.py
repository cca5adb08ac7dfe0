"""Statistics mode end to end, and the egress rule that enforces it.

Real Mosquitto, the hub's ingest writing a real SQLite file, and ``vigie edge run`` on the
real video as a subprocess; a separate MQTT client subscribed to everything proves that no
``event`` message was ever published.
"""

from __future__ import annotations

import json
import threading
from pathlib import Path

import paho.mqtt.client as mqtt
import pytest
from paho.mqtt.enums import CallbackAPIVersion

from central import db as hubdb
from central.config import HubBroker, HubConfig
from central.ingest.subscriber import Ingest
from edge.config import BrokerConfig
from edge.modelstore import ModelStore
from edge.outbound.egress import Egress, EgressRefused, put_clip
from edge.outbound.ledger import Ledger
from edge.wire.messages import STATS_SCHEMA_ID, MessageError, uuid7, validate
from tests.conftest import wait_for
from tests.kits import scenes


def _stats_msg(**over: object) -> dict:
    msg = {
        "schema": STATS_SCHEMA_ID, "site": "s1", "camera": "c1",
        "interval_start": "2026-11-24T10:00:00.000Z", "interval_end": "2026-11-24T10:01:00.000Z",
        "lines": [{"line": "exit", "class": "person", "forward": 3, "backward": 0}],
        "zones": [{"zone": "table", "class": "person", "max": 1, "mean": 0.4}],
    }
    msg.update(over)
    return msg


def _event_msg() -> dict:
    return {
        "schema": "vigie.event/1", "id": "01a20e08-7e1b-7f90-9764-f8edd09105c0", "site": "s1",
        "camera": "c1", "type": "intrusion", "state": "start", "severity": "warning",
        "started_at": "2026-11-24T10:00:00.000Z", "ended_at": None, "zone": "table", "objects": [],
        "measure": {"count": 1}, "model": {"name": "yolox-nano", "sha256": "0" * 64},
        "clip": {"status": "none", "sha256": None},
    }


def test_stats_schema_refuses_extra_fields() -> None:
    validate("stats", {**_stats_msg(), "seq": 1})
    with pytest.raises(MessageError, match="Additional properties"):
        validate("stats", {**_stats_msg(), "seq": 1, "track_ids": [1, 2]})
    bad_line = [{"line": "exit", "class": "person", "forward": 1, "backward": 0, "who": "x"}]
    with pytest.raises(MessageError):
        validate("stats", {**_stats_msg(lines=bad_line), "seq": 1})


def test_egress_refuses_events_in_statistics_mode(tmp_path: Path) -> None:
    stats_box = Egress("s1", "c1", BrokerConfig(), Ledger(tmp_path / "a.jsonl"), mode="statistics")
    with pytest.raises(EgressRefused, match="statistics mode"):
        stats_box.publish("event", _event_msg())
    assert stats_box.publish("stats", _stats_msg()) is None  # valid; not connected, so not sent
    alerts_box = Egress("s1", "c1", BrokerConfig(), Ledger(tmp_path / "b.jsonl"))
    assert alerts_box.publish("event", _event_msg()) is None  # the same event is fine in alerts mode


def test_egress_refuses_clips_in_statistics_mode(tmp_path: Path) -> None:
    ledger = Ledger(tmp_path / "l.jsonl")
    webm = b"\x1a\x45\xdf\xa3" + b"\0" * 100
    with pytest.raises(EgressRefused, match="statistics mode"):
        put_clip(ledger, "http://127.0.0.1:9", "tok", uuid7(), webm, 1.0, mode="statistics")
    assert ledger.seq == 0  # refused before anything is ledgered or sent


@pytest.mark.e2e
@pytest.mark.slow
def test_statistics_mode_end_to_end(broker, spawn, model_store: ModelStore, media: Path,  # type: ignore[no-untyped-def]
                                    tmp_path: Path) -> None:
    """The box runs the person video with an intrusion rule that fires six times in alerts
    mode (see test_scenarios), but in statistics mode: the hub gets stats rows, and no
    event message is ever published."""
    topics: list[str] = []
    ready = threading.Event()
    spy = mqtt.Client(CallbackAPIVersion.VERSION2, client_id="spy", protocol=mqtt.MQTTv311)
    spy.on_connect = lambda c, u, f, rc, p: (c.subscribe("vigie/#", qos=1), ready.set())
    spy.on_message = lambda c, u, m: topics.append(m.topic)
    spy.connect("127.0.0.1", broker.port)
    spy.loop_start()
    hub_db = tmp_path / "hub.sqlite"
    ingest = Ingest(HubConfig(database=hub_db, broker=HubBroker(port=broker.port)))
    ingest.start()
    try:
        assert ready.wait(10) and ingest.connected.wait(10)
        box = scenes.write(tmp_path / "box.toml", scenes.box_scene(
            media / scenes.PERSON_VIDEO, site="s1", camera="c1", mode="statistics",
            data_dir=tmp_path / "box", models_dir=model_store.root, broker_port=broker.port,
            health_s=None, stats={"interval_s": 30}, zones=[scenes.TABLE], lines=[scenes.EXIT],
            rules=[scenes.intrusion(classes=None, dwell_s=2, clear_s=3)]))
        agent = spawn("edge", "edge", "run", str(box))
        wait_for(lambda: not agent.alive(), 240, what="the agent to finish the video")
        assert agent.proc.returncode == 0, agent.text()[-3000:]
        db = hubdb.connect(hub_db)
        # 139.4 s of video in 30 s intervals: four full ones and a 19 s remainder.
        rows = wait_for(lambda: (r := list(db.table("stats").rows)) and len(r) >= 5 and r, 20,
                        what="five stats rows at the hub")
        assert len(rows) == 5
        forward = sum(x["forward"] for r in rows for x in json.loads(r["lines"]))
        assert forward == 6, "the six visitors leave across the exit line"
        assert db.table("events").count == 0
    finally:
        ingest.stop()
        spy.loop_stop()
        spy.disconnect()
    suffixes = {t.rsplit("/", 1)[-1] for t in topics}
    assert "stats" in suffixes
    assert "event" not in suffixes, f"an event was published in statistics mode: {topics}"
    ledger = (tmp_path / "box" / "egress-ledger.jsonl").read_text().splitlines()
    assert not [e for e in ledger if json.loads(e)["dest"].endswith("/event")]
