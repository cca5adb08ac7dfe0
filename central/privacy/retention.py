"""Retention: events and clips older than ``retention_days`` are deleted (principle 6).

An event's age is taken from its ``started_at`` (the box's clock, UTC) or, if that is
earlier, from when the hub received it: a row dated in the future by a wrong box clock
(before ingest refused such dates) still goes after ``retention_days``. Its clip row goes
with it, and a clip file goes when no remaining clip row names its hash; so does the event's
still (``events.still``), its file going when no remaining event names its hash. Quarantine rows
(hashes and reasons of refused messages) are kept for the same number of days. Every run
logs what it deleted (ids and hashes only) and writes one audit row; ``dry_run`` only lists.
The audit trail itself is never purged here.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field
from pathlib import Path

import sqlite_utils

from central import audit
from central import db as hubdb
from central.ingest.clipstore import clip_path, still_path
from edge.wire.messages import utc_iso
from edge.wire.periodic import Periodic

log = logging.getLogger(__name__)

DAY_S = 86400.0


@dataclass(frozen=True)
class PurgeReport:
    """What a purge deleted (or, in a dry run, would delete)."""

    cutoff: str
    events: tuple[str, ...]
    clips: tuple[str, ...] = field(default=())
    files: tuple[Path, ...] = field(default=())
    dry_run: bool = False
    quarantined: int = 0
    """Quarantine rows deleted (or, in a dry run, that would be)."""


def purge(
    db: sqlite_utils.Database, clips_dir: Path, retention_days: int, now: float | None = None,
    dry_run: bool = False, actor: str = "retention",
) -> PurgeReport:
    """Delete events (and their clips) that started more than ``retention_days`` before ``now``."""
    now = time.time() if now is None else now
    cutoff_ts = now - retention_days * DAY_S
    cutoff = utc_iso(cutoff_ts)
    old = "(started_at < ? OR received_at < ?)"
    with db.conn:
        db.execute("BEGIN IMMEDIATE")
        events = [r[0] for r in db.execute(
            f"SELECT id FROM events WHERE {old} ORDER BY started_at", [cutoff, cutoff_ts])]
        clip_rows = db.execute(
            f"SELECT event_id, sha256 FROM clips WHERE event_id IN (SELECT id FROM events WHERE "
            f"{old}) OR (event_id NOT IN (SELECT id FROM events) AND stored_at < ?)",
            [cutoff, cutoff_ts, cutoff_ts],
        ).fetchall()
        quarantined = db.execute("SELECT COUNT(*) FROM quarantine WHERE received_at < ?",
                                 [cutoff_ts]).fetchone()[0]
        gone_hashes = {sha for _, sha in clip_rows}
        gone_stills = _still_hashes(db, events)
        ids = [eid for eid, _ in clip_rows]
        if not dry_run:
            for chunk in _chunks(ids):
                db.execute(f"DELETE FROM clips WHERE event_id IN ({_marks(chunk)})", chunk)
            for chunk in _chunks(events):
                db.execute(f"DELETE FROM events WHERE id IN ({_marks(chunk)})", chunk)
            db.execute("DELETE FROM quarantine WHERE received_at < ?", [cutoff_ts])
        still = set() if not gone_hashes else {  # hashes another (kept) event still uses
            r[0] for r in db.execute(
                f"SELECT sha256 FROM clips WHERE sha256 IN ({_marks(sorted(gone_hashes))}) "
                f"AND event_id NOT IN ({_marks(ids)})",
                [*sorted(gone_hashes), *ids],
            )
        }
        kept_stills = _stills_kept(db, gone_stills, events)
    files = tuple(clip_path(clips_dir, sha) for sha in sorted(gone_hashes - still)) + tuple(
        still_path(clips_dir, sha) for sha in sorted(gone_stills - kept_stills))
    report = PurgeReport(cutoff, tuple(events), tuple(ids), files, dry_run, quarantined)
    verb = "would delete" if dry_run else "deleted"
    if not dry_run:
        for f in files:
            try:
                f.unlink(missing_ok=True)
            except OSError as exc:
                log.error("cannot delete clip or still file %s: %s", f, exc.strerror)
        if events or ids:
            audit.record(db, actor, "retention.purge", f"before {cutoff}",
                         f"{len(events)} event(s), {len(ids)} clip(s), {retention_days} days")
    log.info("retention (%d days, before %s): %s %d event(s), %d clip(s), %d file(s), "
             "%d quarantine row(s)", retention_days, cutoff, verb, len(events), len(ids),
             len(files), quarantined)
    for eid in events:
        log.info("retention: %s event %s", verb, eid)
    for f in files:
        log.info("retention: %s clip or still file %s", verb, f.name)
    return report


def _still_hashes(db: sqlite_utils.Database, events: list[str]) -> set[str]:
    """The hashes of the stills of ``events``."""
    out: set[str] = set()
    for chunk in _chunks(events):
        out |= {r[0] for r in db.execute(
            f"SELECT json_extract(still, '$.sha256') FROM events WHERE id IN ({_marks(chunk)}) "
            "AND still IS NOT NULL", chunk) if r[0]}
    return out


def _stills_kept(db: sqlite_utils.Database, hashes: set[str], events: list[str]) -> set[str]:
    """Those of ``hashes`` that the still of an event not in ``events`` names."""
    if not hashes:
        return set()
    gone = set(events)
    return {r[1] for r in db.execute(
        "SELECT id, json_extract(still, '$.sha256') FROM events WHERE still IS NOT NULL AND "
        f"json_extract(still, '$.sha256') IN ({_marks(sorted(hashes))})", sorted(hashes))
        if r[0] not in gone}


def _marks(items: list[str]) -> str:
    return ", ".join("?" for _ in items)


def _chunks(items: list[str], n: int = 500) -> list[list[str]]:
    return [items[i:i + n] for i in range(0, len(items), n)]


class PurgeJob:
    """Runs :func:`purge` at start and then every ``interval_s`` in a daemon thread."""

    def __init__(self, database: Path, clips_dir: Path, retention_days: int, interval_s: float = 3600.0):
        self.database = database
        self.clips_dir = clips_dir
        self.retention_days = retention_days
        self.interval_s = interval_s
        self._job = Periodic("retention", interval_s, self._tick, first_run_s=0)

    def start(self) -> None:
        self._job.start()

    def _tick(self) -> None:
        try:
            db = hubdb.connect(self.database)
            try:
                from central.forensic.searches import purge_results
                from central.privacy.inventory import retention_days
                from central.suppressions import purge_suppressions

                days = retention_days(db, self.retention_days)
                purge(db, self.clips_dir, days)
                purge_results(db, days)  # search results, previews
                purge_suppressions(db, days)  # ended false-alarm suppressions
            finally:
                db.conn.close()
        except Exception:  # the next run tries again; the web app keeps serving
            log.exception("retention purge failed")

    def stop(self) -> None:
        self._job.stop(10)
