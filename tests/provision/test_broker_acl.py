"""A real Mosquitto configured by the hub role's templates confines each box to its own topics.

The pki role issues the CA, the broker's certificate and each camera's certificate and MQTT
password; the hub role's Mosquitto tasks write the listeners, the ACL and the hashed password
files; Mosquitto runs with exactly those files (tests/kits/brokerkit.py). Boxes connect as in
production: TLS with a client certificate, user ``<site>/<camera>`` and its password, MQTT v5 (so
refusals carry a reason code); the hub connects on the loopback listener with its own user.
"""

from __future__ import annotations

import ssl

import pytest

from central.devtools.broker import start_broker
from edge.outbound.egress import ALLOWED_SUFFIXES
from edge.wire.messages import MAX_PAYLOAD_BYTES
from tests.kits.brokerkit import FLEET, Client, Fleet, RoleBroker, box_client, hub_client

NOT_AUTHORIZED = 0x87
QUEUE_SETTINGS = ("max_queued_messages", "max_queued_bytes", "max_inflight_messages",
                  "autosave_interval", "persistence")


def _box(broker: RoleBroker, site: str, camera: str) -> Client:
    c = box_client(broker, site, camera)
    assert c.connect() == 0
    return c


def _hub(broker: RoleBroker) -> Client:
    c = hub_client(broker)
    assert c.connect() == 0
    return c


def _users(path_text: str) -> list[str]:
    return sorted(line.split(":")[0] for line in path_text.splitlines() if line)


def test_files_written_by_the_role(fleet: Fleet) -> None:
    boxes = (fleet.mosq / "passwd").read_text()
    hub = (fleet.mosq / "passwd-hub").read_text()
    assert _users(boxes) == sorted(f"{site}/{c}" for site, cams in FLEET.values() for c in cams)
    assert _users(hub) == ["vigie-hub"], "the loopback listener knows only the hub"
    for text in (boxes, hub):
        assert all(line.split(":", 1)[1].startswith("$7$") for line in text.splitlines() if line)
    assert fleet.device("marseille", "cam-042").password not in boxes  # hashed
    acl = (fleet.mosq / "acl").read_text()
    granted = {line.split("vigie/v1/%u/")[1] for line in acl.splitlines() if line.startswith("pattern write")}
    assert set(ALLOWED_SUFFIXES) <= granted, "the ACL must let a box publish what egress sends"
    assert "config" not in granted and "search/req" not in granted
    main = (fleet.mosq / "mosquitto.conf").read_text()
    assert [ln for ln in main.splitlines() if ln and not ln.startswith("#")] == [
        f"include_dir {fleet.mosq}"], "every setting is in the Vigie file the tests run"


def _settings(text: str) -> dict[str, str]:
    return {k: v for k, _, v in (ln.partition(" ") for ln in text.splitlines()) if k in QUEUE_SETTINGS}


def test_local_broker_has_the_role_queue_settings(fleet: Fleet, tmp_path) -> None:  # type: ignore[no-untyped-def]
    """The demo's and the other tests' broker (central.devtools.broker.start_broker) queues as the role's."""
    role = _settings(fleet.settings())
    assert set(role) == set(QUEUE_SETTINGS)
    local = start_broker(tmp_path / "local")
    try:
        assert _settings((tmp_path / "local/mosquitto.conf").read_text()) == role
    finally:
        local.stop()


