"""The hub's side of forensic search on MQTT: sign and publish requests, store the answers.

One :class:`SearchFanout` per hub process that serves searches. It publishes each request
to every named camera's own ``search/req`` topic, signed for that camera alone (the request's
``cameras`` lists just that box, so a box that receives it knows it was meant for it; an
Ed25519 signature costs ~0.1 ms, 1,400 of them well under a second). Answers arrive on
``vigie/v1/+/+/search/resp``; paho's thread only queues them, and one writer thread validates
each against ``vigie.search.resp/1`` (site/camera must match the topic, the search must exist
and have asked that camera) and stores it in batched transactions.
"""

from __future__ import annotations

import base64
import json
import logging
import queue
import sqlite3
import threading
import time
from pathlib import Path
from typing import Any

import paho.mqtt.client as mqtt
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from paho.mqtt.enums import CallbackAPIVersion

from central import db as hubdb
from central.config import HubBroker
from edge.keys import sign
from edge.messages import TOPIC_ROOT, MessageError, decode, encode, parse_topic, topic

log = logging.getLogger(__name__)

RESP_SUBSCRIPTION = f"{TOPIC_ROOT}/+/+/search/resp"


class FanoutError(Exception):
    """The broker cannot be reached or refused the hub; the text says which."""


def sign_for(key: Ed25519PrivateKey, body: dict[str, Any], site: str, camera: str) -> dict[str, Any]:
    """The request for one camera: ``cameras`` is that camera only, then the signature."""
    req = {**body, "cameras": [{"site": site, "camera": camera}]}
    req["signature"] = sign(key, req)
    return req


class SearchFanout:
    """Publishes signed search requests and stores the boxes' answers in the hub database."""

    def __init__(self, database: Path, broker: HubBroker, key: Ed25519PrivateKey,
                 client_id: str | None = None):
        self.database = database
        self.broker = broker
        self.key = key
        self.db = hubdb.connect(database)
        self.connected = threading.Event()
        self.counts = {"stored": 0, "rejected": 0}
        self._queue: queue.Queue[tuple[str, bytes]] = queue.Queue()
        self._stop = threading.Event()
        self._writer = threading.Thread(target=self._write_loop, name="search-writer", daemon=True)
        self.client = mqtt.Client(CallbackAPIVersion.VERSION2,
                                  client_id=client_id or f"{broker.client_id}-search",
                                  clean_session=True, protocol=mqtt.MQTTv311)
        if broker.username:
            self.client.username_pw_set(broker.username, broker.password)
        self.client.max_inflight_messages_set(1000)
        self.client.max_queued_messages_set(0)
        self.client.reconnect_delay_set(1, 10)
        self.client.on_connect = self._on_connect
        self.client.on_disconnect = lambda *a: self.connected.clear()
        self.client.on_message = lambda c, u, m: self._queue.put((m.topic, bytes(m.payload)))
        self._started = False

    def _on_connect(self, client: mqtt.Client, userdata: Any, flags: Any, rc: Any, props: Any) -> None:
        if rc.is_failure:
            log.error("broker refused the hub's search client: %s", rc)
            return
        client.subscribe(RESP_SUBSCRIPTION, qos=1)
        self.connected.set()

    def start(self, timeout_s: float = 5.0) -> None:
        """Connect and subscribe; :class:`FanoutError` if the broker is not there in time."""
        if not self._started:
            self._started = True
            self._writer.start()
            self.client.connect_async(self.broker.host, self.broker.port, 30)
            self.client.loop_start()
        if not self.connected.wait(timeout_s):
            raise FanoutError(f"cannot reach the MQTT broker at {self.broker.host}:"
                              f"{self.broker.port} to send the search")

    def stop(self) -> None:
        self._stop.set()
        if self._writer.is_alive():
            self._writer.join(timeout=5)
        self.client.disconnect()
        self.client.loop_stop()
        self.db.conn.close()

    def publish(self, body: dict[str, Any], cameras: list[tuple[str, str]]) -> int:
        """Sign ``body`` for each camera and publish it (QoS 1); returns how many were sent."""
        self.start()
        sent = 0
        for site, camera in cameras:
            req = sign_for(self.key, body, site, camera)
            info = self.client.publish(topic(site, camera, "search/req"), encode(req), qos=1)
            if info.rc == mqtt.MQTT_ERR_SUCCESS:
                sent += 1
            else:
                log.warning("search %s: publish to %s/%s failed (%s)", body["id"], site, camera,
                            info.rc)
        return sent

    # -- answers ------------------------------------------------------------------------
    def _write_loop(self) -> None:
        while not self._stop.is_set():
            try:
                batch = [self._queue.get(timeout=0.2)]
            except queue.Empty:
                continue
            while len(batch) < 500:
                try:
                    batch.append(self._queue.get_nowait())
                except queue.Empty:
                    break
            try:
                self.store(batch)
            except sqlite3.Error:
                log.exception("cannot store %d search answer(s); they are lost", len(batch))

    def store(self, batch: list[tuple[str, bytes]]) -> None:
        """Validate and store answers in one transaction."""
        with self.db.conn:
            self.db.execute("BEGIN IMMEDIATE")
            for name, payload in batch:
                try:
                    where = parse_topic(name)
                    msg = decode("search/resp", payload, where.site, where.camera)
                    store_answer(self.db, msg)
                    self.counts["stored"] += 1
                except MessageError as exc:
                    self.counts["rejected"] += 1
                    log.warning("search answer on %s refused: %s", name[:200], exc)
                    hubdb.record_rejection(self.db, name, len(payload), str(exc))


def store_answer(db: Any, msg: dict[str, Any]) -> None:
    """Store one validated ``vigie.search.resp/1`` part (inside a transaction)."""
    row = db.execute("SELECT state FROM search_cameras WHERE search_id = ? AND site = ? AND "
                     "camera = ?", [msg["request_id"], msg["site"], msg["camera"]]).fetchone()
    if row is None:
        raise MessageError(f"answer to search {msg['request_id']} that did not ask "
                           f"{msg['site']}/{msg['camera']}")
    now = time.time()
    for r in msg["results"]:
        preview = base64.b64decode(r["preview"]) if r["preview"] else None
        db.execute(
            "INSERT OR IGNORE INTO search_results (search_id, site, camera, row, class, first_seen,"
            " last_seen, zones, direction, colour, colour_confidence, preview) "
            "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            [msg["request_id"], msg["site"], msg["camera"], r["row"], r["class"], r["first_seen"],
             r["last_seen"], json.dumps(r["zones"]), r["direction"], r["colour"],
             r["colour_confidence"], preview],
        )
    if msg["status"] == "refused":
        db.execute("UPDATE search_cameras SET state = 'refused', reason = ?, answered_at = ? "
                   "WHERE search_id = ? AND site = ? AND camera = ?",
                   [msg["reason"], now, msg["request_id"], msg["site"], msg["camera"]])
    else:
        db.execute("UPDATE search_cameras SET results = results + ?, parts = parts + 1 "
                   "WHERE search_id = ? AND site = ? AND camera = ?",
                   [len(msg["results"]), msg["request_id"], msg["site"], msg["camera"]])
        if msg["last"]:
            db.execute("UPDATE search_cameras SET state = 'answered', answered_at = ?, "
                       "last_part = ? WHERE search_id = ? AND site = ? AND camera = ?",
                       [now, msg["part"], msg["request_id"], msg["site"], msg["camera"]])
