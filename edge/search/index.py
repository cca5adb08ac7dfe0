"""The box-local track index: one SQLite row per finished track, kept only for retention_days.

A row holds what an investigator may ask about (design principle 2): the object's
class, when it was first and last seen (wall-clock seconds), the zones of this camera it
visited, its direction of travel across the image, and, for vehicles only, a dominant colour
from the fixed palette of :mod:`edge.search.colour` with a JPEG preview still (anonymised, see
:mod:`edge.search.preview`). Persons get no attribute at all: ``colour`` and ``preview`` are NULL
for them, enforced here (:meth:`TrackIndex.add` refuses otherwise) and in the wire schema.

Nothing in this file leaves the box by itself; :mod:`edge.search.answer` answers signed requests.
"""

from __future__ import annotations

import logging
import sqlite3
import threading
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

log = logging.getLogger(__name__)

VEHICLES = ("car", "bus", "truck", "motorcycle", "bicycle")
"""Classes that get a colour and a preview; every other class (persons first) gets none."""
DIRECTIONS = ("left", "right", "up", "down", "stationary")
"""Direction of travel in the image: the main axis of the first-to-last displacement of the
track's ground point, or ``stationary`` when it moved less than 5 % of the frame diagonal."""
STATIONARY_FRACTION = 0.05


class IndexError_(Exception):
    """A row the index refuses (e.g. an attribute on a person); the text says why."""


@dataclass(frozen=True)
class IndexRow:
    """One finished track. Times are Unix seconds (wall clock of the box)."""

    label: str
    first_seen: float
    last_seen: float
    zones: tuple[str, ...]
    direction: str
    colour: str | None = None
    colour_confidence: float | None = None
    preview: bytes | None = None
    id: int | None = None


@dataclass(frozen=True)
class IndexQuery:
    """A search of the index: tracks overlapping ``[start, end]`` matching every given filter."""

    start: float
    end: float
    label: str | None = None
    colour: str | None = None
    zone: str | None = None
    direction: str | None = None
    limit: int = 100


def direction_of(first: tuple[float, float], last: tuple[float, float]) -> str:
    """Direction of a move between two normalised points (see :data:`DIRECTIONS`)."""
    dx, dy = last[0] - first[0], last[1] - first[1]
    if (dx * dx + dy * dy) ** 0.5 < STATIONARY_FRACTION * 2**0.5:
        return "stationary"
    if abs(dx) >= abs(dy):
        return "right" if dx > 0 else "left"
    return "down" if dy > 0 else "up"


_SCHEMA = """
CREATE TABLE IF NOT EXISTS tracks (
    id INTEGER PRIMARY KEY,
    label TEXT NOT NULL,
    first_seen REAL NOT NULL,
    last_seen REAL NOT NULL,
    zones TEXT NOT NULL,
    direction TEXT NOT NULL,
    colour TEXT,
    colour_confidence REAL,
    preview BLOB
);
CREATE INDEX IF NOT EXISTS tracks_first ON tracks(first_seen);
CREATE INDEX IF NOT EXISTS tracks_label_first ON tracks(label, first_seen);
CREATE INDEX IF NOT EXISTS tracks_colour_first ON tracks(colour, first_seen);
"""


