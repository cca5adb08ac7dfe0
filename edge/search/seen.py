"""Search request ids this box has answered or refused, kept across restarts until they expire.

One SQLite table (``search_requests``) beside the track index, in the same file. An id is
committed (``synchronous=FULL``: on disk, not only in the process) *before* its answer is
built, so a request replayed after a crash or a restart finds it. Ids are forgotten once their
request has expired (plus a margin for a clock stepped back); a request that is expired is
refused anyway. The table is bounded: when it holds :data:`MAX_REMEMBERED` live ids, new
requests are refused rather than an old id forgotten early.
"""

from __future__ import annotations

import logging
import sqlite3
import threading
from pathlib import Path

log = logging.getLogger(__name__)

MAX_REMEMBERED = 100_000
"""Live ids kept at most (a hub asking a box more than 100 times a second for 15 minutes)."""

_SCHEMA = """
CREATE TABLE IF NOT EXISTS search_requests (
    id TEXT PRIMARY KEY,
    expires_at REAL NOT NULL,
    seen_at REAL NOT NULL
);
CREATE INDEX IF NOT EXISTS search_requests_expiry ON search_requests(expires_at);
"""


class SeenFull(Exception):
    """Too many unexpired request ids are remembered to take one more."""


class SeenRequests:
    """Remembered request ids in ``path`` (``":memory:"`` for a store that dies with it)."""

    def __init__(self, path: Path | str, keep_s: float = 0.0, max_rows: int = MAX_REMEMBERED):
        self.keep_s = keep_s
        self.max_rows = max_rows
        if str(path) != ":memory:":
            Path(path).parent.mkdir(parents=True, exist_ok=True)
        self._conn = sqlite3.connect(str(path), check_same_thread=False, isolation_level=None,
                                     timeout=10.0)
        self._conn.execute("PRAGMA journal_mode=WAL")
        self._conn.execute("PRAGMA synchronous=FULL")
        self._conn.executescript(_SCHEMA)
        self._lock = threading.Lock()

    def remember(self, rid: str, expires_at: float, now: float) -> bool:
        """Record ``rid`` durably; False when it was already recorded (a replay).

        Raises :class:`SeenFull` when the table is full, :class:`sqlite3.Error` when the id
        cannot be written (the caller must then not answer)."""
        with self._lock:
            self._conn.execute("BEGIN IMMEDIATE")
            try:
                self._purge(now)
                if self._conn.execute("SELECT 1 FROM search_requests WHERE id = ?",
                                      [rid]).fetchone():
                    self._conn.execute("ROLLBACK")
                    return False
                if self._count() >= self.max_rows:
                    raise SeenFull(f"{self.max_rows} unexpired request ids already remembered")
                self._conn.execute("INSERT INTO search_requests (id, expires_at, seen_at) "
                                   "VALUES (?, ?, ?)", [rid, expires_at, now])
                self._conn.execute("COMMIT")
            except BaseException:
                if self._conn.in_transaction:
                    self._conn.execute("ROLLBACK")
                raise
        return True

    def purge(self, now: float) -> int:
        """Forget ids whose request expired more than ``keep_s`` ago; how many went."""
        with self._lock:
            return self._purge(now)

    def _purge(self, now: float) -> int:
        cur = self._conn.execute("DELETE FROM search_requests WHERE expires_at < ?",
                                 [now - self.keep_s])
        if cur.rowcount:
            log.debug("search: forgot %d expired request id(s)", cur.rowcount)
        return int(cur.rowcount)

    def _count(self) -> int:
        return int(self._conn.execute("SELECT COUNT(*) FROM search_requests").fetchone()[0])

    def count(self) -> int:
        with self._lock:
            return self._count()

    def close(self) -> None:
        with self._lock:
            self._conn.close()
