"""The hub's SQLite database (sqlite-utils, WAL), its schema migrations and queries.

Tables: ``events`` (one row per event id; start and end messages update the same row),
``cameras`` (last state, health and clock skew per camera), ``quarantine`` (what a refused
or unstorable message was and why; never its payload, see :mod:`central.ingest.quarantine`) and
``audit`` (who did what, when, why).
"""

from __future__ import annotations

import json
import logging
import sqlite3
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import sqlite_utils

from central.ingest.quarantine import Refused

log = logging.getLogger(__name__)


def _m1(db: sqlite_utils.Database) -> None:
    db.table("events").create(
        {
            "id": str, "site": str, "camera": str, "type": str, "state": str, "severity": str,
            "started_at": str, "ended_at": str, "zone": str, "objects": str, "measure": str,
            "model": str, "clip": str, "seq": int, "payload": str, "received_at": float,
            "updated_at": float, "status": str, "acked_by": str, "acked_at": float,
            "ack_comment": str,
        },
        pk="id",
        not_null={"site", "camera", "type", "state", "payload", "status"},
        defaults={"status": "new"},
    )
    db.table("events").create_index(["status", "started_at"])
    db.table("events").create_index(["site", "camera", "started_at"])
    db.table("cameras").create(
        {"key": str, "site": str, "camera": str, "state": str, "state_at": float,
         "last_seen": float, "health": str},
        pk="key",
    )
    db.table("rejected").create(
        {"id": int, "received_at": float, "topic": str, "bytes": int, "reason": str}, pk="id"
    )
    db.table("audit").create(
        {"id": int, "ts": float, "actor": str, "action": str, "subject": str, "why": str},
        pk="id",
    )


def _m_stats(db: sqlite_utils.Database) -> None:
    """``stats``: one row per box and statistics interval (``vigie.stats/1``)."""
    db.table("stats").create(
        {"key": str, "site": str, "camera": str, "interval_start": str, "interval_end": str,
         "lines": str, "zones": str, "seq": int, "received_at": float},
        pk="key",
        not_null={"site", "camera", "interval_start", "interval_end", "lines", "zones"},
    )
    db.table("stats").create_index(["site", "camera", "interval_start"])


def _m_clips(db: sqlite_utils.Database) -> None:
    """Clips received from boxes: one per event, the file named by its sha256."""
    db.table("clips").create(
        {"event_id": str, "site": str, "camera": str, "sha256": str, "bytes": int,
         "duration_s": float, "frames": int, "width": int, "height": int, "stored_at": float},
        pk="event_id",
        not_null={"site", "camera", "sha256", "bytes", "stored_at"},
    )
    db.table("clips").create_index(["sha256"])
    db.table("events").create_index(["started_at"], if_not_exists=True)


def _m_users(db: sqlite_utils.Database) -> None:
    """People, their server-side sessions, login attempts and per-integration API tokens."""
    db.execute(
        "CREATE TABLE users (id INTEGER PRIMARY KEY, username TEXT NOT NULL UNIQUE, "
        "password_hash TEXT NOT NULL, role TEXT NOT NULL, disabled INTEGER NOT NULL DEFAULT 0, "
        "created_at REAL NOT NULL, updated_at REAL NOT NULL)"
    )
    db.execute(
        "CREATE TABLE sessions (id TEXT PRIMARY KEY, user_id INTEGER NOT NULL REFERENCES users(id), "
        "csrf TEXT NOT NULL, created_at REAL NOT NULL, last_seen REAL NOT NULL, ip TEXT)"
    )
    db.execute(
        "CREATE TABLE login_attempts (id INTEGER PRIMARY KEY, ts REAL NOT NULL, "
        "username TEXT NOT NULL, ip TEXT NOT NULL, ok INTEGER NOT NULL)"
    )
    db.execute("CREATE INDEX login_attempts_ts ON login_attempts(ts)")
    db.execute(
        "CREATE TABLE api_clients (id INTEGER PRIMARY KEY, name TEXT NOT NULL UNIQUE, "
        "token_sha256 TEXT NOT NULL UNIQUE, role TEXT NOT NULL, "
        "disabled INTEGER NOT NULL DEFAULT 0, created_at REAL NOT NULL)"
    )


def _m_alert_workflow(db: sqlite_utils.Database) -> None:
    """Resolution (outcome, comment), assignment, and indexes for search and statistics."""
    for col, kind in (("outcome", "TEXT"), ("resolved_by", "TEXT"), ("resolved_at", "REAL"),
                      ("resolve_comment", "TEXT"), ("assigned_to", "TEXT")):
        db.execute(f"ALTER TABLE events ADD COLUMN {col} {kind}")
    db.execute("CREATE INDEX events_type_started ON events(type, started_at)")
    db.execute("CREATE INDEX events_outcome ON events(outcome)")
    db.execute("CREATE INDEX audit_subject ON audit(subject, ts)")


