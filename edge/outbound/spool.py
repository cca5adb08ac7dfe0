"""Messages the outbox could not store (disk full, read-only...), kept in memory and retried.

:class:`Spool` is the agent's only way into the outbox. When a write fails it keeps the
message in a bounded in-memory queue, remembers the error for the ``health`` message and
retries (each frame and each health tick) so nothing is lost once the disk recovers. The
queue keeps the storing order; when it is full the oldest ``stats`` message goes first,
then the oldest event. Such losses are counted and written into the outbox's persistent
drop counts as soon as it can be written again.
"""

from __future__ import annotations

import logging
import threading
from collections import Counter, deque
from typing import Any, Literal

from edge.outbound.outbox import Outbox, OutboxError

log = logging.getLogger(__name__)

Outcome = Literal["stored", "dropped", "queued"]


class Spool:
    """A bounded in-memory queue in front of an :class:`Outbox`."""

    def __init__(self, outbox: Outbox, capacity: int):
        self.outbox = outbox
        self.capacity = capacity
        self._queue: deque[tuple[str, dict[str, Any]]] = deque()
        self._lost: Counter[str] = Counter()  # overflow losses not yet in the outbox's counts
        self._saved: dict[str, int] = {}
        self._lock = threading.Lock()
        self.error: str | None = None
        """The last outbox write error, or None once a write succeeded again."""

    def put(self, suffix: str, body: dict[str, Any]) -> Outcome:
        """Store a message, or keep it in memory when the outbox cannot be written."""
        with self._lock:
            self._retry_locked()
            if not self._queue:
                try:
                    row = self.outbox.put(suffix, body)
                except OutboxError as exc:
                    self._failed(exc)
                else:
                    return "stored" if row else "dropped"
            self._append(suffix, body)
            return "queued"

    def retry(self) -> int:
        """Try to store the queued messages in order; returns how many were stored."""
        with self._lock:
            return self._retry_locked()

    @property
    def queued(self) -> int:
        with self._lock:
            return len(self._queue)

    def dropped(self) -> dict[str, int]:
        """Drops by kind: the outbox's persistent counts plus overflow losses not yet saved."""
        with self._lock:
            try:
                self._saved = self.outbox.dropped()
            except OutboxError as exc:
                log.debug("%s; reporting the last known drop counts", exc)
            counts = Counter(self._saved)
            counts.update(self._lost)
        return {kind: counts.get(kind, 0) for kind in ("stats", "event")}

    def _retry_locked(self) -> int:
        stored = 0
        while self._queue:
            suffix, body = self._queue[0]
            try:
                self.outbox.put(suffix, body)
            except OutboxError as exc:
                self._failed(exc)
                return stored
            self._queue.popleft()
            stored += 1
        try:
            if self._lost:
                for kind, n in self._lost.items():
                    self.outbox.note_dropped(kind, n)
                self._lost.clear()
        except OutboxError as exc:
            self._failed(exc)
            return stored
        if self.error is not None:
            log.warning("outbox writable again (%d queued message(s) stored)", stored)
        self.error = None
        return stored

    def _failed(self, exc: OutboxError) -> None:
        if self.error is None:
            log.error("%s; keeping messages in memory (up to %d) and retrying", exc, self.capacity)
        self.error = str(exc)[:300]

    def _append(self, suffix: str, body: dict[str, Any]) -> None:
        if len(self._queue) >= self.capacity:
            index = next((i for i, (k, _) in enumerate(self._queue) if k == "stats"), 0)
            kind = self._queue[index][0]
            if suffix == "stats" and kind != "stats":  # never push out an event for a stat
                self._lost[suffix] += 1
                log.warning("in-memory outbox queue full (%d): new stats message dropped",
                            self.capacity)
                return
            del self._queue[index]
            self._lost[kind] += 1
            log.warning("in-memory outbox queue full (%d): dropped the oldest %s message",
                        self.capacity, kind)
        self._queue.append((suffix, body))
