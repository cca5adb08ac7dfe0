"""What the hub stores (data inventory), the retention in force, and each camera's egress status.

The retention is the hub config's ``retention_days`` unless the privacy officer set another
value on the retention page (table ``settings``); either way never more than
:data:`LEGAL_MAX_DAYS` (French law: 30 days).
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from typing import Any

import sqlite_utils

from edge.wire.messages import utc_iso

log = logging.getLogger(__name__)

LEGAL_MAX_DAYS = 30
DAY_S = 86400.0
RETENTION_KEY = "retention_days"


class RetentionError(ValueError):
    """A retention the law or the hub does not allow (the text says why)."""


def retention_days(db: sqlite_utils.Database, configured: int) -> int:
    """The retention in force: the officer's setting if any, else the configured one."""
    row = db.execute("SELECT value FROM settings WHERE key = ?", [RETENTION_KEY]).fetchone()
    try:
        days = int(row[0]) if row else configured
    except ValueError:
        days = configured
    return min(days, LEGAL_MAX_DAYS)


def set_retention(db: sqlite_utils.Database, days_text: str, actor: str) -> int:
    """Set the retention (days); refuses anything outside 1..30."""
    try:
        days = int(days_text.strip())
    except ValueError:
        raise RetentionError(f"{days_text!r} is not a whole number of days") from None
    if days < 1:
        raise RetentionError("retention must be at least 1 day")
    if days > LEGAL_MAX_DAYS:
        raise RetentionError(f"{days} days exceeds the legal maximum of {LEGAL_MAX_DAYS} days "
                             "(French internal security code, video-protection images)")
    with db.conn:
        db.execute(
            "INSERT INTO settings (key, value, updated_at, updated_by) VALUES (?, ?, ?, ?) "
            "ON CONFLICT(key) DO UPDATE SET value = excluded.value, updated_at = excluded.updated_at, "
            "updated_by = excluded.updated_by", [RETENTION_KEY, str(days), time.time(), actor])
    return days


@dataclass(frozen=True)
class InventoryRow:
    """One kind of stored data."""

    what: str
    holds: str
    count: int
    bytes: int | None
    oldest: str | None
    purge_in_s: float | None
    """Seconds until the oldest item is purged; None when this kind is not purged."""
    policy: str


def _ts_of(iso: str | None) -> float | None:
    if not iso:
        return None
    from datetime import datetime

    try:
        return datetime.fromisoformat(iso.replace("Z", "+00:00")).timestamp()
    except ValueError:
        return None


