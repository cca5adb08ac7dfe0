"""The outbox sender: drains stored messages through egress, deleting a row only on the broker's PUBACK."""

from __future__ import annotations

import logging
import queue
import threading
import time

from edge.outbound.diskfull import OnceLog
from edge.outbound.egress import Egress, EgressRefused
from edge.outbound.ledger import LedgerError
from edge.outbound.outbox import CLIP_ROW_KINDS, Outbox, OutboxError
from edge.wire.messages import EventMessage
from edge.wire.periodic import Periodic

log = logging.getLogger(__name__)


class Sender:
    """Drains the outbox through egress; deletes a row only on the broker's PUBACK.

    paho calls ``on_publish`` while holding its outgoing-message lock, and ``publish`` takes
    that same lock; so the ack callback only queues the message id, and this class's own
    thread does all the bookkeeping (no lock is ever held across a paho call).
    """

    def __init__(self, outbox: Outbox, egress: Egress, window: int):
        self.outbox = outbox
        self.egress = egress
        self.window = window
        self._inflight: dict[int, int] = {}  # mid -> outbox row id
        self._lock = threading.Lock()
        self.acked = 0
        self.ledger_log = OnceLog(log, "ledgering outbox messages")
        self.delete_log = OnceLog(log, "deleting acknowledged outbox rows")
        self._undeleted: set[int] = set()  # acknowledged rows not deleted yet (disk full)
        self._acks: queue.SimpleQueue[int] = queue.SimpleQueue()
        self._job = Periodic("sender", 0.5, self._round)
        egress.on_ack = self._on_ack
        egress.on_connection_change = self._on_connection

    def start(self) -> None:
        self._job.start()

    def wake(self) -> None:
        self._job.run_now()

    def _on_ack(self, mid: int) -> None:
        self._acks.put(mid)  # called from paho's thread with paho's lock held: queue only
        self._job.run_now()

    def _process_acks(self) -> None:
        while True:
            try:
                mid = self._acks.get_nowait()
            except queue.Empty:
                break
            with self._lock:
                row = self._inflight.pop(mid, None)
            if row is not None:
                self._undeleted.add(row)
                self.acked += 1
        self._delete_acked()

    def _delete_acked(self) -> None:
        """Delete acknowledged rows; on a full disk they wait (never sent again meanwhile)."""
        for row in sorted(self._undeleted):
            try:
                self.outbox.delete(row)
            except OutboxError as exc:
                self.delete_log.failed(exc, "acknowledged rows are deleted later")
                return
            self._undeleted.discard(row)
            self.delete_log.ok()

    def _on_connection(self, up: bool) -> None:
        if not up:
            with self._lock:
                self._inflight.clear()  # unacknowledged rows are sent again after reconnect
        self._job.run_now()

    def _round(self) -> None:
        """Every half second or when woken: settle acknowledgements, send what is due."""
        try:
            self._process_acks()
            if not self.egress.connected.is_set():
                return
            self.drain_once()
        except Exception:  # keep the sender alive whatever one row does
            log.exception("sender error; will retry")
            self._job.pause(1.0)

    def drain_once(self) -> None:
        with self._lock:
            busy = set(self._inflight.values())
            room = self.window - len(busy)
        busy |= self._undeleted
        if room <= 0:
            return
        for item in self.outbox.pending(room, busy, skip_kinds=CLIP_ROW_KINDS):
            if not self.egress.connected.is_set():
                return
            body = item.body
            if item.suffix == "event":
                try:
                    body = EventMessage.from_json(body).to_wire(0)
                except (AttributeError, KeyError, TypeError, ValueError) as exc:
                    self.outbox.set_aside(item.id, f"not a stored event: {exc!r}"[:300])
                    continue
                body.pop("seq")
            try:
                info = self.egress.publish(item.suffix, body)
            except EgressRefused as exc:
                log.error("outbox row %d can never be sent (%s); removing it", item.id, exc)
                self.outbox.delete(item.id)
                continue
            except LedgerError as exc:  # disk full: the row waits in the outbox
                self.ledger_log.failed(exc, "messages wait in the outbox")
                return
            self.ledger_log.ok()
            if info is None:
                return
            with self._lock:  # the ack, if already in, waits in the queue until we are done
                self._inflight[info.mid] = item.id
            try:
                self.outbox.mark_attempt(item.id)
            except OutboxError as exc:  # only a counter: the message is on its way
                log.debug("%s", exc)

    def stop(self) -> None:
        self._job.stop(5)

    def wait_empty(self, timeout: float) -> bool:
        """Wait until the outbox is empty (everything acknowledged) or the timeout passes."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self._messages_left() == 0:
                return True
            self._job.run_now()
            time.sleep(0.05)
        return self._messages_left() == 0

    def _messages_left(self) -> int:
        """Rows this sender publishes (clip rows are edge.clips.flow's)."""
        return self.outbox.depth() - sum(self.outbox.depth_of(k) for k in CLIP_ROW_KINDS)
