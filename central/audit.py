"""The audit trail: every look and every decision at the hub writes one row."""

from __future__ import annotations

import logging
import time

import sqlite_utils

log = logging.getLogger(__name__)


def record(db: sqlite_utils.Database, actor: str, action: str, subject: str, why: str = "") -> None:
    """Append who did what to which subject, and why. Rows are never updated or deleted."""
    with db.conn:
        db.execute(
            "INSERT INTO audit (ts, actor, action, subject, why) VALUES (?, ?, ?, ?, ?)",
            [time.time(), actor, action, subject, why],
        )
    log.info("audit: %s %s %s", actor, action, subject)


def record_once(db: sqlite_utils.Database, actor: str, action: str, subject: str, why: str,
                within_s: float) -> bool:
    """Append the row unless the same action, subject and why was recorded in the last
    ``within_s`` seconds (checked and written in one write transaction, so parallel requests
    write one row). For floods: a refused request repeated a thousand times is one fact."""
    now = time.time()
    with db.conn:
        db.execute("BEGIN IMMEDIATE")
        if db.execute("SELECT 1 FROM audit WHERE subject = ? AND action = ? AND why = ? AND ts > ? "
                      "LIMIT 1", [subject, action, why, now - within_s]).fetchone():
            return False
        db.execute("INSERT INTO audit (ts, actor, action, subject, why) VALUES (?, ?, ?, ?, ?)",
                   [now, actor, action, subject, why])
    log.info("audit: %s %s %s", actor, action, subject)
    return True
