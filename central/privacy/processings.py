"""What every store, message, role and machine client of Vigie is for: the one table of
descriptions the processing register and the data inventory are built from.

Each entry is keyed by the name the running system uses: a hub table (``sqlite_master`` of a
migrated hub database), a box store (a file under the box's ``data_dir``, ``file:table`` for
its SQLite tables), a message kind (:data:`edge.wire.registry.KINDS`) or HTTP upload route, a
role (:data:`central.users.ROLES`) and a machine-client kind. Texts are written in English and
marked for the catalogue (``N_``); the register translates them. ``tests/hub/test_processings.py``
fails when something exists that no entry describes, or an entry describes what no longer exists.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Literal

from central.i18n import N_

log = logging.getLogger(__name__)

Retention = Literal["hub", "kept", "audit", "account", "session", "attempts", "index", "outbox",
                    "request", "memory", "search"]
"""How long an item is kept; :func:`central.privacy.register.retention_text` says it in words
with the configured number of days."""

RETENTIONS: dict[str, str] = {
    "hub": N_("%(days)d days (retention in force at the hub, legal maximum %(max)d), then purged"),
    "kept": N_("kept: no personal data (hashes, counts, settings)"),
    "audit": N_("kept: the audit trail (append-only), proof of every look and search"),
    "account": N_("while the account or client exists (disabled, not deleted, to keep the audit "
                  "trail readable)"),
    "session": N_("until logout, or 8 hours without activity"),
    "attempts": N_("one hour (throttling of wrong passwords)"),
    "index": N_("the box's [index] retention_days (default 10, at most 30), then purged on the box"),
    "outbox": N_("until the broker acknowledges it (bounded by [outbox] max_bytes)"),
    "request": N_("until the search request expires (at most 15 minutes)"),
    "memory": N_("in memory only, a few seconds (never written to disk)"),
    "search": N_("%(days)d days after the search (retention in force at the hub)"),
}

# -- categories of persons concerned ------------------------------------------------------------
PASSERS_BY = N_("persons passing in front of the cameras (never identified)")
AGENTS = N_("the hub's users (agents of the municipal police, officers)")
REQUESTERS = N_("persons who ask for their own footage")
NOBODY = N_("nobody: technical data")

# -- security measures shared by all ------------------------------------------------------------
COMMON_SECURITY = (
    N_("access by role, each person with an account (argon2 password hashes, throttled logins, "
       "failed and throttled logins audited)"),
    N_("every look at a clip, every search and export written to an append-only audit log"),
    N_("boxes speak only the schema-checked contract; every message is hash-chained in the "
       "box's egress ledger and verified at the hub against signed digests"),
    N_("TLS between boxes, broker and hub; per-box broker credentials and device tokens"),
    N_("no biometric identification, no face recognition, no sound leaves a box"),
)


@dataclass(frozen=True)
class Described:
    """One store, message, role or client: why it exists and what protects it."""

    purpose: str
    """Finalité."""
    data: str
    """Catégories de données."""
    subjects: str
    """Catégories de personnes concernées."""
    recipients: tuple[str, ...]
    """Roles that may read it (``box``: nobody, it stays on the box)."""
    retention: Retention
    security: str
    oldest: str | None = None
    """Hub tables: the column holding each row's time (epoch or ISO 8601), for the inventory."""


AUDITORS = ("privacy_officer", "admin")
WATCHERS = ("operator", "supervisor")
BOX = ("box",)

