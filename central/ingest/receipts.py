"""What the hub received from each box, by hash, and the boxes' signed ledger digests.

Ingest calls :func:`note_receipt` for every message on a box topic (valid or not) and clip
upload calls it for every clip body it read; :func:`store_digest` keeps a ``vigie.ledger/1``
digest and its entries, with whether its signature checks against the box key registered by
``vigie hub enrol-box``. Nothing here stores a payload: hashes, sizes and seq numbers only.
:mod:`central.privacy.egress_verify` compares the two.
"""

from __future__ import annotations

import hashlib
import logging
import time

import sqlite_utils

from edge.wire.keys import KeyFileError, parse_public, verify
from edge.wire.messages import NAME_PATTERN, LedgerDigest, MessageError, parse_json, parse_topic

log = logging.getLogger(__name__)


class EnrolError(ValueError):
    """A box registration that cannot be made (the text says why)."""


def enrol_device(db: sqlite_utils.Database, site: str, camera: str, public_key: str, actor: str) -> bool:
    """Register (or replace) a box's public key; returns True when it changed anything."""
    import re

    for what, value in (("site", site), ("camera", camera)):
        if not re.match(NAME_PATTERN, value):
            raise EnrolError(f"{what} {value!r} is not a valid identifier ({NAME_PATTERN})")
    try:
        parse_public(public_key)
    except KeyFileError as exc:
        raise EnrolError(str(exc)) from None
    key = f"{site}/{camera}"
    with db.conn:
        db.execute("BEGIN IMMEDIATE")
        row = db.execute("SELECT public_key FROM devices WHERE key = ?", [key]).fetchone()
        if row is not None and row[0] == public_key.strip():
            return False
        db.execute(
            "INSERT INTO devices (key, site, camera, public_key, enrolled_at, enrolled_by) "
            "VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT(key) DO UPDATE SET public_key = excluded.public_key, "
            "enrolled_at = excluded.enrolled_at, enrolled_by = excluded.enrolled_by",
            [key, site, camera, public_key.strip(), time.time(), actor],
        )
    return True


def device_key(db: sqlite_utils.Database, site: str, camera: str) -> str | None:
    row = db.execute("SELECT public_key FROM devices WHERE key = ?", [f"{site}/{camera}"]).fetchone()
    return str(row[0]) if row else None


SQLITE_INT_MAX = 2**63 - 1


def _claimed_seq(payload: bytes) -> int | None:
    """The ``seq`` a payload claims, when it is an integer SQLite can hold; else None."""
    try:
        message = parse_json(payload)
    except MessageError:
        return None
    seq = message.get("seq") if isinstance(message, dict) else None
    if isinstance(seq, int) and not isinstance(seq, bool) and -SQLITE_INT_MAX <= seq <= SQLITE_INT_MAX:
        return seq
    return None


def clean_text(text: str | None, limit: int) -> str | None:
    """``text`` cut to ``limit`` and safe to store (lone surrogates from JSON escapes replaced)."""
    if not text:
        return None
    return text[:limit].encode("utf-8", errors="replace").decode("utf-8")


def note_receipt(
    db: sqlite_utils.Database, topic: str, payload: bytes, valid: bool, reason: str | None = None,
    dup: bool = False, retained: bool = False,
) -> None:
    """Record the hash of one message received on a box topic. Call inside a transaction."""
    try:
        where = parse_topic(topic)
    except MessageError:
        return  # not a box topic: nobody to hold to account
    db.execute(
        "INSERT INTO receipts (site, camera, kind, dest, sha256, bytes, seq, received_at, dup, "
        "retained, valid, reason) VALUES (?, ?, 'mqtt', ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        [where.site, where.camera, topic[:200], hashlib.sha256(payload).hexdigest(), len(payload),
         _claimed_seq(payload), time.time(), int(dup), int(retained), int(valid),
         clean_text(reason, 300)],
    )


def note_upload(db: sqlite_utils.Database, site: str, camera: str, path: str, data: bytes,
                valid: bool, reason: str | None = None) -> None:
    """Record the hash of one clip body a box uploaded (HTTP), accepted or not."""
    with db.conn:
        db.execute(
            "INSERT INTO receipts (site, camera, kind, dest, sha256, bytes, seq, received_at, dup, "
            "retained, valid, reason) VALUES (?, ?, 'http', ?, ?, ?, NULL, ?, 0, 0, ?, ?)",
            [site, camera, path[:200], hashlib.sha256(data).hexdigest(), len(data), time.time(),
             int(valid), (reason or "")[:300] or None],
        )


def store_digest(db: sqlite_utils.Database, digest: LedgerDigest, seq: int, payload: bytes) -> bool:
    """Keep a validated digest (``seq``: its own egress-ledger number) and its entries (call
    inside a transaction). Returns False for a digest already stored (same bytes: a
    redelivery)."""
    sha = hashlib.sha256(payload).hexdigest()
    if db.execute("SELECT 1 FROM digests WHERE sha256 = ?", [sha]).fetchone():
        return False
    site, camera, entries = digest.site, digest.camera, digest.entries
    pub_text = device_key(db, site, camera)
    sig_ok: int | None = None
    if pub_text is not None:
        sig_ok = int(verify(parse_public(pub_text), digest.signed_part(), digest.signature))
    cur = db.execute(
        "INSERT INTO digests (site, camera, sha256, ts, received_at, first_seq, head_seq, head, n, "
        "seq, sig_ok) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        [site, camera, sha, digest.ts, time.time(), entries[0].seq if entries else None,
         digest.head_seq, digest.head, len(entries), seq, sig_ok],
    )
    digest_id = cur.lastrowid
    for pos, e in enumerate(entries):
        db.execute(
            "INSERT INTO ledger_entries (site, camera, digest_id, pos, seq, ts, kind, dest, bytes, "
            "sha256, prev, hash) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            [site, camera, digest_id, pos, e.seq, e.ts, e.kind, e.dest, e.bytes, e.sha256, e.prev,
             e.hash],
        )
    if sig_ok == 0:
        log.error("ledger digest from %s/%s (seq %s..%s) has a BAD SIGNATURE", site, camera,
                  entries[0].seq if entries else "-", digest.head_seq)
    return True
