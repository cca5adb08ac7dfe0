"""The hub database's schema migrations: named, in order, each recorded by name once applied.

:data:`MIGRATIONS` is the one list of schema changes, in the order they are applied. A
database records every migration applied to it in ``_migrations`` (name, time applied);
:func:`migrate` applies, in order, those not recorded yet, inside one write transaction, so
two processes starting together (ingest and web) never apply the same one twice. New
migrations go at the end; one already released is never renamed, reordered or removed.

Databases made before migrations had names counted them in ``PRAGMA user_version`` (the
number of migrations applied, in list order): the first time such a database is opened,
the names of those first ``user_version`` migrations are recorded (``applied_at`` NULL:
applied, time unknown) without running them again, then the rest are applied.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable

import sqlite_utils

log = logging.getLogger(__name__)

Migration = Callable[[sqlite_utils.Database], None]
SCHEMA_TABLE = "_migrations"


def _events_cameras_audit(db: sqlite_utils.Database) -> None:
    """Events, cameras, refused messages (``rejected``) and the audit log."""
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


def _stats(db: sqlite_utils.Database) -> None:
    """``stats``: one row per box and statistics interval (``vigie.stats/1``)."""
    db.table("stats").create(
        {"key": str, "site": str, "camera": str, "interval_start": str, "interval_end": str,
         "lines": str, "zones": str, "seq": int, "received_at": float},
        pk="key",
        not_null={"site", "camera", "interval_start", "interval_end", "lines", "zones"},
    )
    db.table("stats").create_index(["site", "camera", "interval_start"])


def _clips(db: sqlite_utils.Database) -> None:
    """Clips received from boxes: one per event, the file named by its sha256."""
    db.table("clips").create(
        {"event_id": str, "site": str, "camera": str, "sha256": str, "bytes": int,
         "duration_s": float, "frames": int, "width": int, "height": int, "stored_at": float},
        pk="event_id",
        not_null={"site", "camera", "sha256", "bytes", "stored_at"},
    )
    db.table("clips").create_index(["sha256"])
    db.table("events").create_index(["started_at"], if_not_exists=True)


def _users_sessions_tokens(db: sqlite_utils.Database) -> None:
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


def _alert_workflow(db: sqlite_utils.Database) -> None:
    """Resolution (outcome, comment), assignment, and indexes for event search and statistics."""
    for col, kind in (("outcome", "TEXT"), ("resolved_by", "TEXT"), ("resolved_at", "REAL"),
                      ("resolve_comment", "TEXT"), ("assigned_to", "TEXT")):
        db.execute(f"ALTER TABLE events ADD COLUMN {col} {kind}")
    db.execute("CREATE INDEX events_type_started ON events(type, started_at)")
    db.execute("CREATE INDEX events_outcome ON events(outcome)")
    db.execute("CREATE INDEX audit_subject ON audit(subject, ts)")


def _forensic_searches(db: sqlite_utils.Database) -> None:
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


def _privacy_ledger(db: sqlite_utils.Database) -> None:
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


def _clip_pending_index(db: sqlite_utils.Database) -> None:
    """A small partial index of events whose clip is still pending, for the hub's deadline."""
    db.execute("CREATE INDEX events_clip_pending ON events(received_at) "
               "WHERE json_extract(clip, '$.status') = 'pending'")


def _quarantine_and_search_parts(db: sqlite_utils.Database) -> None:
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


def _user_language(db: sqlite_utils.Database) -> None:
    """Each person's language for pages and reports (NULL: the hub's default)."""
    db.execute("ALTER TABLE users ADD COLUMN language TEXT")


def _camera_plan(db: sqlite_utils.Database) -> None:
    """Each camera's label and position on the site plan (fractions of the plan's width and
    height), and the site plan image itself (one row: re-encoded, metadata stripped)."""
    db.execute("ALTER TABLE cameras ADD COLUMN label TEXT")
    db.execute("ALTER TABLE cameras ADD COLUMN plan_x REAL")
    db.execute("ALTER TABLE cameras ADD COLUMN plan_y REAL")
    db.execute(
        "CREATE TABLE site_plan (id INTEGER PRIMARY KEY CHECK (id = 1), image BLOB NOT NULL, "
        "mime TEXT NOT NULL, width INTEGER NOT NULL, height INTEGER NOT NULL, "
        "sha256 TEXT NOT NULL, uploaded_by TEXT NOT NULL, uploaded_at REAL NOT NULL)"
    )


def _alert_triage(db: sqlite_utils.Database) -> None:
    """Escalation and per-alert silencing on events, an index for the live pages' change
    check, and the supervisors' written procedures per event type (and camera)."""
    for col, kind in (("escalated_at", "REAL"), ("muted_at", "REAL"), ("muted_by", "TEXT")):
        db.execute(f"ALTER TABLE events ADD COLUMN {col} {kind}")
    db.execute("CREATE INDEX events_updated ON events(updated_at)")
    db.execute("CREATE INDEX events_escalation ON events(status, severity, received_at) "
               "WHERE escalated_at IS NULL")
    db.execute(
        "CREATE TABLE procedures (id INTEGER PRIMARY KEY, type TEXT NOT NULL, "
        "camera TEXT NOT NULL DEFAULT '', text TEXT NOT NULL, updated_at REAL NOT NULL, "
        "updated_by TEXT NOT NULL, UNIQUE (type, camera))"
    )


