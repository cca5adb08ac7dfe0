"""The box's search component on the broker the hub role writes (TLS, passwords, ACL).

The box runs as its own process with its production credentials (user ``<site>/<camera>``,
its password and client certificate from the pki role); the hub's account sends the requests,
and the retained junk on the box's ``config`` and ``search/req`` topics. A signed request
answered before the box is killed is refused as a replay by the restarted box.
"""

from __future__ import annotations

import json
import queue
import time
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from edge.search.index import IndexRow, TrackIndex
from edge.wire.messages import encode, topic
from tests.kits.brokerkit import Client, RoleBroker, hub_client
from tests.kits.searchkit import BoxProcess, install_hub_key, request, signed

SITE, CAMERA = "marseille", "cam-042"
NO_SUBSCRIBERS = 0x10
"""MQTT v5 PUBACK: accepted, nobody subscribed yet (the box is down; retained it waits)."""


def box_toml(path: Path, data: Path, broker: RoleBroker) -> Path:
    """The fields the edge_box role's camera.toml.j2 writes for a TLS broker."""
    path.write_text("\n".join([
        f'site = "{SITE}"', f'camera = "{CAMERA}"', f'data_dir = "{data}"',
        "[source]", 'url = "unused.mp4"', "[broker]", broker.box_broker_toml(SITE, CAMERA),
    ]), encoding="utf-8")
    return path


def answer(hub: Client, rid: str, timeout: float = 15.0) -> list[dict[str, Any]]:
    """Every ``search/resp`` part for ``rid`` the hub receives, once the last one is in."""
    parts: list[dict[str, Any]] = []
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            _topic, payload = hub.messages.get(timeout=0.2)
        except queue.Empty:
            continue
        part = json.loads(payload)
        if part["request_id"] == rid:
            parts.append(part)
            if part["last"]:
                return sorted(parts, key=lambda p: p["part"])
    raise AssertionError(f"no complete answer to {rid} within {timeout} s (got {parts})")


def test_replay_after_restart_refused_on_the_roles_broker(
    role_broker: RoleBroker, tmp_path: Path
) -> None:
    data = tmp_path / "box"
    key = Ed25519PrivateKey.generate()
    install_hub_key(data, key)
    index = TrackIndex(data / "index.sqlite")
    now = time.time()
    index.add_many([IndexRow("car", now - 300, now - 290, (), "left", "red", 0.8)])
    index.close()
    config = box_toml(tmp_path / "box.toml", data, role_broker)
    hub: Client = hub_client(role_broker)
    assert hub.connect() == 0
    assert hub.subscribe("vigie/v1/+/+/search/resp") == [1]
    box = BoxProcess(config, tmp_path / "box.log")
    req_topic, config_topic = topic(SITE, CAMERA, "search/req"), topic(SITE, CAMERA, "config")
    try:
        req = signed(key, request(class_="car"), site=SITE, camera=CAMERA)
        payload = encode(req)
        assert hub.publish(req_topic, payload) == 0
        (part,) = answer(hub, req["id"])
        assert part["status"] == "results" and len(part["results"]) == 1
        box.kill()
        for t in (config_topic, req_topic):  # the hub's account may write both, retained
            rc = hub.publish(t, b'{"id": ' + b"9" * 5000 + b"}", retain=True)
            assert rc in (0, NO_SUBSCRIBERS)
        box = BoxProcess(config, tmp_path / "box2.log")
        assert hub.publish(req_topic, payload) == 0
        (part,) = answer(hub, req["id"])
        assert part["status"] == "refused" and "replayed request" in part["reason"], part
        assert part["results"] == []
        fresh = signed(key, request(class_="car"), site=SITE, camera=CAMERA)
        assert hub.publish(req_topic, encode(fresh)) == 0
        assert len(answer(hub, fresh["id"])[0]["results"]) == 1
        log = box.text()
        assert any("REFUSED" in line and req["id"] in line and "replayed request" in line
                   for line in log.splitlines()), log[-3000:]
        assert log.count("dropped unread") == 1 and "integer of 5000 digits" in log, log[-3000:]
    finally:
        for t in (config_topic, req_topic):
            hub.publish(t, b"", retain=True)
        hub.close()
        box.stop()
