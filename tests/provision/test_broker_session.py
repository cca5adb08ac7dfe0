"""The hub's persistent session on the hub role's broker: nothing acknowledged to a box is lost.

Mosquitto runs the role's files (tests/kits/brokerkit.py); the hub side is the real ingest
(central.ingest.subscriber.Ingest) with the role's hub.toml, storing into a real SQLite database; boxes
publish over TLS with their certificates and credentials, as the box's egress does (MQTT 3.1.1,
clean session).
"""

from __future__ import annotations

import queue
import sqlite3
import time
from collections.abc import Iterator
from pathlib import Path

import paho.mqtt.client as mqtt
import pytest

from central.config import HubConfig, load
from central.ingest.subscriber import Ingest
from edge.wire.messages import EventMessage, ObjectRef, encode, topic, utc_iso, uuid7
from tests.conftest import wait_for
from tests.kits.brokerkit import Client, RoleBroker, box_client

MODEL_SHA = "e8" * 32


def events(site: str, camera: str, n: int) -> list[tuple[str, bytes]]:
    """``n`` distinct event starts of ``site/camera`` (the size a box sends, ~600 bytes)."""
    now = utc_iso(time.time())
    out = []
    for seq in range(1, n + 1):
        ev = EventMessage(id=uuid7(), site=site, camera=camera, type="intrusion", state="start",
                          severity="warning", started_at=now, ended_at=None, zone="parvis",
                          objects=(ObjectRef("person", 0.87, (0.41, 0.52, 0.12, 0.3)),),
                          measure={"dwell_s": 12.0}, model_name="yolox-nano", model_sha256=MODEL_SHA)
        out.append((topic(site, camera, "event"), encode(ev.to_wire(seq))))
    return out


class Hub:
    """The hub's ingest on the role's hub.toml, started and stopped as the service would be."""

    def __init__(self, broker: RoleBroker, tmp: Path):
        role = load(broker.fleet.mosq / "hub.toml")
        self.cfg: HubConfig = role.model_copy(update={
            "database": tmp / "hub.sqlite",
            "broker": role.broker.model_copy(update={"port": broker.local_port})})
        self.ingest: Ingest | None = None

    def start(self) -> None:
        self.ingest = Ingest(self.cfg)
        self.ingest.start()
        assert self.ingest.connected.wait(20), "the hub's ingest did not connect"

    def stop(self) -> None:
        if self.ingest is not None:
            self.ingest.stop()
            self.ingest = None

    def stored(self) -> int:
        con = sqlite3.connect(self.cfg.database, timeout=10)
        try:
            return int(con.execute("SELECT COUNT(*) FROM events WHERE type != 'camera_silent'")
                       .fetchone()[0])
        finally:
            con.close()


@pytest.fixture
def hub(role_broker: RoleBroker, tmp_path: Path) -> Iterator[Hub]:
    """The hub's persistent session exists (the ingest ran once) and is offline."""
    h = Hub(role_broker, tmp_path)
    h.start()
    h.stop()
    yield h
    h.stop()


def test_hub_outage_keeps_12000_acknowledged_events(role_broker: RoleBroker, hub: Hub) -> None:
    """The role's old limit (max_queued_messages 10000) kept 10,000 of these."""
    box = box_client(role_broker, "marseille", "cam-042", protocol=mqtt.MQTTv311)
    assert box.connect() == 0
    sent = events("marseille", "cam-042", 12_000)
    try:
        assert box.publish_many(sent) == [0] * len(sent), "every event acknowledged to the box"
    finally:
        box.close()
    hub.start()
    wait_for(lambda: hub.stored() >= len(sent), 240, interval=0.5, what="12,000 events at the hub")
    hub.stop()
    assert hub.stored() == len(sent)


def test_queue_survives_a_broker_restart(role_broker: RoleBroker, hub: Hub) -> None:
    """A clean stop writes the hub's queue to disk; the restarted broker delivers it."""
    box = box_client(role_broker, "lyon", "cam-007", protocol=mqtt.MQTTv311)
    assert box.connect() == 0
    sent = events("lyon", "cam-007", 300)
    try:
        assert box.publish_many(sent) == [0] * len(sent)
    finally:
        box.close()
    role_broker.stop()
    role_broker.start()
    hub.start()
    wait_for(lambda: hub.stored() >= len(sent), 60, interval=0.5, what="the queued events")
    hub.stop()
    assert hub.stored() == len(sent)


def test_box_cannot_take_over_the_hub_session(role_broker: RoleBroker, hub: Hub) -> None:
    """A box's credentials with the hub's client id and a clean session do not discard the
    hub's queue: on TLS the broker uses the box's user name as its client id, and the loopback
    listener the hub uses knows no box."""
    box = box_client(role_broker, "marseille", "cam-042", protocol=mqtt.MQTTv311)
    assert box.connect() == 0
    sent = events("marseille", "cam-042", 5)
    assert box.publish_many(sent) == [0] * 5
    box.close()

    hub_id = hub.cfg.broker.client_id
    thief = box_client(role_broker, "lyon", "cam-007", client_id=hub_id, clean=True,
                       protocol=mqtt.MQTTv311)
    assert thief.connect() == 0, "a box may connect; not as the hub"
    thief.close()
    d = role_broker.fleet.device("lyon", "cam-007")
    local = Client(role_broker.local_port, d.user, d.password, client_id=hub_id, clean=True,
                   protocol=mqtt.MQTTv311)
    assert local.connect() != 0, "a box's credentials are refused on the hub's loopback listener"
    local.close()

    hub.start()
    wait_for(lambda: hub.stored() >= 5, 60, interval=0.5, what="the 5 queued events at the hub")
    hub.stop()
    assert hub.stored() == 5


def test_box_cannot_take_another_box_connection(role_broker: RoleBroker) -> None:
    """Box B with box A's client id (the one A's egress uses, or A's user name) does not
    disconnect A."""
    a = box_client(role_broker, "marseille", "cam-042", client_id="vigie-marseille-cam-042",
                   protocol=mqtt.MQTTv311)
    assert a.connect() == 0
    thieves = []
    try:
        for stolen in ("vigie-marseille-cam-042", "marseille/cam-042"):
            b = box_client(role_broker, "lyon", "cam-007", client_id=stolen, protocol=mqtt.MQTTv311)
            thieves.append(b)
            assert b.connect() == 0
            assert b.publish(topic("lyon", "cam-007", "health")) == 0
        assert a.publish(topic("marseille", "cam-042", "health")) == 0
        with pytest.raises(queue.Empty):
            a.disconnects.get(timeout=2)  # the broker never closed A's connection
    finally:
        for c in (a, *thieves):
            c.close()
