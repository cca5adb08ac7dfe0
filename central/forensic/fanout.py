"""The hub's side of forensic search on MQTT: sign and publish requests, store the answers.

One :class:`SearchFanout` per hub process that serves searches. It publishes each request
to every named camera's own ``search/req`` topic, signed for that camera alone (the request's
``cameras`` lists just that box, so a box that receives it knows it was meant for it; an
Ed25519 signature costs ~0.1 ms, 1,400 of them well under a second). Answers arrive on
``vigie/v1/+/+/search/resp``; paho's thread only queues them, and one writer thread validates
each against ``vigie.search.resp/1`` (site/camera must match the topic, the search must exist
and have asked that camera) and stores it in batched transactions: at most the request's
``limit`` results per camera, no part twice, nothing after the last part. A refused or
unstorable answer is quarantined (:mod:`central.ingest.quarantine`); if the writer dies anyway the
process exits (:mod:`edge.wire.vitals`).
"""

from __future__ import annotations

import base64
import json
import logging
import queue
import threading
import time
from collections.abc import Sequence
from dataclasses import replace
from functools import partial
from pathlib import Path
from typing import Any

import paho.mqtt.client as mqtt
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from paho.mqtt.enums import CallbackAPIVersion

from central import db as hubdb
from central.config import HubBroker
from central.ingest import quarantine
from central.ingest.quarantine import Refused, guarded, run_batch, store_until_done
from central.ingest.received import Delivery, receive
from edge.wire.keys import sign
from edge.wire.messages import TOPIC_ROOT, SearchAnswer, SearchRequest, encode, topic
from edge.wire.vitals import start_vital

log = logging.getLogger(__name__)

RESP_SUBSCRIPTION = f"{TOPIC_ROOT}/+/+/search/resp"
MAX_SEARCH_LIMIT = 500
"""The largest ``limit`` a request may carry (``vigie.search.req/1``); used for searches
recorded before the hub kept each search's limit."""


class FanoutError(Exception):
    """The broker cannot be reached or refused the hub; the text says which."""


def sign_for(key: Ed25519PrivateKey, body: dict[str, Any], site: str, camera: str) -> dict[str, Any]:
    """Any request body (valid or not) for one camera: ``cameras`` is that camera only, then
    the signature."""
    req = {**body, "cameras": [{"site": site, "camera": camera}]}
    req["signature"] = sign(key, req)
    return req


def signed_request(key: Ed25519PrivateKey, req: SearchRequest, site: str,
                   camera: str) -> SearchRequest:
    """The request for one camera: ``cameras`` is that camera only, signed over the rest."""
    one = replace(req, cameras=((site, camera),), signature=None)
    return replace(one, signature=sign(key, one.unsigned()))


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
        self._queue: queue.Queue[Delivery] = queue.Queue()
        self._stop = threading.Event()
        self._writer: threading.Thread | None = None
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
        self.client.on_message = self._on_message
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
            self._writer = start_vital("search-writer", self._write_loop)
            self.client.connect_async(self.broker.host, self.broker.port, 30)
            self.client.loop_start()
        if not self.connected.wait(timeout_s):
            raise FanoutError(f"cannot reach the MQTT broker at {self.broker.host}:"
                              f"{self.broker.port} to send the search")

    def stop(self) -> None:
        self._stop.set()
        if self._writer is not None and self._writer.is_alive():
            self._writer.join(timeout=5)
        self.client.disconnect()
        self.client.loop_stop()
        self.db.conn.close()

    def publish(self, req: SearchRequest, cameras: list[tuple[str, str]]) -> int:
        """Sign ``req`` for each camera and publish it (QoS 1); returns how many were sent."""
        self.start()
        sent = 0
        for site, camera in cameras:
            one = signed_request(self.key, req, site, camera)
            info = self.client.publish(topic(site, camera, "search/req"), encode(one.to_wire()),
                                       qos=1)
            if info.rc == mqtt.MQTT_ERR_SUCCESS:
                sent += 1
            else:
                log.warning("search %s: publish to %s/%s failed (%s)", req.id, site, camera,
                            info.rc)
        return sent

    # -- answers ------------------------------------------------------------------------
    def _on_message(self, client: mqtt.Client, userdata: Any, msg: mqtt.MQTTMessage) -> None:
        try:
            name = msg.topic
        except UnicodeDecodeError:  # the broker checks UTF-8; never let paho's thread die
            name = msg._topic.decode("utf-8", errors="replace")
        self._queue.put(Delivery(name, bytes(msg.payload), msg.mid, msg.qos, dup=bool(msg.dup),
                                 retained=bool(msg.retain)))

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
            store_until_done(partial(self.store, batch), f"{len(batch)} search answer(s)",
                             self._stop.is_set)

    def store(self, batch: Sequence[Delivery]) -> list[str]:
        """Validate and store answers in one transaction; one outcome per answer ("stored" or
        "rejected": refused or unstorable, then quarantined). Only a database-wide fault
        raises (sqlite3.Error), and then nothing is stored."""
        outcomes: list[str] = []

        def run() -> None:
            outcomes.clear()
            for d in batch:
                outcome, _ = guarded(self.db, d.topic, d.raw, partial(self._apply, d))
                outcomes.append(outcome)

        run_batch(self.db, run)
        for outcome in outcomes:
            self.counts[outcome] += 1
        return outcomes

    def _apply(self, d: Delivery) -> str:
        msg = receive(d, ("search/resp",), "a search answer").message_as(SearchAnswer)
        dropped = store_answer(self.db, msg)
        if dropped:
            reason = (f"search: {dropped} result(s) of part {msg.part} beyond the request's "
                      f"limit not stored")
            log.warning("search answer on %s: %s", d.topic[:200], reason)
            quarantine.record(self.db, d.topic, d.raw, reason, "search")
        return "stored"


