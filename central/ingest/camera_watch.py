"""Operational alerts for silent cameras: a box not heard from for ``silent_after_s`` raises one.

The alert is an ``events`` row made by the hub (type ``camera_silent``, severity
``critical``), shown in the operators' queue like any other. When the camera is heard
again the alert's state becomes ``end``; the operator still resolves it.

The same watch ends clips that never come: an event whose clip is still ``pending`` or ``making``
``clip_deadline_s`` after the hub received it becomes ``failed`` with the deadline as its
reason (or ``uploaded`` when the hub holds its clip but missed the box's message).
"""

from __future__ import annotations

import json
import logging
import time
from pathlib import Path

import sqlite_utils

from central.config import HubClips
from edge.wire.messages import utc_iso, uuid7
from edge.wire.periodic import Periodic

log = logging.getLogger(__name__)

SILENT_TYPE = "camera_silent"


def check(db: sqlite_utils.Database, silent_after_s: float, now: float | None = None) -> list[str]:
    """Raise alerts for newly silent cameras and end those of cameras heard again.

    Returns the ids of the alerts raised.
    """
    now = now or time.time()
    raised = []
    with db.conn:
        db.execute("BEGIN IMMEDIATE")
        for site, camera, last_seen in db.execute(
                "SELECT site, camera, last_seen FROM cameras").fetchall():
            open_row = db.execute(
                "SELECT id FROM events WHERE type = ? AND site = ? AND camera = ? AND state = 'start'",
                [SILENT_TYPE, site, camera]).fetchone()
            silent = last_seen is None or now - last_seen >= silent_after_s
            if silent and open_row is None:
                eid = uuid7()
                since = utc_iso(last_seen or now)
                payload = {"raised_by": "hub", "reason": f"no message for {silent_after_s:g} s",
                           "last_seen": since}
                db.execute(
                    "INSERT INTO events (id, site, camera, type, state, severity, started_at, "
                    "ended_at, zone, objects, measure, model, clip, seq, payload, received_at, "
                    "updated_at, status) VALUES (?, ?, ?, ?, 'start', 'critical', ?, NULL, NULL, "
                    "'[]', ?, 'null', 'null', 0, ?, ?, ?, 'new')",
                    [eid, site, camera, SILENT_TYPE, utc_iso(now),
                     json.dumps({"silent_s": round(now - (last_seen or now), 1)}),
                     json.dumps(payload), now, now])
                raised.append(eid)
                log.warning("camera %s/%s silent since %s: operational alert %s",
                            site, camera, since, eid)
            elif not silent and open_row is not None:
                db.execute("UPDATE events SET state = 'end', ended_at = ?, updated_at = ? WHERE id = ?",
                           [utc_iso(now), now, open_row[0]])
                log.info("camera %s/%s heard again; alert %s ended", site, camera, open_row[0])
    return raised


def expire_clips(db: sqlite_utils.Database, deadline_s: float, now: float | None = None) -> list[str]:
    """Settle every clip still pending or being made ``deadline_s`` after its event was received; returns
    the ids of the events changed."""
    now = now or time.time()
    changed = []
    reason = f"no clip received within {deadline_s:g} s (hub deadline)"
    with db.conn:
        db.execute("BEGIN IMMEDIATE")
        rows = [row for status in ("pending", "making") for row in db.execute(  # one index each
            "SELECT e.id, c.sha256 FROM events e LEFT JOIN clips c ON c.event_id = e.id "
            f"WHERE json_extract(e.clip, '$.status') = '{status}' AND e.received_at < ?",
            [now - deadline_s]).fetchall()]
        for eid, sha in rows:
            clip = ({"status": "uploaded", "sha256": sha} if sha else
                    {"status": "failed", "sha256": None, "reason": reason})
            db.execute("UPDATE events SET clip = ?, updated_at = ? WHERE id = ?",
                       [json.dumps(clip), now, eid])
            changed.append(eid)
            log.warning("clip of event %s: %s", eid, "stored, marked uploaded" if sha else reason)
    return changed


class Watch:
    """Runs :func:`check` and :func:`expire_clips` every few seconds in a daemon thread."""

    def __init__(self, database: Path, silent_after_s: float, every_s: float = 5.0,
                 clip_deadline_s: float = HubClips().pending_deadline_s):
        self.database = database
        self.silent_after_s = silent_after_s
        self.every_s = every_s
        self.clip_deadline_s = clip_deadline_s
        self._db: sqlite_utils.Database | None = None
        self._job = Periodic("camera-watch", every_s, self._tick)

    def start(self) -> None:
        self._job.start()

    def stop(self) -> None:
        self._job.stop(5)

    def _tick(self) -> None:
        from central.db import connect

        if self._db is None:  # its own connection: sqlite connections are not shared
            self._db = connect(self.database)
        try:
            check(self._db, self.silent_after_s)
            expire_clips(self._db, self.clip_deadline_s)
        except Exception:  # the watch must keep running; the log says what failed
            log.exception("camera watch failed")