def inventory(db: sqlite_utils.Database, days: int, now: float | None = None) -> list[InventoryRow]:
    """Counts, bytes, oldest item and time until purge of everything the hub stores."""
    now = time.time() if now is None else now
    keep = days * DAY_S
    ev = db.execute("SELECT COUNT(*), COALESCE(SUM(LENGTH(payload)), 0), MIN(started_at) "
                    "FROM events").fetchone()
    oldest_ev = _ts_of(ev[2])
    cl = db.execute("SELECT COUNT(*), COALESCE(SUM(clips.bytes), 0), MIN(events.started_at), "
                    "MIN(clips.stored_at) FROM clips LEFT JOIN events ON events.id = clips.event_id"
                    ).fetchone()
    oldest_cl = _ts_of(cl[2]) or cl[3]
    st = db.execute("SELECT COUNT(*), COALESCE(SUM(LENGTH(lines) + LENGTH(zones)), 0), "
                    "MIN(interval_start) FROM stats").fetchone()
    au = db.execute("SELECT COUNT(*), MIN(ts) FROM audit").fetchone()
    rc = db.execute("SELECT COUNT(*), MIN(received_at) FROM receipts").fetchone()
    le = db.execute("SELECT COUNT(*), MIN(ts) FROM ledger_entries").fetchone()
    qu = db.execute("SELECT COUNT(*), MIN(received_at) FROM quarantine").fetchone()
    su = db.execute("SELECT COUNT(*), MIN(created_at) FROM suppressions").fetchone()
    rows = [
        InventoryRow("Events", "event messages: type, zone, time, object labels and boxes",
                     ev[0], ev[1], ev[2], max(0.0, oldest_ev + keep - now) if oldest_ev else None,
                     f"purged {days} days after the event started (or was received, if earlier)"),
        InventoryRow("Clips", "anonymised video clips attached to events", cl[0], cl[1],
                     utc_iso(oldest_cl) if oldest_cl else None,
                     max(0.0, oldest_cl + keep - now) if oldest_cl else None,
                     f"purged with their event ({days} days)"),
        InventoryRow("Statistics", "aggregate counts per zone/line and class (no person data)",
                     st[0], st[1], st[2], None, "kept (aggregate, not personal data)"),
        InventoryRow("Egress receipts", "sha256 and size of every message and clip received",
                     rc[0], None, utc_iso(rc[1]) if rc[1] else None, None,
                     "kept (hashes only; the proof of what left the cameras)"),
        InventoryRow("Ledger entries", "the boxes' signed egress-ledger digests (hashes only)",
                     le[0], None, utc_iso(le[1]) if le[1] else None, None, "kept (hashes only)"),
        InventoryRow("Quarantine", "topic, sha256, size and reason of refused or unstorable "
                     "messages (never the payload)", qu[0], None,
                     utc_iso(qu[1]) if qu[1] else None,
                     max(0.0, qu[1] + keep - now) if qu[1] else None,
                     f"purged {days} days after reception"),
        InventoryRow("False-alarm suppressions", "per camera: rule, zone, a region of the "
                     "frame and an expiry, made from false-alarm resolutions (no image, no "
                     "person data)", su[0], None, utc_iso(su[1]) if su[1] else None, None,
                     f"active until expiry (7 days by default); purged {days} days after it ended"),
        InventoryRow("Audit log", "who looked at or changed what, when and why", au[0], None,
                     utc_iso(au[1]) if au[1] else None, None, "kept; append-only"),
    ]
    return rows


def egress_status(db: sqlite_utils.Database) -> list[dict[str, Any]]:
    """Per camera: key registered, digests, last digest, head seq, open privacy alerts."""
    from central.privacy.egress_verify import cameras

    out = []
    for site, cam in cameras(db):
        d = db.execute(
            "SELECT COUNT(*), MAX(received_at), MAX(CASE WHEN sig_ok = 1 THEN head_seq END), "
            "SUM(CASE WHEN sig_ok = 0 THEN 1 ELSE 0 END) FROM digests WHERE site = ? AND camera = ?",
            [site, cam]).fetchone()
        a = db.execute("SELECT COUNT(*), MAX(raised_at) FROM privacy_alerts WHERE site = ? AND camera = ?",
                       [site, cam]).fetchone()
        r = db.execute("SELECT COUNT(*), MAX(received_at) FROM receipts WHERE site = ? AND camera = ?",
                       [site, cam]).fetchone()
        enrolled = db.execute("SELECT enrolled_at FROM devices WHERE key = ?",
                              [f"{site}/{cam}"]).fetchone()
        status = "alert" if a[0] else ("unverified" if not enrolled or not d[0] else "ok")
        out.append({
            "site": site, "camera": cam, "status": status, "enrolled": bool(enrolled),
            "digests": d[0], "last_digest_at": d[1], "head_seq": d[2], "bad_digests": d[3] or 0,
            "receipts": r[0], "last_receipt_at": r[1], "alerts": a[0], "last_alert_at": a[1],
        })
    return out


def privacy_alerts(
    db: sqlite_utils.Database, limit: int = 500, camera: str | None = None,
) -> list[dict[str, Any]]:
    sql = "SELECT id, site, camera, seq, kind, detail, raised_at FROM privacy_alerts"
    params: list[Any] = []
    if camera:
        sql += " WHERE camera = ? OR site || '/' || camera = ?"
        params += [camera, camera]
    return [dict(r) for r in db.query(sql + " ORDER BY id DESC LIMIT ?", [*params, limit])]
