"""Messages the hub refused or could not store: the ``quarantine`` table and the per-message guard.

Every consumer of box messages (ingest, the search-answer writer) stores a batch in one
transaction and each message inside its own savepoint (:func:`guarded`). A message that is
refused (:class:`Refused`: invalid, spoof, clock skew...) or whose storage raises anything
that is about that message alone (``OverflowError`` binding 2^63, ``RecursionError``, an
``IntegrityError``...) is rolled back to its savepoint and noted here: topic, sha256 and size of
the payload, category, reason, time; never the payload. The rest of the batch is stored, and
the whole batch is acknowledged to the broker, so a poison message never comes back.

Only database-wide faults escape the guard (:func:`fault_of`): ``"retry"`` for what heals
(disk full, locked, I/O): the batch stays unacknowledged and is tried again; ``"fatal"`` for
what does not (a missing table, a corrupt file): the consumer thread dies and the process
exits (:mod:`edge.wire.vitals`) so that systemd restarts it and the operator sees it.
"""

from __future__ import annotations

import hashlib
import logging
import sqlite3
import time
from collections.abc import Callable
from datetime import datetime
from typing import Any, Literal

import sqlite_utils

from central.ingest.receipts import clean_text
from edge.wire.messages import MessageError, parse_topic

log = logging.getLogger(__name__)

CATEGORIES = ("invalid", "spoof", "clock_skew", "unstorable", "search")
"""Why a message is in quarantine: refused by the contract, touching another camera's event,
dated in the future, refused by the database, or a search answer the request did not allow."""

RETRY_CODES = frozenset({
    "SQLITE_FULL", "SQLITE_BUSY", "SQLITE_LOCKED", "SQLITE_NOMEM", "SQLITE_CANTOPEN",
    "SQLITE_PROTOCOL", "SQLITE_IOERR",
})
"""SQLite result codes (primary part) of faults that heal: space freed, lock released, disk back."""
MESSAGE_ERRORS = (sqlite3.IntegrityError, sqlite3.DataError, sqlite3.InterfaceError,
                  sqlite3.ProgrammingError)
"""sqlite3 errors caused by the values of one message (constraint, too big, unbindable)."""

Fault = Literal["message", "retry", "fatal"]


class Refused(MessageError):
    """A message the hub refuses; ``category`` is one of :data:`CATEGORIES`."""

    def __init__(self, reason: str, category: str = "invalid"):
        super().__init__(reason)
        self.category = category


def fault_of(exc: BaseException) -> Fault:
    """Whether ``exc`` is about one message, a database fault that heals, or one that does not."""
    if not isinstance(exc, sqlite3.Error) or isinstance(exc, MESSAGE_ERRORS):
        return "message"
    name = str(getattr(exc, "sqlite_errorname", "") or "")
    primary = "_".join(name.split("_")[:2])  # SQLITE_IOERR_WRITE -> SQLITE_IOERR
    return "retry" if primary in RETRY_CODES else "fatal"


def record(db: sqlite_utils.Database, topic: str, payload: bytes, reason: str,
           category: str = "invalid", now: float | None = None) -> None:
    """Note one quarantined message (call inside the batch's transaction)."""
    site: str | None = None
    camera: str | None = None
    try:
        where = parse_topic(topic)
        site, camera = where.site, where.camera
    except MessageError:
        pass
    db.execute(
        "INSERT INTO quarantine (received_at, site, camera, topic, sha256, bytes, category, reason)"
        " VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
        [time.time() if now is None else now, site, camera, clean_text(topic, 200) or "?",
         hashlib.sha256(payload).hexdigest(), len(payload),
         category if category in CATEGORIES else "invalid", clean_text(reason, 500) or "refused"],
    )


