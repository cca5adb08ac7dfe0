"""A real Mosquitto configured by the hub role's templates confines each box to its own topics.

The pki role issues the CA, the broker's certificate and each camera's certificate and MQTT
password; the hub role's Mosquitto tasks write the listeners, the ACL and the hashed password
file; Mosquitto runs with exactly those files. Boxes connect as in production: TLS with a client
certificate, user ``<site>/<camera>`` and its password, MQTT v5 (so refusals carry a reason code).
"""

from __future__ import annotations

import queue
import ssl
import subprocess
import uuid
from collections.abc import Iterator
from pathlib import Path

import paho.mqtt.client as mqtt
import pytest
from paho.mqtt.enums import CallbackAPIVersion

from central.broker import free_port, mosquitto_path, wait_port
from edge.egress import ALLOWED_SUFFIXES
from tests.provision import kit

NOT_AUTHORIZED = 0x87
BOXES = {"box-a": ("marseille", ["cam-042", "cam-043"]), "box-b": ("lyon", ["cam-007"])}


class Client:
    """A paho MQTT v5 client over TLS that records what it receives and its acks."""

    def __init__(self, port: int, pki: Path, user: str, password: str, cert_dir: Path | None):
        self.messages: queue.Queue[tuple[str, bytes]] = queue.Queue()
        self.acks: queue.Queue[tuple[int, int]] = queue.Queue()
        self.subacks: queue.Queue[list[int]] = queue.Queue()
        self.connected: queue.Queue[int] = queue.Queue()
        self.c = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=f"t-{uuid.uuid4().hex[:8]}",
                             protocol=mqtt.MQTTv5)
        self.c.username_pw_set(user, password)
        self.c.tls_set(ca_certs=str(pki / "ca/ca.pem"),
                       certfile=str(cert_dir / "cert.pem") if cert_dir else None,
                       keyfile=str(cert_dir / "key.pem") if cert_dir else None)
        self.c.on_connect = lambda c, u, f, rc, p: self.connected.put(rc.value)
        # A refused CONNECT may surface as a disconnect only: report its reason code too.
        self.c.on_disconnect = lambda c, u, f, rc, p: self.connected.put(rc.value or -1)
        self.c.on_message = lambda c, u, m: self.messages.put((m.topic, m.payload))
        self.c.on_publish = lambda c, u, mid, rc, p: self.acks.put((mid, rc.value))
        self.c.on_subscribe = lambda c, u, mid, rcs, p: self.subacks.put([r.value for r in rcs])
        self.port = port

    def connect(self) -> int:
        self.c.connect("localhost", self.port, keepalive=10)
        self.c.loop_start()
        return self.connected.get(timeout=10)

    def publish(self, topic: str, payload: bytes = b"{}", retain: bool = False) -> int:
        """Publish at QoS 1; the broker's PUBACK reason code (0 accepted, 0x87 refused)."""
        info = self.c.publish(topic, payload, qos=1, retain=retain)
        mid, rc = self.acks.get(timeout=10)
        assert mid == info.mid
        return rc

    def subscribe(self, topic: str) -> list[int]:
        self.c.subscribe(topic, qos=1)
        return self.subacks.get(timeout=10)

    def received(self, timeout: float = 1.0) -> list[tuple[str, bytes]]:
        out = []
        try:
            while True:
                out.append(self.messages.get(timeout=timeout))
                timeout = 0.2
        except queue.Empty:
            return out

    def close(self) -> None:
        self.c.disconnect()
        self.c.loop_stop()