def test_box_confined_to_its_own_topics(role_broker: RoleBroker) -> None:
    hub = _hub(role_broker)
    a = _box(role_broker, "marseille", "cam-042")
    b = _box(role_broker, "lyon", "cam-007")
    try:
        assert hub.subscribe("vigie/v1/#") == [1]
        # A box may publish under its own prefix, and the hub receives it.
        assert a.publish("vigie/v1/marseille/cam-042/event", b"own") == 0
        assert ("vigie/v1/marseille/cam-042/event", b"own") in hub.received()
        # Not under another camera's prefix, same site or not, nor on its own config topic.
        for topic in ("vigie/v1/marseille/cam-043/event", "vigie/v1/lyon/cam-007/event",
                      "vigie/v1/marseille/cam-042/config", "vigie/v1/other"):
            assert a.publish(topic, b"forged") == NOT_AUTHORIZED, topic
        assert all(payload != b"forged" for _t, payload in hub.received())

        # A box reads its own config; not another box's, not the other boxes' events.
        assert a.subscribe("vigie/v1/marseille/cam-042/config") == [1]
        wild = a.subscribe("vigie/v1/#")
        other = a.subscribe("vigie/v1/lyon/cam-007/config")
        assert hub.publish("vigie/v1/marseille/cam-042/config", b"cfg-a") == 0
        assert hub.publish("vigie/v1/lyon/cam-007/config", b"cfg-b") == 0
        assert b.publish("vigie/v1/lyon/cam-007/event", b"event-b") == 0
        got = a.received()
        assert ("vigie/v1/marseille/cam-042/config", b"cfg-a") in got
        assert all(payload not in (b"cfg-b", b"event-b") for _t, payload in got), (got, wild, other)
        # The hub may not publish a box's messages either (only config and search requests).
        assert hub.publish("vigie/v1/lyon/cam-007/event", b"x") == NOT_AUTHORIZED
    finally:
        for c in (hub, a, b):
            c.close()


def test_oversized_packet_disconnects_the_box(role_broker: RoleBroker) -> None:
    """A payload over the contract's 64 KiB never reaches the hub's queue: the box is cut off."""
    hub = _hub(role_broker)
    box = _box(role_broker, "marseille", "cam-042")
    try:
        assert hub.subscribe("vigie/v1/#") == [1]
        assert box.publish("vigie/v1/marseille/cam-042/event", b"x" * MAX_PAYLOAD_BYTES) == 0
        assert [len(p) for _, p in hub.received(timeout=5)] == [MAX_PAYLOAD_BYTES]
        box.c.publish("vigie/v1/marseille/cam-042/event", b"x" * (MAX_PAYLOAD_BYTES + 2048), qos=1)
        box.disconnects.get(timeout=10)  # the broker closes the connection
        assert hub.received(timeout=2) == []
    finally:
        hub.close()
        box.close()


def test_wrong_credentials_refused(role_broker: RoleBroker) -> None:
    fleet = role_broker.fleet
    cam, other = fleet.device("marseille", "cam-042"), fleet.device("lyon", "cam-007")
    tls = {"ca": fleet.ca, "cert_dir": cam.cert_dir}
    # Another camera's password with this camera's name; no password; an unknown user; the
    # hub's user over TLS (it connects on the loopback listener only).
    for user, password in ((cam.user, other.password), (cam.user, ""), ("intruder", "x" * 32),
                           (fleet.hub_user, fleet.hub_password)):
        c = Client(role_broker.tls_port, user, password, **tls)  # type: ignore[arg-type]
        assert c.connect() != 0, user
        c.close()
    # A box's credentials on the loopback listener (on the hub itself) are refused too.
    c = Client(role_broker.local_port, cam.user, cam.password)
    assert c.connect() != 0
    c.close()
    # No client certificate: the TLS handshake fails before MQTT.
    c = Client(role_broker.tls_port, cam.user, cam.password, ca=fleet.ca)
    with pytest.raises((ssl.SSLError, OSError)):
        c.connect()
        c.c.loop_stop()
        raise OSError("connected without a client certificate")  # pragma: no cover - the failure


def test_hub_config_maps_device_tokens(fleet: Fleet) -> None:
    """The hub role's hub.toml loads, with the hub's MQTT credentials and each camera's token."""
    from central.config import load

    cfg = load(fleet.mosq / "hub.toml")
    assert cfg.broker.username == "vigie-hub"
    assert cfg.broker.password == fleet.hub_password
    expected = {(fleet.pki / f"devices/{site}/{cam}/device.token").read_text().strip(): (site, cam)
                for site, cams in FLEET.values() for cam in cams}
    assert {t: (d.site, d.camera) for t, d in cfg.device_tokens.items()} == expected
