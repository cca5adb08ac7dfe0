"""The SQLite store-and-forward queue on the box.

An event is written here (committed, fsynced) before any attempt to send it, and the row
is deleted only when the broker has acknowledged the message (PUBACK for QoS 1). A crash,
a reboot or a broker outage therefore loses nothing: the next run sends what is left, in
the order it was stored.
"""

from __future__ import annotations

import json
import logging
import sqlite3
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

log = logging.getLogger(__name__)


class OutboxError(Exception):
    """The outbox cannot be written (disk full, read-only file system...)."""


@dataclass(frozen=True)
class OutboxItem:
    id: int
    suffix: str
    body: dict[str, Any]
    created: float
    attempts: int


class Outbox:
    """A durable FIFO of messages waiting for the broker's acknowledgement."""

    def __init__(self, path: Path):
        self.path = path
        path.parent.mkdir(parents=True, exist_ok=True)
        self._lock = threading.Lock()
        self._db = sqlite3.connect(path, check_same_thread=False, isolation_level=None)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=FULL")
        self._db.execute(
            "CREATE TABLE IF NOT EXISTS outbox ("
            " id INTEGER PRIMARY KEY AUTOINCREMENT,"
            " suffix TEXT NOT NULL,"
            " body TEXT NOT NULL,"
            " created REAL NOT NULL,"
            " attempts INTEGER NOT NULL DEFAULT 0)"
        )

    def put(self, suffix: str, body: dict[str, Any]) -> int:
        """Store a message durably; returns its row id."""
        text = json.dumps(body, separators=(",", ":"))
        with self._lock:
            try:
                cur = self._db.execute(
                    "INSERT INTO outbox (suffix, body, created) VALUES (?, ?, ?)",
                    (suffix, text, time.time()),
                )
            except sqlite3.OperationalError as exc:
                raise OutboxError(f"cannot store message in outbox {self.path}: {exc}") from None
            return int(cur.lastrowid or 0)

    def pending(
        self, limit: int, exclude: set[int] | None = None, *, kinds: tuple[str, ...] | None = None,
        skip_kinds: tuple[str, ...] = (),
    ) -> list[OutboxItem]:
        """The oldest rows not in ``exclude`` (rows already in flight), optionally only of
        the row kinds ``kinds`` and never of ``skip_kinds``."""
        where: list[str] = []
        params: list[object] = []
        if kinds is not None:
            where.append(f"suffix IN ({', '.join('?' for _ in kinds)})")
            params.extend(kinds)
        if skip_kinds:
            where.append(f"suffix NOT IN ({', '.join('?' for _ in skip_kinds)})")
            params.extend(skip_kinds)
        sql = "SELECT id, suffix, body, created, attempts FROM outbox"
        if where:
            sql += " WHERE " + " AND ".join(where)
        with self._lock:
            rows = self._db.execute(
                sql + " ORDER BY id LIMIT ?", (*params, limit + len(exclude or ())),
            ).fetchall()
        items = [OutboxItem(r[0], r[1], json.loads(r[2]), r[3], r[4]) for r in rows]
        return [i for i in items if not exclude or i.id not in exclude][:limit]

    def mark_attempt(self, row_id: int) -> None:
        with self._lock:
            self._db.execute("UPDATE outbox SET attempts = attempts + 1 WHERE id = ?", (row_id,))

    def delete(self, row_id: int) -> None:
        """Forget a message the broker acknowledged."""
        with self._lock:
            self._db.execute("DELETE FROM outbox WHERE id = ?", (row_id,))

    def depth_of(self, kind: str) -> int:
        """Rows of one kind (e.g. ``clip`` uploads) still waiting."""
        with self._lock:
            return int(self._db.execute("SELECT COUNT(*) FROM outbox WHERE suffix = ?",
                                        (kind,)).fetchone()[0])

    def depth(self) -> int:
        with self._lock:
            return int(self._db.execute("SELECT COUNT(*) FROM outbox").fetchone()[0])

    def close(self) -> None:
        with self._lock:
            self._db.close()