@pytest.fixture(scope="module")
def fleet_broker(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[int, Path, Path]]:
    """Mosquitto running the hub role's files; yields (TLS port, pki dir, mosquitto dir)."""
    exe = mosquitto_path()
    if exe is None:
        pytest.fail("Mosquitto is not installed: run `make test` as root or apt-get install mosquitto")
    tmp = tmp_path_factory.mktemp("fleet")
    pki, mosq = tmp / "pki", tmp / "mosquitto"
    tls_port, local_port = free_port(), free_port()
    hosts = {name: {"vigie_site": site, "edge_box_cameras": [{"name": c} for c in cams]}
             for name, (site, cams) in BOXES.items()}
    inventory = kit.write_yaml(tmp / "hosts.yml", {"all": {"children": {
        "edge_boxes": {"hosts": hosts}}}})
    extra = {"pki_dir": str(pki), "hub_pki_dir": str(pki), "hub_manage_services": False,
             "hub_mosquitto_dir": str(mosq), "hub_mosquitto_conf": str(mosq / "vigie.conf"),
             "hub_mosquitto_user": "root", "hub_mosquitto_run_user": "root",
             "hub_mosquitto_log_dest": "stderr", "hub_broker_port": tls_port,
             "hub_broker_bind": "127.0.0.1", "hub_broker_local_port": local_port}
    extra_file = kit.write_yaml(tmp / "extra.yml", extra)
    rc, out = kit.run_playbook(kit.ROOT / "tests/provision/broker.yml", inventory, tmp / "run.log",
                               "-e", f"@{extra_file}")
    assert rc == 0, out[-5000:]
    log = (tmp / "mosquitto.log").open("wb")
    proc = subprocess.Popen([exe, "-c", str(mosq / "vigie.conf")], stdout=log, stderr=subprocess.STDOUT)
    try:
        assert wait_port(tls_port, 15, proc), (tmp / "mosquitto.log").read_text()
        yield tls_port, pki, mosq
    finally:
        proc.terminate()
        proc.wait(10)
        log.close()


def _password(pki: Path, site: str, camera: str) -> str:
    return (pki / f"devices/{site}/{camera}/mqtt.password").read_text().strip()


def _box(port: int, pki: Path, site: str, camera: str) -> Client:
    c = Client(port, pki, f"{site}/{camera}", _password(pki, site, camera), pki / f"devices/{site}/{camera}")
    assert c.connect() == 0
    return c


def _hub(port: int, pki: Path) -> Client:
    c = Client(port, pki, "vigie-hub", (pki / "hub/mqtt.password").read_text().strip(), pki / "hub")
    assert c.connect() == 0
    return c


def test_files_written_by_the_role(fleet_broker: tuple[int, Path, Path]) -> None:
    _port, pki, mosq = fleet_broker
    passwd = (mosq / "passwd").read_text()
    users = sorted(line.split(":")[0] for line in passwd.splitlines() if line)
    assert users == ["lyon/cam-007", "marseille/cam-042", "marseille/cam-043", "vigie-hub"]
    assert all(line.split(":", 1)[1].startswith("$7$") for line in passwd.splitlines() if line)  # hashed
    assert _password(pki, "marseille", "cam-042") not in passwd
    acl = (mosq / "acl").read_text()
    granted = {line.split("vigie/v1/%u/")[1] for line in acl.splitlines() if line.startswith("pattern write")}
    assert set(ALLOWED_SUFFIXES) <= granted, "the ACL must let a box publish what egress sends"
    assert "config" not in granted and "search/req" not in granted


def test_box_confined_to_its_own_topics(fleet_broker: tuple[int, Path, Path]) -> None:
    port, pki, _ = fleet_broker
    hub = _hub(port, pki)
    a = _box(port, pki, "marseille", "cam-042")
    b = _box(port, pki, "lyon", "cam-007")
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


def test_wrong_credentials_refused(fleet_broker: tuple[int, Path, Path]) -> None:
    port, pki, _ = fleet_broker
    cam = pki / "devices/marseille/cam-042"
    # Another camera's password with this camera's name; no password; an unknown user.
    for user, password in (("marseille/cam-042", _password(pki, "lyon", "cam-007")),
                           ("marseille/cam-042", ""), ("intruder", "x" * 32)):
        c = Client(port, pki, user, password, cam)
        assert c.connect() != 0, user
        c.close()
    # No client certificate: the TLS handshake fails before MQTT.
    c = Client(port, pki, "marseille/cam-042", _password(pki, "marseille", "cam-042"), None)
    with pytest.raises((ssl.SSLError, OSError)):
        c.connect()
        c.c.loop_stop()
        raise OSError("connected without a client certificate")  # pragma: no cover - the failure


def test_hub_config_maps_device_tokens(fleet_broker: tuple[int, Path, Path]) -> None:
    """The hub role's hub.toml loads, with the hub's MQTT credentials and each camera's token."""
    from central.config import load

    _port, pki, mosq = fleet_broker
    cfg = load(mosq / "hub.toml")
    assert cfg.broker.username == "vigie-hub"
    assert cfg.broker.password == (pki / "hub/mqtt.password").read_text().strip()
    expected = {(pki / f"devices/{site}/{cam}/device.token").read_text().strip(): (site, cam)
                for site, cams in BOXES.values() for cam in cams}
    assert {t: (d.site, d.camera) for t, d in cfg.device_tokens.items()} == expected