def _m_forensic(db: sqlite_utils.Database) -> None:
    """Forensic searches: the request, each camera asked, the results with previews."""
    db.execute(
        "CREATE TABLE searches (id TEXT PRIMARY KEY, requester TEXT NOT NULL, case_ref TEXT NOT NULL,"
        " reason TEXT NOT NULL, created_at REAL NOT NULL, deadline REAL NOT NULL,"
        " expires_at REAL NOT NULL, window_start TEXT NOT NULL, window_end TEXT NOT NULL,"
        " query TEXT NOT NULL, asked INTEGER NOT NULL)"
    )
    db.execute("CREATE INDEX searches_requester ON searches(requester, created_at)")
    db.execute("CREATE INDEX searches_case ON searches(case_ref, created_at)")
    db.execute(
        "CREATE TABLE search_cameras (search_id TEXT NOT NULL REFERENCES searches(id),"
        " site TEXT NOT NULL, camera TEXT NOT NULL, state TEXT NOT NULL, reason TEXT,"
        " results INTEGER NOT NULL DEFAULT 0, parts INTEGER NOT NULL DEFAULT 0, last_part INTEGER,"
        " answered_at REAL, PRIMARY KEY (search_id, site, camera))"
    )
    db.execute(
        "CREATE TABLE search_results (id INTEGER PRIMARY KEY, search_id TEXT NOT NULL,"
        " site TEXT NOT NULL, camera TEXT NOT NULL, row INTEGER NOT NULL, class TEXT NOT NULL,"
        " first_seen TEXT NOT NULL, last_seen TEXT NOT NULL, zones TEXT NOT NULL,"
        " direction TEXT NOT NULL, colour TEXT, colour_confidence REAL, preview BLOB,"
        " UNIQUE (search_id, site, camera, row))"
    )
    db.execute("CREATE INDEX search_results_time ON search_results(search_id, first_seen)")


MIGRATIONS: list[Callable[[sqlite_utils.Database], None]] = [
    _m1, _m_stats, _m_clips, _m_users, _m_alert_workflow,
]
MIGRATIONS.append(_m_forensic)  # keep new migrations at the end


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


def migrate(db: sqlite_utils.Database) -> None:
    """Apply pending migrations. The version is read inside the write transaction, so two
    processes starting together (ingest and web) never apply the same step twice."""
    with db.conn:
        db.execute("BEGIN IMMEDIATE")
        version = db.execute("PRAGMA user_version").fetchone()[0]
        for n, step in enumerate(MIGRATIONS[version:], start=version + 1):
            step(db)
            db.execute(f"PRAGMA user_version = {n}")
            log.info("database migrated to version %d", n)


def upsert_event(db: sqlite_utils.Database, msg: dict[str, Any], payload: str) -> bool:
    """Store an event message idempotently. Returns True when something changed.

    Call inside a write transaction (the ingest writer batches many messages in one).
    A start creates the row; a repeated start changes nothing; an end updates ``state``
    and ``ended_at`` but never the operator's status. An end arriving before its start
    creates the row from the end message. The clip fields only move forward (pending ->
    uploaded/failed), whichever message (start or end) carries them.
    """
    now = time.time()
    row = db.execute("SELECT state, clip, site, camera, type FROM events WHERE id = ?",
                     [msg["id"]]).fetchone()
    if row is not None:
        check_owner(msg, row[2], row[3], row[4])
    if row is None:
        record = {
            "id": msg["id"], "site": msg["site"], "camera": msg["camera"],
            "type": msg["type"], "state": msg["state"], "severity": msg["severity"],
            "started_at": msg["started_at"], "ended_at": msg["ended_at"],
            "zone": msg["zone"], "objects": json.dumps(msg["objects"]),
            "measure": json.dumps(msg["measure"]), "model": json.dumps(msg["model"]),
            "clip": json.dumps(msg["clip"]), "seq": msg["seq"], "payload": payload,
            "received_at": now, "updated_at": now, "status": "new",
        }
        cols = ", ".join(record)
        marks = ", ".join("?" for _ in record)
        db.execute(f"INSERT INTO events ({cols}) VALUES ({marks})", list(record.values()))
        return True
    changed = False
    if row[0] == "start" and msg["state"] == "end":
        db.execute(
            "UPDATE events SET state='end', ended_at=?, updated_at=? WHERE id=?",
            [msg["ended_at"], now, msg["id"]],
        )
        changed = True
    if clip_advances(row[1], msg["clip"]):
        db.execute("UPDATE events SET clip=?, updated_at=? WHERE id=?",
                   [json.dumps(msg["clip"]), now, msg["id"]])
        changed = True
    return changed