def _refuse(msg: SearchAnswer, why: str) -> Refused:
    return Refused(f"search: part {msg.part} of the answer of {msg.site}/{msg.camera} "
                   f"to search {msg.request_id} {why}", "search")


def store_answer(db: Any, msg: SearchAnswer) -> int:
    """Store one validated ``vigie.search.resp/1`` part (inside a transaction).

    Refuses (:class:`Refused`, category ``search``) an answer from a camera the search did not
    ask, a part already received, a part after the one marked ``last`` and anything after a
    refusal; stores at most the request's ``limit`` results per camera. Returns how many
    results of this part were beyond the limit (not stored)."""
    who = [msg.request_id, msg.site, msg.camera]
    row = db.execute(
        "SELECT c.state, c.results, c.last_part, s.result_limit FROM search_cameras c "
        "JOIN searches s ON s.id = c.search_id WHERE c.search_id = ? AND c.site = ? AND "
        "c.camera = ?", who).fetchone()
    if row is None:
        raise Refused(f"search: answer to search {msg.request_id} that did not ask "
                      f"{msg.site}/{msg.camera}", "search")
    state, stored, last_part, limit = row
    if state == "refused":
        raise _refuse(msg, "arrived after the camera refused the search")
    now = time.time()
    cur = db.execute("INSERT OR IGNORE INTO search_parts (search_id, site, camera, part, "
                     "received_at) VALUES (?, ?, ?, ?, ?)", [*who, msg.part, now])
    if not cur.rowcount:
        raise _refuse(msg, "was already received (duplicate part)")
    if last_part is not None and (msg.part > last_part or msg.last):
        raise _refuse(msg, f"arrived after its last part ({last_part})")
    room = max(0, (limit or MAX_SEARCH_LIMIT) - stored)
    kept = 0
    for r in msg.results[:room]:
        preview = base64.b64decode(r.preview) if r.preview else None
        kept += db.execute(
            "INSERT OR IGNORE INTO search_results (search_id, site, camera, row, class, first_seen,"
            " last_seen, zones, direction, colour, colour_confidence, preview) "
            "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            [*who, r.row, r.cls, r.first_seen, r.last_seen, json.dumps(list(r.zones)),
             r.direction, r.colour, r.colour_confidence, preview],
        ).rowcount
    if msg.status == "refused":
        db.execute("UPDATE search_cameras SET state = 'refused', reason = ?, answered_at = ? "
                   "WHERE search_id = ? AND site = ? AND camera = ?", [msg.reason, now, *who])
    else:
        db.execute("UPDATE search_cameras SET results = results + ?, parts = parts + 1 "
                   "WHERE search_id = ? AND site = ? AND camera = ?", [kept, *who])
        if msg.last:
            db.execute("UPDATE search_cameras SET state = 'answered', answered_at = ?, "
                       "last_part = ? WHERE search_id = ? AND site = ? AND camera = ?",
                       [now, msg.part, *who])
    return len(msg.results) - min(room, len(msg.results))
