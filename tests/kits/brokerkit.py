"""The hub role's Mosquitto for tests: its files rendered once, a broker per test on free ports.

:func:`render_fleet` runs the pki role and the hub role's Mosquitto tasks (tests/provision/
broker.yml) for :data:`FLEET` (once, until a role changes), as on a hub: CA, broker and device
certificates, per-device passwords, the hashed password files, the ACL, the broker settings and
hub.toml.
:class:`RoleBroker` runs ``mosquitto -c`` on a copy of that settings file in which only the two
listener ports (and the TLS listener's address) and the persistence folder differ, so every test
broker has the role's queue limits, persistence, ACL, passwords, client-id rule and TLS.
"""

from __future__ import annotations

import fcntl
import getpass
import hashlib
import json
import queue
import re
import shutil
import socket
import subprocess
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import paho.mqtt.client as mqtt
import pytest
from paho.mqtt.enums import CallbackAPIVersion

from central.devtools.broker import free_port, mosquitto_path, wait_port
from tests.provision import kit

FLEET = {"box-a": ("marseille", ["cam-042", "cam-043"]), "box-b": ("lyon", ["cam-007"]),
         "box-chaos": ("chaos", ["cam-01"])}
"""The test fleet: edge box -> (site, its cameras)."""
HUB_NAME = "hub.vigie.test"
"""The hub's name in its broker certificate (``vigie_hub_name`` on a real fleet)."""
RENDERED_LOCAL_PORT, RENDERED_TLS_PORT = 1883, 8883
"""The ports the role writes (its defaults); each test broker gets free ones instead."""
MAX_AGE_S = 120 * 86400
"""Rendered files older than this are rendered again (the pki role's certificates last 365 days)."""


@dataclass(frozen=True)
class Device:
    """What a box needs to reach the role's broker as ``user`` (``<site>/<camera>``)."""

    user: str
    password: str
    cert_dir: Path


@dataclass(frozen=True)
class Fleet:
    """The files the roles wrote: ``root/pki`` (pki role) and ``root/mosquitto`` (hub role)."""

    root: Path

    @property
    def pki(self) -> Path:
        return self.root / "pki"

    @property
    def mosq(self) -> Path:
        return self.root / "mosquitto"

    @property
    def ca(self) -> Path:
        return self.pki / "ca/ca.pem"

    @property
    def hub_user(self) -> str:
        return "vigie-hub"

    @property
    def hub_password(self) -> str:
        return (self.pki / "hub/mqtt.password").read_text().strip()

    def device(self, site: str, camera: str) -> Device:
        d = self.pki / f"devices/{site}/{camera}"
        return Device(f"{site}/{camera}", (d / "mqtt.password").read_text().strip(), d)

    def settings(self) -> str:
        return (self.mosq / "vigie.conf").read_text()


def render_fleet(cache: Path = kit.CACHE) -> Fleet:
    """The roles' files for :data:`FLEET`, rendered by Ansible into a folder of ``cache`` named
    by the sha256 of everything the rendering reads (both roles, the playbook, the inventory,
    the variables): rendered again whenever any of them changes or the certificates near a
    third of their life, else reused (~40 s saved per session)."""
    extra = _extra_vars(Path("ROOT"))
    h = hashlib.sha256(json.dumps([FLEET, extra], sort_keys=True).encode())
    for path in sorted([*(kit.ANSIBLE / "roles/pki").rglob("*"), *(kit.ANSIBLE / "roles/hub").rglob("*"),
                        kit.ANSIBLE / "ansible.cfg", kit.ROOT / "tests/provision/broker.yml"]):
        if path.is_file():
            h.update(str(path.relative_to(kit.ROOT)).encode() + b"\0" + path.read_bytes())
    root = cache / f"fleet-{h.hexdigest()[:16]}"
    cache.mkdir(parents=True, exist_ok=True)
    with (cache / "fleet.lock").open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        done = root / "complete"
        if not done.is_file() or time.time() - done.stat().st_mtime > MAX_AGE_S:
            shutil.rmtree(root, ignore_errors=True)
            root.mkdir()
            _render(root)
            (root / "complete").write_text(h.hexdigest() + "\n")
    return Fleet(root)


def _extra_vars(root: Path) -> dict[str, object]:
    mosq = root / "mosquitto"
    return {"pki_dir": str(root / "pki"), "hub_pki_dir": str(root / "pki"),
            "vigie_hub_name": HUB_NAME, "hub_manage_services": False,
            "hub_mosquitto_dir": str(mosq), "hub_mosquitto_conf": str(mosq / "vigie.conf"),
            "hub_mosquitto_main_conf": str(mosq / "mosquitto.conf"),
            "hub_mosquitto_user": "root", "hub_mosquitto_run_user": getpass.getuser(),
            "hub_mosquitto_log_dest": "stderr", "hub_mosquitto_pid_file": "",
            "hub_broker_port": RENDERED_TLS_PORT, "hub_broker_bind": "127.0.0.1",
            "hub_broker_local_port": RENDERED_LOCAL_PORT}


