"""MQTT ingest: subscribe to every box, validate each message, store it idempotently.

Runs as its own process (``vigie hub ingest``), and is the single writer of events. A
message that does not validate is logged with its reason, counted in ``rejected`` (without
its payload) and never stored; nothing a box sends can crash the ingest loop.
"""

from __future__ import annotations

import json
import logging
import threading
import time
from pathlib import Path
from typing import Any

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion

from central import db as hubdb
from central.config import HubConfig
from edge.messages import TOPIC_ROOT, MessageError, decode, parse_topic

log = logging.getLogger(__name__)

SUBSCRIPTION = f"{TOPIC_ROOT}/+/+/#"
INGESTED_SUFFIXES = ("event", "state", "health")


class Ingest:
    """The hub's MQTT subscriber."""

    def __init__(self, cfg: HubConfig, database: Path | None = None):
        self.cfg = cfg
        self.database = database or cfg.database
        self.db = hubdb.connect(self.database)
        self.connected = threading.Event()
        self.counts = {"stored": 0, "duplicate": 0, "rejected": 0}
        self.client = mqtt.Client(
            CallbackAPIVersion.VERSION2,
            client_id=cfg.broker.client_id,
            clean_session=False,
            protocol=mqtt.MQTTv311,
        )
        if cfg.broker.username:
            self.client.username_pw_set(cfg.broker.username, cfg.broker.password)
        self.client.reconnect_delay_set(1, 30)
        self.client.on_connect = self._on_connect
        self.client.on_disconnect = self._on_disconnect
        self.client.on_message = self._on_message

    def _on_connect(self, client: mqtt.Client, userdata: Any, flags: Any, rc: Any, props: Any) -> None:
        if rc.is_failure:
            log.error("broker refused the hub: %s", rc)
            return
        client.subscribe(SUBSCRIPTION, qos=1)
        self.connected.set()
        log.info("ingest connected to %s:%s, subscribed to %s",
                 self.cfg.broker.host, self.cfg.broker.port, SUBSCRIPTION)

    def _on_disconnect(self, client: mqtt.Client, userdata: Any, flags: Any, rc: Any, props: Any) -> None:
        self.connected.clear()
        log.warning("ingest disconnected from broker (%s); reconnecting", rc)

    def _on_message(self, client: mqtt.Client, userdata: Any, msg: mqtt.MQTTMessage) -> None:
        try:
            self.handle(msg.topic, bytes(msg.payload))
        except Exception:  # a bug must not stop ingest; the message is logged as rejected
            log.exception("internal error on a message from %s", msg.topic)
            self._reject(msg.topic, bytes(msg.payload), "internal error (see hub log)")

    def handle(self, topic: str, payload: bytes) -> str:
        """Validate and store one message. Returns 'stored', 'duplicate' or 'rejected'."""
        try:
            where = parse_topic(topic)
            if where.suffix not in INGESTED_SUFFIXES:
                raise MessageError(f"topic suffix {where.suffix!r} is not ingested")
            message = decode(where.suffix, payload, where.site, where.camera)
        except MessageError as exc:
            return self._reject(topic, payload, str(exc))
        now = time.time()
        if where.suffix == "event":
            changed = hubdb.upsert_event(self.db, message, payload.decode("utf-8"))
            hubdb.camera_seen(self.db, where.site, where.camera)
            outcome = "stored" if changed else "duplicate"
            if changed:
                log.info("event %s %s %s from %s/%s", message["type"], message["state"],
                         message["id"], where.site, where.camera)
        elif where.suffix == "state":
            hubdb.camera_seen(self.db, where.site, where.camera, state=message, state_at=now)
            outcome = "stored"
        else:
            hubdb.camera_seen(self.db, where.site, where.camera, health=json.dumps(message))
            outcome = "stored"
        self.counts[outcome] += 1
        return outcome

    def _reject(self, topic: str, payload: bytes, reason: str) -> str:
        log.warning("rejected message on %s (%d bytes): %s", topic[:200], len(payload), reason)
        self.counts["rejected"] += 1
        try:
            hubdb.record_rejection(self.db, topic, len(payload), reason)
        except Exception:
            log.exception("could not record the rejection")
        return "rejected"

    def start(self) -> None:
        self.client.connect_async(self.cfg.broker.host, self.cfg.broker.port, 30)
        self.client.loop_start()
        from central.camera_watch import Watch

        self.watch = Watch(self.database, self.cfg.silent_after_s,
                           every_s=min(5.0, self.cfg.silent_after_s / 2))
        self.watch.start()

    def stop(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()
        if getattr(self, "watch", None) is not None:
            self.watch.stop()