def check_owner(msg: dict[str, Any], site: str, camera: str, type_: str) -> None:
    """An event id belongs to the camera that first sent it: refuse (``spoof``) a message
    about that id from any other camera, or one that changes what kind of event it is."""
    if (msg["site"], msg["camera"]) != (site, camera):
        raise Refused(f"spoof: event {msg['id']} belongs to {site}/{camera}", "spoof")
    if msg["type"] != type_:
        raise Refused(f"spoof: event {msg['id']} is a {type_} event, not {msg['type']}", "spoof")


_CLIP_RANK = {"none": 0, "pending": 1, "uploaded": 2, "failed": 2}


def clip_advances(stored: str | None, incoming: dict[str, Any]) -> bool:
    """Whether an incoming clip status moves the stored one forward (none -> pending ->
    uploaded/failed); a repeated or older status changes nothing (idempotent)."""
    old = json.loads(stored) if stored else {"status": "none", "sha256": None}
    return bool(_CLIP_RANK.get(incoming["status"], 0) > _CLIP_RANK.get(str(old.get("status")), 0))


CAMERA_FIELDS = ("state", "state_at", "health", "clock_skew_s", "clock_skew_at")


def camera_seen(db: sqlite_utils.Database, site: str, camera: str, **fields: Any) -> None:
    """Record that a camera was heard from now, updating the given fields."""
    unknown = set(fields) - set(CAMERA_FIELDS)
    if unknown:
        raise ValueError(f"unknown camera fields {sorted(unknown)}")
    record = {"key": f"{site}/{camera}", "site": site, "camera": camera,
              "last_seen": time.time(), **fields}
    cols = ", ".join(record)
    marks = ", ".join("?" for _ in record)
    updates = ", ".join(f"{c} = excluded.{c}" for c in record if c != "key")
    db.execute(
        f"INSERT INTO cameras ({cols}) VALUES ({marks}) ON CONFLICT(key) DO UPDATE SET {updates}",
        list(record.values()),
    )


def event_row(row: dict[str, Any]) -> dict[str, Any]:
    """An events row as the API shows it."""
    out = {k: row[k] for k in ("id", "site", "camera", "type", "state", "severity",
                                "started_at", "ended_at", "zone", "seq", "status",
                                "acked_by", "ack_comment")}
    for k in ("objects", "measure", "model", "clip"):
        out[k] = json.loads(row[k]) if row[k] else None
    out["acked_at"] = row["acked_at"]
    out["received_at"] = row["received_at"]
    for k in ("outcome", "resolved_by", "resolved_at", "resolve_comment", "assigned_to"):
        out[k] = row.get(k)
    return out


def insert_stats(db: sqlite_utils.Database, msg: dict[str, Any]) -> bool:
    """Store one statistics interval idempotently (key: site/camera/interval start).

    Call inside a write transaction, like :func:`upsert_event`.
    """
    key = f"{msg['site']}/{msg['camera']}/{msg['interval_start']}"
    cur = db.execute(
        "INSERT OR IGNORE INTO stats (key, site, camera, interval_start, interval_end, lines, zones,"
        " seq, received_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
        [key, msg["site"], msg["camera"], msg["interval_start"], msg["interval_end"],
         json.dumps(msg["lines"]), json.dumps(msg["zones"]), msg["seq"], time.time()],
    )
    return bool(cur.rowcount)