class TrackIndex:
    """The index file (``<data_dir>/index.sqlite``); safe to use from several threads."""

    def __init__(self, path: Path):
        self.path = path
        path.parent.mkdir(parents=True, exist_ok=True)
        self._conn = sqlite3.connect(str(path), check_same_thread=False, isolation_level=None)
        self._conn.execute("PRAGMA journal_mode=WAL")
        self._conn.execute("PRAGMA synchronous=NORMAL")
        self._conn.executescript(_SCHEMA)
        self._lock = threading.Lock()
        row = self._conn.execute("SELECT MAX(last_seen - first_seen) FROM tracks").fetchone()
        self._max_span = float(row[0] or 0.0)

    @staticmethod
    def check(row: IndexRow) -> None:
        """Refuse a row the index may not hold."""
        if row.direction not in DIRECTIONS:
            raise IndexError_(f"direction {row.direction!r} is not one of {DIRECTIONS}")
        if row.last_seen < row.first_seen:
            raise IndexError_("last_seen is before first_seen")
        if row.label not in VEHICLES and (row.colour is not None or row.preview is not None):
            raise IndexError_(f"a {row.label} track may carry no colour and no preview "
                              "(only vehicles get attributes)")

    def add(self, row: IndexRow) -> int:
        """Store one finished track; returns its row id."""
        return self.add_many([row])[-1]

    def add_many(self, rows: Iterable[IndexRow]) -> list[int]:
        """Store many rows in one transaction (benchmarks fill 200,000 at once)."""
        ids: list[int] = []
        with self._lock:
            self._conn.execute("BEGIN")
            try:
                for r in rows:
                    self.check(r)
                    cur = self._conn.execute(
                        "INSERT INTO tracks (label, first_seen, last_seen, zones, direction, colour,"
                        " colour_confidence, preview) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                        (r.label, r.first_seen, r.last_seen, _zones_text(r.zones), r.direction,
                         r.colour, r.colour_confidence, r.preview),
                    )
                    ids.append(int(cur.lastrowid or 0))
                    self._max_span = max(self._max_span, r.last_seen - r.first_seen)
                self._conn.execute("COMMIT")
            except BaseException:
                if self._conn.in_transaction:  # SQLite ends it itself on a full disk
                    self._conn.execute("ROLLBACK")
                raise
        return ids

    def query(self, q: IndexQuery, with_previews: bool = True) -> list[IndexRow]:
        """Tracks seen during ``[q.start, q.end]`` matching the filters, oldest first."""
        clauses = ["first_seen >= ?", "first_seen <= ?", "last_seen >= ?"]
        params: list[object] = [q.start - self._max_span, q.end, q.start]
        if q.label is not None:
            clauses.append("label = ?")
            params.append(q.label)
        if q.colour is not None:
            clauses.append("colour = ?")
            params.append(q.colour)
        if q.zone is not None:
            clauses.append("instr(zones, ?) > 0")
            params.append(f",{q.zone},")
        if q.direction is not None:
            clauses.append("direction = ?")
            params.append(q.direction)
        cols = "id, label, first_seen, last_seen, zones, direction, colour, colour_confidence"
        cols += ", preview" if with_previews else ", NULL"
        sql = f"SELECT {cols} FROM tracks WHERE {' AND '.join(clauses)} ORDER BY first_seen LIMIT ?"
        with self._lock:
            found = self._conn.execute(sql, [*params, q.limit]).fetchall()
        return [
            IndexRow(label=r[1], first_seen=r[2], last_seen=r[3],
                     zones=tuple(z for z in r[4].split(",") if z), direction=r[5], colour=r[6],
                     colour_confidence=r[7], preview=r[8], id=r[0])
            for r in found
        ]

    def oldest(self) -> float | None:
        with self._lock:
            row = self._conn.execute("SELECT MIN(first_seen) FROM tracks").fetchone()
        return None if row[0] is None else float(row[0])

    def count(self) -> int:
        with self._lock:
            return int(self._conn.execute("SELECT COUNT(*) FROM tracks").fetchone()[0])

    def purge(self, retention_days: float, now: float | None = None) -> int:
        """Delete rows (and their previews) last seen before ``now - retention_days``."""
        cutoff = (now if now is not None else time.time()) - retention_days * 86400
        with self._lock:
            n = self._conn.execute("DELETE FROM tracks WHERE last_seen < ?", [cutoff]).rowcount
        if n:
            log.info("index: purged %d track(s) older than %g day(s)", n, retention_days)
        return int(n)

    def close(self) -> None:
        with self._lock:
            self._conn.close()


def _zones_text(zones: Sequence[str]) -> str:
    """``,a,b,``: a zone name (no commas: NAME_PATTERN) matches as ``,name,``."""
    return "," + ",".join(zones) + "," if zones else ""