HUB_TABLES: dict[str, Described] = {
    "events": Described(
        N_("alert operators to the predetermined events of the decree, and record how each was "
           "handled"),
        N_("event type, zone, time, object labels and boxes, measures; acknowledgement, "
           "resolution, escalation and sound muting by agents"), PASSERS_BY,
        ("operator", "supervisor", "investigator"), "hub",
        N_("no image in an event (its still is a separate file, named by its hash); "
           "schema-checked at ingest"), "started_at"),
    "clips": Described(
        N_("let an operator check an alert with a short anonymised clip"),
        N_("clip rows: hash, size, duration, frame size; the WebM file on disk (faces and persons "
           "obscured on the box)"), PASSERS_BY, WATCHERS, "hub",
        N_("anonymised before leaving the box; every view audited; files named by their sha256"),
        "stored_at"),
    "cameras": Described(
        N_("show each camera's state and health to operators and technicians"),
        N_("camera name, label and position on the site plan, state, last health message (frame "
           "rates, disk, whether audio listens)"),
        NOBODY, ("operator", "supervisor", "admin"), "kept", N_("no image; health only"),
        "last_seen"),
    "procedures": Described(
        N_("show operators the written procedure for each event type (and camera)"),
        N_("the procedure's text, its event type and camera, which supervisor wrote it and when"),
        AGENTS, WATCHERS, "kept",
        N_("written by supervisors only, every change audited; no data on the public"),
        "updated_at"),
    "suppressions": Described(
        N_("stop a camera's rule from raising again, for a while, the false alarm operators "
           "resolved in one region"),
        N_("per camera: rule, zone, a rectangle of the frame, the alert it came from, who made, "
           "revoked or shortened it, expiry"), AGENTS, ("supervisor", "admin"), "hub",
        N_("made only from a false-alarm resolution, at most 30 days; every change audited; "
           "sent to the box signed by the hub"), "created_at"),
    "suppression_sets": Described(
        N_("remember the last signed set of suppressions sent to each camera"),
        N_("camera, version, when it was signed and taken by the broker"), NOBODY,
        ("supervisor", "admin"), "kept", N_("no personal data")),
    "site_plan": Described(
        N_("show the cameras on a drawing of the site, so operators see where an alert is"),
        N_("one site plan image (re-encoded, metadata removed), its size, who uploaded it and "
           "when; it should be a drawing, not a photograph with people in it"),
        AGENTS, ("operator", "supervisor", "admin"), "kept",
        N_("uploaded by supervisors only, PNG or JPEG checked and re-encoded, every upload "
           "audited; replaced by the next upload"), "uploaded_at"),
    "stats": Described(
        N_("count passages per line and zone for planning (statistics mode)"),
        N_("aggregate counts per interval, line, zone and class"), NOBODY,
        ("supervisor",), "kept", N_("aggregates only: no track, no time of a single person"),
        "received_at"),
    "audit": Described(
        N_("prove who looked at, searched, exported or changed what, when and why"),
        N_("actor, action, subject, reason, time; failed and throttled logins with the name tried "
           "and the address"), AGENTS, AUDITORS, "audit",
        N_("append-only: SQLite triggers refuse UPDATE and DELETE"), "ts"),
    "users": Described(
        N_("give each agent an account with one role"),
        N_("user name, password hash, role, language, disabled flag"), AGENTS, ("admin",),
        "account", N_("argon2 hashes; never a clear password"), "created_at"),
    "sessions": Described(
        N_("keep people logged in"), N_("session id hash, CSRF token, address, times"), AGENTS,
        ("admin",), "session", N_("server-side sessions, Secure HttpOnly cookie"), "created_at"),
    "login_attempts": Described(
        N_("throttle wrong passwords"), N_("user name tried, address, time, success"), AGENTS,
        ("admin",), "attempts", N_("purged after one hour"), "ts"),
    "api_clients": Described(
        N_("let other systems use the API with a role"),
        N_("client name, token hash, role"), NOBODY, ("admin",), "account",
        N_("only the token's sha256 is stored"), "created_at"),
    "searches": Described(
        N_("forensic search by an investigator, for a case, with a reason"),
        N_("requester, case reference, reason, time window and question asked"), AGENTS,
        ("investigator", "privacy_officer"), "audit",
        N_("every search audited; boxes answer only requests signed by the hub"), "created_at"),
    "search_cameras": Described(
        N_("follow which cameras answered a search"), N_("camera, state, number of results"),
        NOBODY, ("investigator", "privacy_officer"), "kept", N_("no personal data"), "answered_at"),
    "search_results": Described(
        N_("show an investigator the tracks that match a search"),
        N_("object class, first and last seen, zones, direction; for vehicles a colour and an "
           "anonymised preview still; nothing about persons"), PASSERS_BY, ("investigator",),
        "search", N_("persons get no attribute and no preview (enforced on the box and in the "
                     "schema); previews anonymised on the box"), "first_seen"),
    "search_parts": Described(
        N_("refuse duplicated or excess answer parts of a search"), N_("part numbers, times"),
        NOBODY, ("investigator",), "kept", N_("no personal data"), "received_at"),
    "devices": Described(
        N_("verify each box's signed ledger digests"), N_("camera, public key, who enrolled it"),
        NOBODY, AUDITORS, "kept", N_("public keys only"), "enrolled_at"),
    "receipts": Described(
        N_("prove what reached the hub from each box"),
        N_("sha256, size and sequence number of every message and clip received, never the "
           "payload"), NOBODY, AUDITORS, "kept", N_("hashes only"), "received_at"),
    "digests": Described(
        N_("prove what each box says it sent"), N_("signed ledger digests: hashes, sequence numbers"),
        NOBODY, AUDITORS, "kept", N_("Ed25519 signatures checked"), "received_at"),
    "ledger_entries": Described(
        N_("compare what boxes sent with what the hub received"),
        N_("one line per message a box sent: kind, destination, size, hash"), NOBODY, AUDITORS,
        "kept", N_("hashes only"), "ts"),
    "privacy_alerts": Described(
        N_("warn the privacy officer of anything that left a box outside the contract"),
        N_("camera, sequence number, finding"), NOBODY, AUDITORS, "kept",
        N_("never shown to operators"), "raised_at"),
    "settings": Described(
        N_("hold the retention set by the privacy officer"), N_("setting, value, who set it"),
        AGENTS, AUDITORS, "kept", N_("each change audited"), "updated_at"),
    "quarantine": Described(
        N_("keep a trace of what the hub refused or could not store"),
        N_("topic, sha256, size, category and reason, never the payload"), NOBODY, AUDITORS, "hub",
        N_("no payload kept"), "received_at"),
    "rejected": Described(
        N_("older name of the quarantine (a view of it, for old queries)"),
        N_("the same rows as the quarantine"), NOBODY, AUDITORS, "hub",
        N_("a read-only view"), None),
    "_migrations": Described(
        N_("record which schema changes the database has"), N_("migration names and times"),
        NOBODY, ("admin",), "kept", N_("no personal data"), "applied_at"),
}
"""Every table (and view) of a migrated hub database."""