def _render(root: Path) -> None:
    """Run the pki role and the hub role's Mosquitto tasks into ``root`` (no service managed)."""
    hosts = {name: {"vigie_site": site, "edge_box_cameras": [{"name": c} for c in cams]}
             for name, (site, cams) in FLEET.items()}
    inventory = kit.write_yaml(root / "hosts.yml", {"all": {"children": {
        "edge_boxes": {"hosts": hosts}}}})
    extra = _extra_vars(root)
    extra_file = kit.write_yaml(root / "extra.yml", extra)
    rc, out = kit.run_playbook(kit.ROOT / "tests/provision/broker.yml", inventory, root / "run.log",
                               "-e", f"@{extra_file}")
    if rc != 0:
        pytest.fail(f"the pki and hub roles failed to write the broker's files:\n{out[-5000:]}")


def localise(settings: str, local_port: int, tls_port: int, tls_bind: str, persistence: Path) -> str:
    """The role's settings with this broker's ports, TLS address and persistence folder."""
    rules = [(rf"^listener {RENDERED_LOCAL_PORT} 127\.0\.0\.1$", f"listener {local_port} 127.0.0.1"),
             (rf"^listener {RENDERED_TLS_PORT} 127\.0\.0\.1$", f"listener {tls_port} {tls_bind}"),
             (r"^persistence_location .*$", f"persistence_location {persistence}/")]
    for pattern, line in rules:
        settings, n = re.subn(pattern, line, settings, flags=re.M)
        assert n == 1, f"the role's Mosquitto settings have no line matching {pattern!r}"
    return settings


