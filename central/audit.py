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
