"""Helpers for the forensic search tests: a box's search worker on a real broker, a hub key,
signed requests, and a listener for answers.

``python -m tests.kits.searchkit CONFIG`` runs the box's real search component (the config's
TOML through :func:`edge.config.load`, its ledger, egress and :class:`edge.search.answer.BoxSearch`)
alone in a process, printing ``READY`` once subscribed: :class:`BoxProcess` starts it, kills
it and starts it again on the same data dir."""

from __future__ import annotations

import json
import logging
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

import paho.mqtt.client as mqtt
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from paho.mqtt.enums import CallbackAPIVersion

from central.forensic.fanout import sign_for
from edge.wire.keys import HUB_PUBLIC_KEY, keys_dir, public_text, write_public
from edge.wire.messages import SEARCH_REQ_SCHEMA_ID, encode, topic, utc_iso, uuid7


def install_hub_key(data_dir: Path, key: Ed25519PrivateKey) -> None:
    """What `vigie edge enrol --hub-key` does: the hub's public key in the box's keys dir."""
    write_public(keys_dir(data_dir) / HUB_PUBLIC_KEY, public_text(key))


def request(site: str = "test", camera: str = "cam-01", start: float | None = None,
            end: float | None = None, expires_in: float = 60.0, **query: Any) -> dict[str, Any]:
    """An unsigned request body (``cameras`` filled in by :func:`signed`)."""
    now = time.time()
    q = {"class": None, "colour": None, "zone": None, "direction": None}
    q.update({k.rstrip("_"): v for k, v in query.items()})
    return {
        "schema": SEARCH_REQ_SCHEMA_ID, "id": uuid7(), "requester": "inspector-ana",
        "case": "PV-2026-0042", "reason": "hit and run, rue de la Republique",
        "issued_at": utc_iso(now), "expires_at": utc_iso(now + expires_in),
        "window": {"start": utc_iso(start if start is not None else now - 3600),
                   "end": utc_iso(end if end is not None else now + 60)},
        "cameras": [{"site": site, "camera": camera}], "query": q, "limit": 100,
    }


def signed(key: Ed25519PrivateKey, body: dict[str, Any], site: str = "test",
           camera: str = "cam-01") -> dict[str, Any]:
    return sign_for(key, {k: v for k, v in body.items() if k != "cameras"}, site, camera)


class Listener:
    """A hub-like MQTT client: publishes requests, collects every ``search/resp`` part."""

    def __init__(self, port: int):
        self.parts: list[dict[str, Any]] = []
        self.topics: list[str] = []
        self._lock = threading.Lock()
        self.ready = threading.Event()
        self.client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=f"listener-{uuid7()[:8]}")
        self.client.on_connect = lambda c, u, f, rc, p: (c.subscribe("vigie/v1/+/+/search/resp", 1),
                                                         self.ready.set())
        self.client.on_message = self._on_message
        self.client.connect("127.0.0.1", port)
        self.client.loop_start()
        assert self.ready.wait(10)
        time.sleep(0.2)  # the SUBACK

    def _on_message(self, c: Any, u: Any, m: mqtt.MQTTMessage) -> None:
        with self._lock:
            self.parts.append(json.loads(m.payload))
            self.topics.append(m.topic)

    def send(self, body: dict[str, Any] | bytes, site: str = "test", camera: str = "cam-01") -> None:
        payload = body if isinstance(body, bytes) else encode(body)
        self.client.publish(topic(site, camera, "search/req"), payload, qos=1).wait_for_publish(5)

    def answer(self, request_id: str, timeout: float = 10.0) -> list[dict[str, Any]]:
        """Every part of the answer to ``request_id`` once its last part is in."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with self._lock:
                got = [p for p in self.parts if p["request_id"] == request_id]
            if any(p["last"] for p in got):
                return sorted(got, key=lambda p: p["part"])
            time.sleep(0.05)
        raise AssertionError(f"no complete answer to {request_id} within {timeout} s")

    def close(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()


class BoxProcess:
    """``python -m tests.kits.searchkit CONFIG`` as a subprocess, its output in ``log`` (a new
    file per process); returns once the box is subscribed."""

    def __init__(self, config: Path, log: Path):
        self.log = log
        self._logf = log.open("ab")
        self.proc = subprocess.Popen([sys.executable, "-m", "tests.kits.searchkit", str(config)],
                                     stdout=self._logf, stderr=subprocess.STDOUT,
                                     env={**os.environ, "PYTHONUNBUFFERED": "1"})
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and "READY" not in self.text():
            assert self.proc.poll() is None, self.text()[-3000:]
            time.sleep(0.1)
        assert "READY" in self.text(), self.text()[-3000:]

    def text(self) -> str:
        return self.log.read_text(errors="replace")

    def kill(self) -> None:
        """SIGKILL: no clean shutdown, nothing flushed that was not already on disk."""
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(10)
        self._logf.close()

    def stop(self) -> int:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)
        self._logf.close()
        return int(self.proc.returncode)


def serve(config: Path) -> None:
    """Run the box's search component from ``config`` until SIGTERM."""
    from edge.config import load
    from edge.outbound.egress import Egress
    from edge.outbound.ledger import Ledger
    from edge.search.answer import BoxSearch

    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s %(message)s")
    cfg = load(config)
    egress = Egress(cfg.site, cfg.camera, cfg.broker, Ledger(cfg.data_dir / "egress-ledger.jsonl"))
    search = BoxSearch(cfg, egress, faces=None)
    egress.client.on_subscribe = lambda *a: print("READY", flush=True)
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *a: stop.set())
    search.start()
    egress.start()
    stop.wait()
    egress.stop()
    search.stop()


if __name__ == "__main__":
    serve(Path(sys.argv[1]))