@dataclass
class RoleBroker:
    """Mosquitto on the role's settings: hub users on ``local_port`` (loopback), boxes over TLS
    on ``tls_port`` at ``tls_bind``. Persistence in ``workdir``, so a restart keeps sessions."""

    fleet: Fleet
    workdir: Path
    tls_bind: str = "127.0.0.1"
    local_port: int = field(default_factory=free_port)
    tls_port: int = field(default_factory=free_port)
    proc: subprocess.Popen[bytes] | None = None

    def start(self) -> RoleBroker:
        exe = mosquitto_path()
        if exe is None:
            pytest.fail("Mosquitto is not installed: run `make test` as root or apt-get install mosquitto")
        self.workdir.mkdir(parents=True, exist_ok=True)
        conf = self.workdir / "vigie.conf"
        conf.write_text(localise(self.fleet.settings(), self.local_port, self.tls_port, self.tls_bind,
                                 self.workdir))
        with (self.workdir / "broker.log").open("ab") as log:
            self.proc = subprocess.Popen([exe, "-c", str(conf)], stdout=log, stderr=subprocess.STDOUT,
                                         cwd=self.workdir)
        if not (wait_port(self.local_port, 15, self.proc) and self._tls_up()):
            self.kill()
            raise AssertionError(f"the role's Mosquitto did not start:\n{self.log()[-3000:]}")
        return self

    def _tls_up(self, timeout: float = 15) -> bool:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline and self.alive():
            try:
                with socket.create_connection((self.tls_bind, self.tls_port), timeout=0.5):
                    return True
            except OSError:
                time.sleep(0.05)
        return False

    def log(self) -> str:
        path = self.workdir / "broker.log"
        return path.read_text(errors="replace") if path.exists() else ""

    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def stop(self) -> None:
        """A clean stop: Mosquitto writes its sessions and queues to disk first."""
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)

    def kill(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(5)

    def box_broker_toml(self, site: str, camera: str, host: str = "127.0.0.1") -> str:
        """A box config's ``[broker]`` table body: TLS with its certificate, its user."""
        d = self.fleet.device(site, camera)
        return (f'host = "{host}"\nport = {self.tls_port}\nusername = "{d.user}"\n'
                f'password = "{d.password}"\ntls_ca = "{self.fleet.ca}"\n'
                f'tls_cert = "{d.cert_dir / "cert.pem"}"\ntls_key = "{d.cert_dir / "key.pem"}"\n')

    def hub_broker_toml(self) -> str:
        """A hub config's ``[broker]`` table body: the loopback listener, the hub's user."""
        return (f'host = "127.0.0.1"\nport = {self.local_port}\nusername = "{self.fleet.hub_user}"\n'
                f'password = "{self.fleet.hub_password}"\n')


class Client:
    """A paho client that records what it receives, its PUBACKs, SUBACKs and connection codes.

    TLS when ``ca`` is given (with the certificate and key in ``cert_dir``); MQTT v5 by default
    (refusals carry a reason code), v3.1.1 with ``clean`` as the box and the hub connect."""

    def __init__(self, port: int, user: str, password: str, *, ca: Path | None = None,
                 cert_dir: Path | None = None, client_id: str | None = None, clean: bool = True,
                 protocol: int = mqtt.MQTTv5):
        self.messages: queue.Queue[tuple[str, bytes]] = queue.Queue()
        self.acks: queue.Queue[tuple[int, int]] = queue.Queue()
        self.subacks: queue.Queue[list[int]] = queue.Queue()
        self.connected: queue.Queue[int] = queue.Queue()
        self.disconnects: queue.Queue[int] = queue.Queue()
        self.clean = clean
        self.v5 = protocol == mqtt.MQTTv5
        kwargs = {} if self.v5 else {"clean_session": clean}
        self.c = mqtt.Client(CallbackAPIVersion.VERSION2,
                             client_id=client_id or f"t-{uuid.uuid4().hex[:8]}",
                             protocol=protocol, **kwargs)  # type: ignore[arg-type]
        self.c.username_pw_set(user, password)
        self.c.max_inflight_messages_set(200)  # for publish_many
        if ca is not None:
            self.c.tls_set(ca_certs=str(ca),
                           certfile=str(cert_dir / "cert.pem") if cert_dir else None,
                           keyfile=str(cert_dir / "key.pem") if cert_dir else None)
        self.c.on_connect = lambda c, u, f, rc, p: self.connected.put(rc.value)
        self.c.on_disconnect = self._on_disconnect
        self.c.on_message = lambda c, u, m: self.messages.put((m.topic, m.payload))
        self.c.on_publish = lambda c, u, mid, rc, p: self.acks.put((mid, rc.value))
        self.c.on_subscribe = lambda c, u, mid, rcs, p: self.subacks.put([r.value for r in rcs])
        self.port = port

    def _on_disconnect(self, c: mqtt.Client, u: object, f: object, rc: mqtt.ReasonCode, p: object) -> None:
        # A refused CONNECT may surface as a disconnect only: report its reason code too.
        self.connected.put(rc.value or -1)
        self.disconnects.put(rc.value)

    def connect(self, host: str = "127.0.0.1") -> int:
        """Connect; the CONNACK reason code (0: accepted)."""
        if self.v5:
            self.c.connect(host, self.port, keepalive=10, clean_start=self.clean)
        else:
            self.c.connect(host, self.port, keepalive=10)
        self.c.loop_start()
        return self.connected.get(timeout=10)

    def publish(self, topic: str, payload: bytes = b"{}", retain: bool = False) -> int:
        """Publish at QoS 1; the broker's PUBACK reason code (0 accepted, 0x87 refused)."""
        info = self.c.publish(topic, payload, qos=1, retain=retain)
        mid, rc = self.acks.get(timeout=10)
        assert mid == info.mid
        return rc

    def publish_many(self, messages: list[tuple[str, bytes]], timeout: float = 120) -> list[int]:
        """Publish all at QoS 1 (pipelined); the PUBACK reason codes, in the order they came."""
        for topic, payload in messages:
            self.c.publish(topic, payload, qos=1)
        deadline = time.monotonic() + timeout
        return [self.acks.get(timeout=max(0.1, deadline - time.monotonic()))[1] for _ in messages]

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


def box_client(broker: RoleBroker, site: str, camera: str, **kwargs: Any) -> Client:
    """A client over TLS with ``site/camera``'s certificate and credentials (not connected)."""
    d = broker.fleet.device(site, camera)
    return Client(broker.tls_port, d.user, d.password, ca=broker.fleet.ca, cert_dir=d.cert_dir, **kwargs)


def hub_client(broker: RoleBroker, **kwargs: Any) -> Client:
    """A client on the loopback listener with the hub's credentials (not connected)."""
    return Client(broker.local_port, broker.fleet.hub_user, broker.fleet.hub_password, **kwargs)


class Spy:
    """A subscriber to a box's topics (``prefix``) that keeps every message, raw and parsed."""

    def __init__(self, port: int, prefix: str = "vigie/#", client_id: str = "spy"):
        self.messages: list[tuple[str, Any]] = []
        self.raw: list[tuple[str, bytes]] = []
        self.client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=client_id)
        self.client.on_message = self._on_message
        self.client.connect("127.0.0.1", port)
        self.client.subscribe(prefix, qos=1)
        self.client.loop_start()

    def _on_message(self, c: Any, u: Any, msg: Any) -> None:
        self.raw.append((msg.topic, bytes(msg.payload)))
        body = msg.payload.decode()
        self.messages.append((msg.topic, body if msg.topic.endswith("/state") else json.loads(body)))

    def of(self, suffix: str) -> list[Any]:
        return [m for t, m in list(self.messages) if t.endswith("/" + suffix)]

    def stop(self) -> None:
        self.client.loop_stop()
        self.client.disconnect()
