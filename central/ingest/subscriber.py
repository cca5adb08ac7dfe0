"""MQTT ingest: subscribe to every box, validate each message, store it idempotently.

Runs as its own process (``vigie hub ingest``) and is the single writer of events: paho's
network thread only queues messages; one writer thread validates and stores them in batched
transactions and acknowledges each QoS 1 message to the broker only *after* its batch is
committed (manual PUBACK). With a persistent session (fixed client id, clean session off),
a hub killed at any moment loses nothing the broker accepted: unacknowledged messages are
delivered again, and idempotent upserts make the redelivery harmless.

A message that does not validate, touches another camera's event, is dated beyond the
allowed clock skew or cannot be stored is logged with its reason, quarantined (hash, size and
reason, never the payload: :mod:`central.ingest.quarantine`), acknowledged and never stored; the rest
of its batch is. Nothing a box sends can stop the writer; if it dies anyway the process exits
(:mod:`edge.wire.vitals`) and systemd restarts it.
"""

from __future__ import annotations

import json
import logging
import queue
import threading
import time
from collections.abc import Sequence
from functools import partial
from pathlib import Path
from typing import Any

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion

from central import db as hubdb
from central.config import HubConfig
from central.ingest.quarantine import (
    check_not_future,
    epoch_of,
    fault_of,
    guarded,
    run_batch,
    store_until_done,
)
from central.ingest.receipts import note_receipt, store_digest
from central.ingest.received import Delivery, Received, receive
from edge.wire.messages import (
    KINDS,
    TOPIC_ROOT,
    EventMessage,
    HealthMessage,
    LedgerDigest,
    StateMessage,
    StatsMessage,
)
from edge.wire.vitals import start_vital

log = logging.getLogger(__name__)

SUBSCRIPTION = f"{TOPIC_ROOT}/+/+/#"
RECEIPT_ONLY_SUFFIXES = ("search/resp",)
"""Box messages another hub component stores (central.forensic.fanout): ingest only checks them and
keeps their receipt for the egress-ledger verification."""
ACCEPTED_SUFFIXES = tuple(k.suffix for k in KINDS if k.sender == "box")
"""Every kind a box sends (the contract's registry)."""
INGESTED_SUFFIXES = tuple(s for s in ACCEPTED_SUFFIXES if s not in RECEIPT_ONLY_SUFFIXES)
HUB_TO_BOX_SUFFIXES = ("config", *(k.suffix for k in KINDS if k.sender == "hub"))
"""Topics the hub itself publishes under a box prefix (``config`` is reserved for it by the
broker ACL): no receipt is kept for them."""