def guarded(db: sqlite_utils.Database, topic: str, payload: bytes,
            apply: Callable[[], str]) -> tuple[str, str | None]:
    """Run ``apply`` for one message inside a savepoint: ``(outcome, None)`` when it stored,
    ``("rejected", reason)`` when it was refused or could not be stored (then quarantined).

    Database-wide faults (:func:`fault_of` not ``"message"``) propagate to the caller."""
    db.execute("SAVEPOINT message")
    try:
        outcome = apply()
    except Exception as exc:
        if fault_of(exc) != "message":
            raise
        db.execute("ROLLBACK TO message")
        db.execute("RELEASE message")
        if isinstance(exc, Refused):
            category, reason = exc.category, str(exc)
        elif isinstance(exc, MessageError):
            category, reason = "invalid", str(exc)
        else:
            log.exception("cannot store a message from %s (%d bytes)", topic[:200], len(payload))
            category = "unstorable"
            reason = f"cannot be stored: {type(exc).__name__}: {str(exc)[:300]}"
        log.warning("rejected message on %s (%d bytes): %s", topic[:200], len(payload), reason)
        try:
            record(db, topic, payload, reason, category)
        except Exception as again:  # the reason itself cannot be stored: keep the fact
            if fault_of(again) != "message":
                raise
            record(db, topic, payload, f"refused ({type(exc).__name__})", category)
        return "rejected", reason
    db.execute("RELEASE message")
    return outcome, None


def run_batch(db: sqlite_utils.Database, store: Callable[[], None]) -> None:
    """``store`` inside one ``BEGIN IMMEDIATE`` transaction, committed or rolled back whole."""
    db.execute("BEGIN IMMEDIATE")
    try:
        store()
        db.execute("COMMIT")
    except BaseException:
        if db.conn.in_transaction:
            try:
                db.execute("ROLLBACK")
            except sqlite3.Error as exc:  # e.g. already rolled back by SQLite on SQLITE_FULL
                log.debug("rollback after a failed batch: %s", exc)
        raise


def store_until_done(store: Callable[[], Any], what: str, stopping: Callable[[], bool]) -> bool:
    """Call ``store`` until it succeeds, waiting longer after each database fault that heals.

    Returns False when ``stopping()`` became true before it succeeded (the batch is then left
    unacknowledged for the next run). A fatal fault propagates."""
    delay = 0.5
    while True:
        try:
            store()
            return True
        except sqlite3.Error as exc:
            if fault_of(exc) != "retry":
                raise
            log.error("cannot store %s (%s: %s); retrying in %.1f s", what,
                      getattr(exc, "sqlite_errorname", type(exc).__name__), exc, delay)
        if stopping():
            return False
        time.sleep(delay)
        delay = min(delay * 2, 30.0)


# -- clock skew -----------------------------------------------------------------------------
def epoch_of(iso: str) -> float:
    """Unix seconds of a contract timestamp (``2026-11-23T10:15:02.480Z``); Refused if it is
    not a real date (the schema's pattern lets ``2026-13-45T99:00:00Z`` through)."""
    try:
        return datetime.strptime(iso.replace("Z", "+0000"), "%Y-%m-%dT%H:%M:%S.%f%z").timestamp()
    except ValueError:
        pass
    try:
        return datetime.strptime(iso.replace("Z", "+0000"), "%Y-%m-%dT%H:%M:%S%z").timestamp()
    except (ValueError, OverflowError):
        raise Refused(f"timestamp {iso[:40]!r} is not a valid UTC date") from None


def check_not_future(fields: dict[str, str | None], max_skew_s: float,
                     now: float | None = None) -> None:
    """Refuse (category ``clock_skew``) any named timestamp more than ``max_skew_s`` ahead."""
    now = time.time() if now is None else now
    for name, value in fields.items():
        if value is None:
            continue
        ahead = epoch_of(value) - now
        if ahead > max_skew_s:
            raise Refused(f"clock skew: {name} {value} is {ahead:.0f} s in the future "
                          f"(limit {max_skew_s:g} s)", "clock_skew")


# -- the privacy officer's view -------------------------------------------------------------
def summary(db: sqlite_utils.Database) -> dict[str, int]:
    """Quarantined messages counted by category (every category, zero included)."""
    counts = dict.fromkeys(CATEGORIES, 0)
    for category, n in db.execute("SELECT category, COUNT(*) FROM quarantine GROUP BY category"):
        counts[str(category)] = int(n)
    return counts


def rows(db: sqlite_utils.Database, limit: int = 200, category: str | None = None) -> list[dict[str, Any]]:
    """The newest quarantined messages (no payload: there is none to show)."""
    sql = ("SELECT id, received_at, site, camera, topic, sha256, bytes, category, reason "
           "FROM quarantine")
    params: list[Any] = []
    if category:
        sql += " WHERE category = ?"
        params.append(category)
    return [dict(r) for r in db.query(sql + " ORDER BY id DESC LIMIT ?", [*params, limit])]