def _event_stills(db: sqlite_utils.Database) -> None:
    """The anonymised still of an event start: ``events.still`` is JSON ``{sha256, bytes,
    width, height, taken_at, stored_at}`` (the file is named by its hash), NULL without one;
    it goes with its event (retention). And a partial index of clips being made, as the one of
    pending clips, for the hub's deadline."""
    db.execute("ALTER TABLE events ADD COLUMN still TEXT")
    db.execute("CREATE INDEX events_clip_making ON events(received_at) "
               "WHERE json_extract(clip, '$.status') = 'making'")


def _suppressions(db: sqlite_utils.Database) -> None:
    """False-alarm suppressions (per camera: rule, zone, normalised rectangle, source alert,
    expiry, state) and the last signed set sent to each camera (central.suppressions)."""
    db.execute(
        "CREATE TABLE suppressions (id TEXT PRIMARY KEY, site TEXT NOT NULL, camera TEXT NOT NULL,"
        " rule TEXT NOT NULL, zone TEXT, x REAL NOT NULL, y REAL NOT NULL, w REAL NOT NULL, "
        "h REAL NOT NULL, source_event TEXT, created_at REAL NOT NULL, created_by TEXT NOT NULL, "
        "expires_at REAL NOT NULL, state TEXT NOT NULL DEFAULT 'active', ended_at REAL, "
        "ended_by TEXT, events INTEGER NOT NULL DEFAULT 1)")
    db.execute("CREATE INDEX suppressions_camera ON suppressions(site, camera, state)")
    db.execute("CREATE TABLE suppression_sets (site TEXT NOT NULL, camera TEXT NOT NULL, "
               "version INTEGER NOT NULL, signed_at REAL NOT NULL, published_at REAL, "
               "PRIMARY KEY (site, camera))")


MIGRATIONS: tuple[tuple[str, Migration], ...] = (
    ("events_cameras_audit", _events_cameras_audit),
    ("stats", _stats),
    ("clips", _clips),
    ("users_sessions_tokens", _users_sessions_tokens),
    ("alert_workflow", _alert_workflow),
    ("forensic_searches", _forensic_searches),
    ("privacy_ledger", _privacy_ledger),
    ("clip_pending_index", _clip_pending_index),
    ("quarantine_and_search_parts", _quarantine_and_search_parts),
    ("user_language", _user_language),
    ("camera_plan", _camera_plan),
    ("alert_triage", _alert_triage),
    ("event_stills", _event_stills),
    ("false_alarm_suppressions", _suppressions),
)
"""Every schema change, in the order applied (append new ones at the end)."""


def names() -> tuple[str, ...]:
    """The migrations' names, in order."""
    return tuple(name for name, _ in MIGRATIONS)


def migrate(db: sqlite_utils.Database) -> list[str]:
    """Apply, in order, the migrations this database has not recorded; returns their names.

    The record is read inside the write transaction, so concurrent starts apply each once."""
    applied: list[str] = []
    with db.conn:
        db.execute("BEGIN IMMEDIATE")
        done = _recorded(db)
        for name, step in MIGRATIONS:
            if name in done:
                continue
            step(db)
            db.execute(f"INSERT INTO {SCHEMA_TABLE} (name, applied_at) VALUES (?, ?)",
                       [name, time.time()])
            log.info("database migration %s applied", name)
            applied.append(name)
    unknown = sorted(done - set(names()))
    if unknown:
        log.warning("the database records migrations this hub does not know (%s): was it made "
                    "by a newer hub?", ", ".join(unknown))
    return applied


def _recorded(db: sqlite_utils.Database) -> set[str]:
    """The names of the migrations applied; makes the schema table on first use, recording
    the migrations a database numbered by ``PRAGMA user_version`` already has."""
    exists = db.execute("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?",
                        [SCHEMA_TABLE]).fetchone()
    if not exists:
        db.execute(f"CREATE TABLE {SCHEMA_TABLE} (name TEXT PRIMARY KEY, applied_at REAL)")
        version = int(db.execute("PRAGMA user_version").fetchone()[0])
        if version > len(MIGRATIONS):
            log.warning("database user_version %d is beyond the %d migrations this hub knows",
                        version, len(MIGRATIONS))
        adopted = names()[:version]
        db.conn.executemany(f"INSERT INTO {SCHEMA_TABLE} (name, applied_at) VALUES (?, NULL)",
                            [(name,) for name in adopted])
        for name in adopted:
            log.info("database migration %s already applied (user_version %d): recorded",
                     name, version)
    return {r[0] for r in db.execute(f"SELECT name FROM {SCHEMA_TABLE}")}