BOX_STORES: dict[str, Described] = {
    "outbox.sqlite:outbox": Described(
        N_("keep messages until the broker has them (nothing lost during an outage)"),
        N_("the box's messages waiting to leave: events, health, statistics, digests, answers"),
        PASSERS_BY, BOX, "outbox", N_("on the box's disk, readable by the vigie user only")),
    "outbox.sqlite:dropped": Described(
        N_("count messages dropped when the outbox was full"), N_("a count per kind"), NOBODY,
        BOX, "kept", N_("counts only")),
    "outbox.sqlite:unreadable": Described(
        N_("set aside outbox rows that cannot be read back"), N_("the unreadable rows"),
        PASSERS_BY, BOX, "outbox", N_("on the box only; never sent")),
    "egress-ledger.jsonl": Described(
        N_("record everything that left the box (hash chain)"),
        N_("kind, destination, size and hash of every message and clip sent"), NOBODY, BOX,
        "kept", N_("hash-chained; exported for an on-site inspection with vigie edge ledger "
                   "export")),
    "ledger-digest.json": Described(
        N_("remember which ledger entries were already digested"), N_("a sequence number"),
        NOBODY, BOX, "kept", N_("no personal data")),
    "index.sqlite:tracks": Described(
        N_("answer an investigator's signed forensic search without sending video"),
        N_("one row per finished track: class, first and last seen, zones, direction; for "
           "vehicles only a colour and an anonymised preview still"), PASSERS_BY, BOX, "index",
        N_("persons get no attribute and no preview (refused by the index); answers only to "
           "requests signed by the hub")),
    "index.sqlite:search_requests": Described(
        N_("refuse a replayed search request"), N_("request id and expiry"), NOBODY, BOX,
        "request", N_("no personal data")),
    "clips": Described(
        N_("hold a clip between its encoding and its upload"),
        N_("anonymised WebM clips (faces and persons obscured)"), PASSERS_BY, BOX, "outbox",
        N_("anonymised before being written; deleted once uploaded")),
    "stills": Described(
        N_("hold an event's anonymised still between its making and its upload"),
        N_("one anonymised JPEG per event start (faces and persons obscured, masks painted, "
           "zone and boxes drawn)"), PASSERS_BY, BOX, "outbox",
        N_("anonymised before being written; deleted once uploaded")),
    "suppressions.sqlite": Described(
        N_("apply the hub's false-alarm suppressions on the box"),
        N_("the last signed set: per entry a rule, a zone, a rectangle of the frame, an expiry"),
        NOBODY, BOX, "kept", N_("accepted only when signed by the hub for this camera; each entry "
                                "stops applying at its expiry; replaced by each new set")),
    "keys": Described(
        N_("sign the box's ledger digests and check the hub's search requests"),
        N_("the box's Ed25519 private key, the hub's public key"), NOBODY, BOX, "kept",
        N_("mode 600 files, never sent")),
    "tamper-reference.png": Described(
        N_("detect a camera that was moved, masked or blinded"),
        N_("a reference grey image of the scene"), PASSERS_BY, BOX, "kept",
        N_("never leaves the box")),
    "preroll (memory)": Described(
        N_("make a clip start a few seconds before its event"),
        N_("the last seconds of video, compressed, in memory"), PASSERS_BY, BOX, "memory",
        N_("never written to disk")),
}
"""Every store a box keeps: files under ``data_dir`` (``file:table`` for SQLite) and in memory."""

