"""The hub's SQLite database (sqlite-utils, WAL): the connection, the request's connection
(:func:`get_db`), schema migrations (:mod:`central.db.migrations`) and queries
(:mod:`central.db.queries`).

Tables: ``events`` (one row per event id; start and end messages update the same row),
``cameras`` (last state, health and clock skew per camera), ``quarantine`` (what a refused
or unstorable message was and why; never its payload, see :mod:`central.ingest.quarantine`) and
``audit`` (who did what, when, why).
"""

from __future__ import annotations

import logging
import sqlite3
from pathlib import Path
from typing import Any

import sqlite_utils

from central.db.migrations import MIGRATIONS, migrate
from central.db.queries import (
    CAMERA_FIELDS,
    camera_seen,
    check_owner,
    clip_advances,
    event_row,
    insert_stats,
    upsert_event,
)

__all__ = ["CAMERA_FIELDS", "MIGRATIONS", "camera_seen", "check_owner", "clip_advances", "connect",
           "event_row", "get_db", "insert_stats", "migrate", "upsert_event"]

log = logging.getLogger(__name__)


def connect(path: Path) -> sqlite_utils.Database:
    """Open (creating and migrating if needed) the hub database in WAL mode."""
    path.parent.mkdir(parents=True, exist_ok=True)
    conn = sqlite3.connect(str(path), timeout=30, check_same_thread=False, isolation_level=None)
    db = sqlite_utils.Database(conn)
    db.execute("PRAGMA journal_mode=WAL")
    db.execute("PRAGMA synchronous=NORMAL")
    db.execute("PRAGMA busy_timeout=30000")
    migrate(db)
    return db


def get_db() -> Any:
    """The request's database connection (opened on first use, closed at teardown)."""
    from flask import current_app, g

    if "db" not in g:
        g.db = connect(current_app.config["DATABASE"])
    return g.db
