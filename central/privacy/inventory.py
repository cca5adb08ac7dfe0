"""What the hub stores (data inventory), the retention in force, and each camera's egress status.

The retention is the hub config's ``retention_days`` unless the privacy officer set another
value on the retention page (table ``settings``); either way never more than
:data:`LEGAL_MAX_DAYS` (French law: 30 days).
"""

from __future__ import annotations

import dataclasses
import logging
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import sqlite_utils

from central.i18n import N_
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
    """One store: a hub table, the clip files, or a box store (counted on the box)."""

    name: str
    """The table or store name, as in the processing register."""
    where: str
    what: str
    holds: str
    count: int | None
    """None: kept on the boxes only (``vigie edge stores CONFIG`` counts it there)."""
    bytes: int | None
    oldest: str | None
    purge_in_s: float | None
    """Seconds until the oldest item is purged; None when this kind is not purged by age."""
    policy: str


PREVIEWS = N_("the anonymised vehicle preview stills of the search results (none for persons)")
BYTES = {"events": "SUM(LENGTH(payload))", "clips": "SUM(bytes)",
         "stats": "SUM(LENGTH(lines) + LENGTH(zones))", "search_results": "SUM(LENGTH(preview))",
         "receipts": "SUM(bytes)"}
"""How to size a table's personal content, where it means something."""


def _ts_of(value: object) -> float | None:
    """Epoch seconds of a stored time (epoch number or ISO 8601 text)."""
    if value is None or value == "":
        return None
    if isinstance(value, (int, float)):
        return float(value)
    from datetime import datetime

    try:
        return datetime.fromisoformat(str(value).replace("Z", "+00:00")).timestamp()
    except ValueError:
        return None


def _table_row(db: sqlite_utils.Database, name: str, ctx: Any, keep: float, now: float,
               where: str | None = None, label: str | None = None) -> InventoryRow:
    from central.privacy.processings import HUB_TABLES
    from central.privacy.register_sections import retention_text

    _ = ctx.gettext
    d = HUB_TABLES.get(name)
    size = BYTES.get(name)
    cols = ["COUNT(*)", f"COALESCE({size}, 0)" if size else "NULL",
            f"MIN({d.oldest})" if d and d.oldest else "NULL"]
    sql = f"SELECT {', '.join(cols)} FROM {name}" + (f" WHERE {where}" if where else "")
    count, size_b, oldest_raw = db.execute(sql).fetchone()
    oldest = _ts_of(oldest_raw)
    purged = d is not None and d.retention in ("hub", "search") and oldest is not None
    return InventoryRow(
        name=label or name, where=_("hub"), what=_(d.purpose) if d else "?",
        holds=_(d.data) if d else _("NOT DESCRIBED: add it to central/privacy/processings.py"),
        count=int(count), bytes=int(size_b) if size_b is not None else None,
        oldest=utc_iso(oldest) if oldest is not None else None,
        purge_in_s=max(0.0, oldest + keep - now) if purged and oldest is not None else None,
        policy=retention_text(d.retention, ctx) if d else "?")


def _files(root: Path, ctx: Any, keep: float, now: float, name: str, holds: str, data: str,
           skip: str | None = None) -> InventoryRow:
    """A folder of files on the hub's disk: count, bytes, oldest (``skip``: a subfolder that
    has its own row)."""
    _ = ctx.gettext
    n = size = 0
    oldest: float | None = None
    for f in root.rglob("*") if root.is_dir() else ():
        if f.is_file() and not (skip and f.relative_to(root).parts[0] == skip):
            st = f.stat()
            n, size = n + 1, size + st.st_size
            oldest = st.st_mtime if oldest is None else min(oldest, st.st_mtime)
    return InventoryRow(
        name, _("hub disk"), _(holds), _(data), n, size, utc_iso(oldest) if oldest else None,
        max(0.0, oldest + keep - now) if oldest else None,
        _("deleted with the last event that uses them"))


def inventory(db: sqlite_utils.Database, days: int, now: float | None = None,
              language: str = "fr", clips_dir: Path | None = None,
              gettext: Any | None = None) -> list[InventoryRow]:
    """Every store: each hub table (counts, bytes, oldest row, time until purge), the search
    results' previews, the clip files, and what only the boxes keep."""
    from central.i18n import translator
    from central.privacy.processings import BOX_STORES
    from central.privacy.register_sections import Context, hub_tables, retention_text

    now = time.time() if now is None else now
    keep = days * DAY_S
    ctx = Context(gettext or translator(language), days, [])
    _ = ctx.gettext
    tables = [t for t in hub_tables(db) if t != "rejected"]  # a view of the quarantine
    rows = [_table_row(db, t, ctx, keep, now) for t in tables]
    at = next(i for i, r in enumerate(rows) if r.name == "search_results") + 1 \
        if "search_results" in tables else len(rows)
    if "search_results" in tables:
        previews = _table_row(db, "search_results", ctx, keep, now, where="preview IS NOT NULL",
                              label="search_results.preview")
        rows.insert(at, dataclasses.replace(previews, holds=_(PREVIEWS)))
    if clips_dir is not None:
        rows.append(_files(clips_dir, ctx, keep, now, "clips/",
                           N_("the clip files the clip rows point to"), N_("anonymised WebM clips"),
                           skip="stills"))
        rows.append(_files(clips_dir / "stills", ctx, keep, now, "clips/stills/",
                           N_("the still of each event start, named in its event"),
                           N_("anonymised JPEG stills (zone and boxes drawn)")))
    rows += [InventoryRow(n, _("each box"), _(d.purpose), _(d.data), None, None, None, None,
                          retention_text(d.retention, ctx)) for n, d in BOX_STORES.items()]
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