def _m_privacy_ledger(db: sqlite_utils.Database) -> None:
    """Box keys, receipts of everything a box sent, ledger digests and their entries,
    privacy alerts, and an append-only audit table (UPDATE and DELETE refused by triggers)."""
    db.execute(
        "CREATE TABLE devices (key TEXT PRIMARY KEY, site TEXT NOT NULL, camera TEXT NOT NULL, "
        "public_key TEXT NOT NULL, enrolled_at REAL NOT NULL, enrolled_by TEXT NOT NULL)"
    )
    db.execute(
        "CREATE TABLE receipts (id INTEGER PRIMARY KEY, site TEXT NOT NULL, camera TEXT NOT NULL, "
        "kind TEXT NOT NULL, dest TEXT NOT NULL, sha256 TEXT NOT NULL, bytes INTEGER NOT NULL, "
        "seq INTEGER, received_at REAL NOT NULL, dup INTEGER NOT NULL DEFAULT 0, "
        "retained INTEGER NOT NULL DEFAULT 0, valid INTEGER NOT NULL, reason TEXT)"
    )
    db.execute("CREATE INDEX receipts_camera ON receipts(site, camera, received_at)")
    db.execute(
        "CREATE TABLE digests (id INTEGER PRIMARY KEY, site TEXT NOT NULL, camera TEXT NOT NULL, "
        "sha256 TEXT NOT NULL UNIQUE, ts TEXT NOT NULL, received_at REAL NOT NULL, "
        "first_seq INTEGER, head_seq INTEGER NOT NULL, head TEXT NOT NULL, n INTEGER NOT NULL, "
        "seq INTEGER NOT NULL, sig_ok INTEGER)"
    )
    db.execute("CREATE INDEX digests_camera ON digests(site, camera, received_at)")
    db.execute(
        "CREATE TABLE ledger_entries (id INTEGER PRIMARY KEY, site TEXT NOT NULL, "
        "camera TEXT NOT NULL, digest_id INTEGER NOT NULL REFERENCES digests(id), "
        "pos INTEGER NOT NULL, seq INTEGER NOT NULL, ts REAL NOT NULL, kind TEXT NOT NULL, "
        "dest TEXT NOT NULL, bytes INTEGER NOT NULL, sha256 TEXT NOT NULL, prev TEXT NOT NULL, "
        "hash TEXT NOT NULL)"
    )
    db.execute("CREATE INDEX ledger_entries_digest ON ledger_entries(digest_id, pos)")
    db.execute(
        "CREATE TABLE privacy_alerts (id INTEGER PRIMARY KEY, key TEXT NOT NULL UNIQUE, "
        "site TEXT NOT NULL, camera TEXT NOT NULL, seq INTEGER, kind TEXT NOT NULL, "
        "detail TEXT NOT NULL, raised_at REAL NOT NULL)"
    )
    db.execute("CREATE INDEX privacy_alerts_camera ON privacy_alerts(site, camera, raised_at)")
    db.execute("CREATE TABLE settings (key TEXT PRIMARY KEY, value TEXT NOT NULL, "
               "updated_at REAL NOT NULL, updated_by TEXT NOT NULL)")
    db.execute("CREATE TRIGGER audit_no_update BEFORE UPDATE ON audit "
               "BEGIN SELECT RAISE(ABORT, 'the audit log is append-only'); END")
    db.execute("CREATE TRIGGER audit_no_delete BEFORE DELETE ON audit "
               "BEGIN SELECT RAISE(ABORT, 'the audit log is append-only'); END")


MIGRATIONS.append(_m_privacy_ledger)


def _m_clip_pending(db: sqlite_utils.Database) -> None:
    """A small partial index of events whose clip is still pending, for the hub's deadline."""
    db.execute("CREATE INDEX events_clip_pending ON events(received_at) "
               "WHERE json_extract(clip, '$.status') = 'pending'")


MIGRATIONS.append(_m_clip_pending)


def _m_quarantine(db: sqlite_utils.Database) -> None:
    """``quarantine`` replaces ``rejected`` (kept as a view of it): refused and unstorable
    messages with the payload's sha256 and a category; each camera's last measured clock skew;
    each search's result limit and the parts every camera answered (limit, last part and
    duplicates are enforced); events and quarantine purged by reception time."""
    db.execute(
        "CREATE TABLE quarantine (id INTEGER PRIMARY KEY, received_at REAL NOT NULL, site TEXT, "
        "camera TEXT, topic TEXT NOT NULL, sha256 TEXT, bytes INTEGER NOT NULL, "
        "category TEXT NOT NULL, reason TEXT NOT NULL)"
    )
    db.execute("INSERT INTO quarantine (received_at, topic, bytes, category, reason) "
               "SELECT received_at, topic, bytes, 'invalid', reason FROM rejected")
    db.execute("DROP TABLE rejected")
    db.execute("CREATE VIEW rejected AS SELECT id, received_at, topic, bytes, reason FROM quarantine")
    db.execute("CREATE INDEX quarantine_time ON quarantine(received_at)")
    db.execute("CREATE INDEX quarantine_category ON quarantine(category, id)")
    db.execute("CREATE INDEX events_received ON events(received_at)")
    db.execute("ALTER TABLE cameras ADD COLUMN clock_skew_s REAL")
    db.execute("ALTER TABLE cameras ADD COLUMN clock_skew_at REAL")
    db.execute("ALTER TABLE searches ADD COLUMN result_limit INTEGER")
    db.execute(
        "CREATE TABLE search_parts (search_id TEXT NOT NULL, site TEXT NOT NULL, "
        "camera TEXT NOT NULL, part INTEGER NOT NULL, received_at REAL NOT NULL, "
        "PRIMARY KEY (search_id, site, camera, part))"
    )


MIGRATIONS.append(_m_quarantine)


def get_db() -> Any:
    """The request's database connection."""
    from flask import current_app, g

    if "db" not in g:
        g.db = connect(current_app.config["DATABASE"])
    return g.db