MESSAGES: dict[str, Described] = {
    "event": Described(
        N_("tell the hub that a predetermined event started or ended"),
        N_("type, zone, time, object labels and boxes, measures; no image"), PASSERS_BY,
        ("operator", "supervisor"), "hub", N_("schema-checked, ledgered, QoS 1")),
    "health": Described(
        N_("show that a box works"), N_("frame rates, timings, outbox, disk, whether audio "
                                        "listens and under which legal basis"), NOBODY,
        ("operator", "supervisor", "admin"), "kept", N_("no personal data")),
    "state": Described(
        N_("tell the hub a box is online or offline"), N_("online or offline"), NOBODY,
        ("operator", "supervisor", "admin"), "kept", N_("no personal data")),
    "stats": Described(
        N_("send aggregate counts"), N_("counts per line, zone and class"), NOBODY,
        ("supervisor",), "kept", N_("aggregates only")),
    "ledger": Described(
        N_("prove what the box sent"), N_("signed hashes of what the box sent"), NOBODY,
        AUDITORS, "kept", N_("Ed25519 signature")),
    "search/req": Described(
        N_("ask boxes for tracks matching an investigator's question"),
        N_("time window, class, colour, zone, direction; case reference"), NOBODY,
        ("investigator",), "request", N_("signed by the hub; boxes refuse unsigned, expired or "
                                         "replayed requests")),
    "search/resp": Described(
        N_("answer a forensic search"),
        N_("matching tracks: class, times, zones, direction; vehicle colour and anonymised "
           "preview; nothing about persons"), PASSERS_BY, ("investigator",), "search",
        N_("schema refuses attributes on persons; ledgered")),
    "suppress": Described(
        N_("tell a box which false alarms its operators resolved, so it stops raising them for "
           "a while"),
        N_("the camera's whole set of suppressions: rule, zone, rectangle, expiry"), NOBODY,
        BOX, "kept", N_("signed by the hub for that camera; retained, so an offline box gets "
                        "the current set; boxes refuse unsigned, forged or stale sets")),
    "PUT /api/v1/events/<event_id>/clip": Described(
        N_("upload the anonymised clip of an event (HTTP)"),
        N_("anonymised WebM clip"), PASSERS_BY, ("operator", "supervisor"), "hub",
        N_("device token of the owning camera; size, hash and headers checked before storing; "
           "ledgered")),
    "PUT /api/v1/events/<event_id>/still": Described(
        N_("upload the anonymised still of an event's start, so operators see it within seconds "
           "(HTTP)"),
        N_("one anonymised JPEG (faces and persons obscured, masks painted, zone and boxes "
           "drawn)"), PASSERS_BY, ("operator", "supervisor"), "hub",
        N_("device token of the owning camera; size, dimensions, hash and JPEG decoding checked "
           "before storing; ledgered; first view per person audited")),
}
"""Every message kind that crosses the network (MQTT kinds) and every HTTP upload route."""

ROLE_DESCRIPTIONS: dict[str, str] = {
    "operator": N_("live alerts and their anonymised clips (each clip view audited)"),
    "supervisor": N_("alerts, clips, statistics, zones and thresholds; event exports with a "
                     "reason"),
    "investigator": N_("forensic searches for a case with a reason, their results and vehicle "
                       "previews (every search audited)"),
    "privacy_officer": N_("audit log, egress verification, data inventory, retention, "
                          "subject-access exports; no live alert handling"),
    "admin": N_("users, cameras and enrolment; the audit log"),
}

CLIENT_KINDS: dict[str, Described] = {
    "api_tokens": Described(
        N_("let another system use the API (tokens of the hub configuration)"),
        N_("token, the name it acts as and its role"), NOBODY, ("admin",), "account",
        N_("in the hub's configuration file (mode 600); each request audited under its name")),
    "api_clients": Described(
        N_("let another system use the API (clients registered by an admin)"),
        N_("client name, token hash, role"), NOBODY, ("admin",), "account",
        N_("only the sha256 of the token is stored; revocable")),
    "device_tokens": Described(
        N_("let a box upload the clips of its own camera's events"),
        N_("token and the camera it speaks for"), NOBODY, ("admin",), "account",
        N_("a token uploads only for its own camera's events")),
}
"""Every kind of machine credential the hub accepts."""