class Ingest:
    """The hub's MQTT subscriber."""

    def __init__(
        self, cfg: HubConfig, database: Path | None = None, batch_max: int = 1000,
        batch_wait_s: float = 0.02,
    ):
        self.cfg = cfg
        self.database = database or cfg.database
        self.db = hubdb.connect(self.database)
        self.connected = threading.Event()
        self.counts = {"stored": 0, "duplicate": 0, "rejected": 0, "receipted": 0}
        self.batch_max = batch_max
        self.batch_wait_s = batch_wait_s
        self._queue: queue.Queue[Delivery] = queue.Queue()
        self._stop = threading.Event()
        self._writer: threading.Thread | None = None
        self._skew_seen: tuple[str, str, float, float] | None = None
        self.client = mqtt.Client(
            CallbackAPIVersion.VERSION2,
            client_id=cfg.broker.client_id,
            clean_session=False,
            protocol=mqtt.MQTTv311,
            manual_ack=True,
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
            name = msg.topic
        except UnicodeDecodeError:  # the broker checks UTF-8; never let paho's thread die
            name = msg._topic.decode("utf-8", errors="replace")
        if name.endswith(HUB_TO_BOX_SUFFIXES):  # the hub's own requests: nothing to keep
            if msg.qos > 0:
                client.ack(msg.mid, msg.qos)
            return
        self._queue.put(Delivery(name, bytes(msg.payload), msg.mid, msg.qos, dup=bool(msg.dup),
                                 retained=bool(msg.retain)))

    def _next_batch(self) -> list[Delivery]:
        try:
            batch = [self._queue.get(timeout=0.2)]
        except queue.Empty:
            return []
        deadline = time.monotonic() + self.batch_wait_s
        while len(batch) < self.batch_max:
            try:
                batch.append(self._queue.get(timeout=max(0.0, deadline - time.monotonic())))
            except queue.Empty:
                break
        return batch

    def _write_loop(self) -> None:
        """Take queued messages in batches, store each batch in one transaction, then ack.

        While the database cannot be written (disk full, locked, I/O) the batch is kept
        unacknowledged and tried again; the broker holds everything after it."""
        while not self._stop.is_set() or not self._queue.empty():
            batch = self._next_batch()
            if not batch:
                continue
            if not store_until_done(partial(self.process_batch, batch),
                                    f"{len(batch)} message(s)", self._stop.is_set):
                return  # stopping: the broker delivers the unacknowledged batch again
            for d in batch:
                if d.qos > 0:
                    self.client.ack(d.mid, d.qos)

    def process_batch(self, batch: Sequence[Delivery]) -> list[str]:
        """Validate and store messages in one transaction; one outcome per message.

        Every message's hash is kept as a receipt (with its DUP and retained flags) for the
        egress-ledger verification (central.privacy.egress_verify). A message that is refused
        or cannot be stored is quarantined (central.ingest.quarantine) and the others are
        stored; only a database-wide fault raises (sqlite3.Error), and then nothing is."""
        outcomes: list[str] = []

        def store() -> None:
            outcomes.clear()
            for d in batch:
                self._skew_seen = None
                outcome, reason = guarded(self.db, d.topic, d.raw, partial(self._apply, d))
                if outcome == "rejected" and self._skew_seen is not None:
                    self._note_skew(*self._skew_seen)
                outcomes.append(outcome)
                self._receipt(d, outcome != "rejected", reason)

        run_batch(self.db, store)
        for outcome in outcomes:
            self.counts[outcome] += 1
        return outcomes

    def handle(self, topic: str, payload: bytes) -> str:
        """Validate and store one message. Returns 'stored', 'duplicate' or 'rejected'."""
        return self.process_batch([Delivery(topic, payload)])[0]

    def _receipt(self, d: Delivery, valid: bool, reason: str | None) -> None:
        if d.topic.endswith(HUB_TO_BOX_SUFFIXES):
            return
        try:
            note_receipt(self.db, d.topic, d.raw, valid, reason, dup=d.dup, retained=d.retained)
        except Exception as exc:  # one INSERT: nothing half-done to undo
            if fault_of(exc) != "message":
                raise
            log.exception("cannot keep the receipt of a message on %s", d.topic[:200])

    def _note_skew(self, site: str, camera: str, skew_s: float, at: float) -> None:
        """Keep the clock skew measured on a refused health message (the camera's clock is
        the very thing the operator needs to see)."""
        try:
            hubdb.camera_seen(self.db, site, camera, clock_skew_s=round(skew_s, 1),
                              clock_skew_at=at)
        except Exception as exc:
            if fault_of(exc) != "message":
                raise
            log.exception("cannot note the clock skew of %s/%s", site, camera)

    def _apply(self, delivery: Delivery) -> str:
        r = receive(delivery, ACCEPTED_SUFFIXES)
        if r.kind in RECEIPT_ONLY_SUFFIXES:
            return "receipted"
        store = {"event": self._store_event, "stats": self._store_stats,
                 "ledger": self._store_digest, "state": self._store_state,
                 "health": self._store_health}[r.kind]
        return store(r)

    def _store_event(self, r: Received) -> str:
        ev = r.message_as(EventMessage)
        check_not_future({"started_at": ev.started_at, "ended_at": ev.ended_at},
                         self.cfg.max_clock_skew_s, r.received_at)
        changed = hubdb.upsert_event(self.db, r.body, r.raw.decode("utf-8"))
        hubdb.camera_seen(self.db, r.site, r.camera)
        if changed:
            log.debug("event %s %s %s from %s/%s", ev.type, ev.state, ev.id, r.site, r.camera)
        return "stored" if changed else "duplicate"

    def _store_stats(self, r: Received) -> str:
        stats = r.message_as(StatsMessage)
        check_not_future({"interval_start": stats.interval_start,
                          "interval_end": stats.interval_end},
                         self.cfg.max_clock_skew_s, r.received_at)
        changed = hubdb.insert_stats(self.db, r.body)
        hubdb.camera_seen(self.db, r.site, r.camera)
        return "stored" if changed else "duplicate"

    def _store_digest(self, r: Received) -> str:
        digest = r.message_as(LedgerDigest)
        check_not_future({"ts": digest.ts}, self.cfg.max_clock_skew_s, r.received_at)
        return "stored" if store_digest(self.db, digest, r.seq or 0, r.raw) else "duplicate"

    def _store_state(self, r: Received) -> str:
        state = r.message_as(StateMessage)
        hubdb.camera_seen(self.db, r.site, r.camera, state=state.state, state_at=r.received_at)
        return "stored"

    def _store_health(self, r: Received) -> str:
        health = r.message_as(HealthMessage)
        now = r.received_at
        measured = epoch_of(health.ts) - now
        self._skew_seen = (r.site, r.camera, measured, now)
        check_not_future({"ts": health.ts}, self.cfg.max_clock_skew_s, now)
        hubdb.camera_seen(self.db, r.site, r.camera, health=json.dumps(r.body),
                          clock_skew_s=round(measured, 1), clock_skew_at=now)
        return "stored"

    def start(self) -> None:
        self._writer = start_vital("ingest-writer", self._write_loop)
        self.client.connect_async(self.cfg.broker.host, self.cfg.broker.port, 30)
        self.client.loop_start()
        from central.ingest.camera_watch import Watch

        self.watch = Watch(self.database, self.cfg.silent_after_s,
                           every_s=min(5.0, self.cfg.silent_after_s / 2),
                           clip_deadline_s=self.cfg.clips.pending_deadline_s)
        self.watch.start()
        from central.privacy.egress_verify import Verifier

        p = self.cfg.privacy
        self.verifier = Verifier(self.database, p.grace_s, p.verify_every_s, p.window_s)
        self.verifier.start()

    def stop(self) -> None:
        """Store and acknowledge what is queued, then disconnect."""
        self._stop.set()
        if self._writer is not None and self._writer.is_alive():
            self._writer.join(timeout=10)
        self.client.disconnect()
        self.client.loop_stop()
        if getattr(self, "watch", None) is not None:
            self.watch.stop()
        if getattr(self, "verifier", None) is not None:
            self.verifier.stop()
