"""The SQLite store-and-forward queue on the box.

An event is written here (committed, fsynced) before any attempt to send it, and the row
is deleted only when the broker has acknowledged the message (PUBACK for QoS 1). A crash,
a reboot or a broker outage therefore loses nothing: the next run sends what is left, in
the order it was stored.

With ``max_bytes`` set, the stored bodies never exceed that many bytes: room for a new
message is made by dropping ``stats`` rows first, then ``event`` rows, oldest first (clip
rows, small pointers to files, are never dropped). A new statistics interval never pushes
out an event: it is itself dropped when only events would make room. Every drop is logged
at WARNING and counted by kind in the ``dropped`` table, which survives restarts.
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

from edge.wire.messages import MAX_PAYLOAD_BYTES, MessageError, parse_json

log = logging.getLogger(__name__)

CLIP_ROW_KINDS = ("clip", "clipjob", "still")
"""Row kinds the clip flow (:mod:`edge.clips.flow`) owns (clip and still uploads, clips being
made); the sender leaves them alone."""


class OutboxError(Exception):
    """The outbox cannot be written (disk full, read-only file system...)."""


DROP_ORDER = ("stats", "event")
"""Row kinds the byte cap may drop, the cheapest first."""
MAX_BODY_BYTES = 4 * MAX_PAYLOAD_BYTES
"""A stored body is the message with non-ASCII escaped: at most a few times its payload."""


@dataclass(frozen=True)
class OutboxItem:
    id: int
    suffix: str
    body: dict[str, Any]
    created: float
    attempts: int


class Outbox:
    """A durable FIFO of messages waiting for the broker's acknowledgement."""

    def __init__(self, path: Path, max_bytes: int | None = None):
        self.path = path
        self.max_bytes = max_bytes
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
        self._db.execute(
            "CREATE TABLE IF NOT EXISTS dropped (kind TEXT PRIMARY KEY, n INTEGER NOT NULL)"
        )
        self._db.execute(
            "CREATE TABLE IF NOT EXISTS unreadable (id INTEGER PRIMARY KEY, suffix TEXT, body BLOB,"
            " reason TEXT NOT NULL, moved REAL NOT NULL)"
        )
        self._bytes = int(self._db.execute(
            "SELECT COALESCE(SUM(LENGTH(CAST(body AS BLOB))), 0) FROM outbox").fetchone()[0])

    def put(self, suffix: str, body: dict[str, Any]) -> int:
        """Store a message durably; returns its row id, or 0 when the byte cap made the
        new message itself the one to drop (a stats row when only events remain)."""
        text = json.dumps(body, separators=(",", ":"))
        size = len(text.encode("utf-8"))
        with self._lock:
            try:
                self._db.execute("BEGIN IMMEDIATE")
                try:
                    if not self._make_room(suffix, size):
                        self._count_drop(suffix, 1)
                        self._db.execute("COMMIT")
                        log.warning("outbox full (%d/%s bytes): new %s message dropped",
                                    self._bytes, self.max_bytes, suffix)
                        return 0
                    cur = self._db.execute(
                        "INSERT INTO outbox (suffix, body, created) VALUES (?, ?, ?)",
                        (suffix, text, time.time()),
                    )
                    self._db.execute("COMMIT")
                except BaseException:
                    self._rollback()
                    raise
            except sqlite3.Error as exc:
                raise OutboxError(f"cannot store message in outbox {self.path}: {exc}") from None
            self._bytes += size
            return int(cur.lastrowid or 0)

    def _rollback(self) -> None:
        """Undo a failed put and recount the bytes (some drops may have been undone)."""
        try:
            if self._db.in_transaction:
                self._db.execute("ROLLBACK")
            self._bytes = int(self._db.execute(
                "SELECT COALESCE(SUM(LENGTH(CAST(body AS BLOB))), 0) FROM outbox").fetchone()[0])
        except sqlite3.Error as exc:
            log.error("outbox %s: rollback failed: %s", self.path, exc)

    def _make_room(self, suffix: str, size: int) -> bool:
        """Drop rows (inside the caller's transaction) until ``size`` more bytes fit.

        Returns False when the new message must be dropped instead: it is bigger than the
        cap, or it is a stats row and only events could make room."""
        if self.max_bytes is None or self._bytes + size <= self.max_bytes:
            return True
        if size > self.max_bytes:
            return False
        victims = DROP_ORDER[: DROP_ORDER.index(suffix) + 1] if suffix in DROP_ORDER else DROP_ORDER
        plan: list[tuple[int, str, int]] = []
        need = self._bytes + size - self.max_bytes
        for kind in victims:
            rows = self._db.execute(
                "SELECT id, LENGTH(CAST(body AS BLOB)) FROM outbox WHERE suffix = ? ORDER BY id",
                (kind,),
            )
            for row_id, n in rows:
                if need <= 0:
                    break
                plan.append((row_id, kind, n))
                need -= n
            if need <= 0:
                break
        if need > 0:
            return False
        for row_id, kind, n in plan:
            self._db.execute("DELETE FROM outbox WHERE id = ?", (row_id,))
            self._count_drop(kind, 1)
            self._bytes -= n
            log.warning("outbox over its cap of %d bytes: dropped %s row %d (%d bytes) "
                        "to store a new %s", self.max_bytes, kind, row_id, n, suffix)
        return True

    def _count_drop(self, kind: str, n: int) -> None:
        self._db.execute(
            "INSERT INTO dropped (kind, n) VALUES (?, ?) "
            "ON CONFLICT(kind) DO UPDATE SET n = n + excluded.n", (kind, n),
        )

    def note_dropped(self, kind: str, n: int) -> None:
        """Add ``n`` drops of ``kind`` made elsewhere (e.g. the in-memory queue) to the counts."""
        with self._lock:
            try:
                self._count_drop(kind, n)
            except sqlite3.Error as exc:
                raise OutboxError(f"cannot count drops in outbox {self.path}: {exc}") from None

    def dropped(self) -> dict[str, int]:
        """Rows dropped by the byte cap since the outbox file was created, by kind."""
        with self._lock:
            try:
                rows = self._db.execute("SELECT kind, n FROM dropped").fetchall()
            except sqlite3.Error as exc:
                raise OutboxError(f"cannot read drop counts of outbox {self.path}: {exc}") from None
        return {str(k): int(n) for k, n in rows}

    def bytes_stored(self) -> int:
        """Bytes of message bodies waiting in the outbox."""
        with self._lock:
            return self._bytes

    def pending(
        self, limit: int, exclude: set[int] | None = None, *, kinds: tuple[str, ...] | None = None,
        skip_kinds: tuple[str, ...] = (),
    ) -> list[OutboxItem]:
        """The oldest rows not in ``exclude`` (rows already in flight), optionally only of
        the row kinds ``kinds`` and never of ``skip_kinds``. A row whose body is not a bounded
        JSON object (a corrupt file) is set aside rather than blocking the rows behind it."""
        where: list[str] = []
        params: list[object] = []
        if kinds is not None:
            where.append(f"suffix IN ({', '.join('?' for _ in kinds)})")
            params.extend(kinds)
        if skip_kinds:
            where.append(f"suffix NOT IN ({', '.join('?' for _ in skip_kinds)})")
            params.extend(skip_kinds)
        sql = "SELECT id, suffix, CAST(body AS BLOB), created, attempts FROM outbox"
        if where:
            sql += " WHERE " + " AND ".join(where)
        with self._lock:
            rows = self._db.execute(
                sql + " ORDER BY id LIMIT ?", (*params, limit + len(exclude or ())),
            ).fetchall()
        items = []
        for row_id, suffix, body, created, attempts in rows:
            try:
                parsed = parse_json(body, max_bytes=MAX_BODY_BYTES)
                if not isinstance(parsed, dict):
                    raise MessageError(f"body is a JSON {type(parsed).__name__}, not an object")
            except MessageError as exc:
                self.set_aside(row_id, str(exc))
                continue
            items.append(OutboxItem(row_id, suffix, parsed, created, attempts))
        return [i for i in items if not exclude or i.id not in exclude][:limit]

    def set_aside(self, row_id: int, reason: str) -> None:
        """Move a row that can never be sent (a corrupt body...) out of the queue into the
        ``unreadable`` table, with the reason, and count it as dropped of its kind."""
        with self._lock:
            try:
                self._db.execute("BEGIN IMMEDIATE")
                moved = self._db.execute(
                    "DELETE FROM outbox WHERE id = ? RETURNING suffix, CAST(body AS BLOB)", (row_id,)
                ).fetchall()
                for suffix, body in moved:
                    self._db.execute(
                        "INSERT OR REPLACE INTO unreadable (id, suffix, body, reason, moved) "
                        "VALUES (?, ?, ?, ?, ?)", (row_id, suffix, body, reason[:300], time.time()))
                    self._count_drop(str(suffix), 1)
                    self._bytes -= len(body)
                self._db.execute("COMMIT")
            except sqlite3.Error as exc:
                self._rollback()
                raise OutboxError(f"cannot set aside outbox row {row_id}: {exc}") from None
        for suffix, _ in moved:
            log.error("outbox row %d (%s) can never be sent (%s); set aside in the unreadable "
                      "table", row_id, suffix, reason[:300])

    def unreadable(self) -> list[tuple[int, str, str]]:
        """Rows set aside: (id, kind, reason)."""
        with self._lock:
            rows = self._db.execute("SELECT id, suffix, reason FROM unreadable ORDER BY id").fetchall()
        return [(int(r[0]), str(r[1]), str(r[2])) for r in rows]

    def mark_attempt(self, row_id: int) -> None:
        with self._lock:
            try:
                self._db.execute("UPDATE outbox SET attempts = attempts + 1 WHERE id = ?", (row_id,))
            except sqlite3.Error as exc:
                raise OutboxError(f"cannot count an attempt in outbox {self.path}: {exc}") from None

    def delete(self, row_id: int) -> None:
        """Forget a message the broker acknowledged."""
        with self._lock:
            try:
                row = self._db.execute(
                    "DELETE FROM outbox WHERE id = ? RETURNING LENGTH(CAST(body AS BLOB))", (row_id,)
                ).fetchall()
            except sqlite3.Error as exc:
                raise OutboxError(f"cannot delete row {row_id} of outbox {self.path}: {exc}") from None
            if row:
                self._bytes -= int(row[0][0])

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
