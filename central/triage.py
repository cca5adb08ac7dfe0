"""Triage of the operators' queue: the order alerts are taken in, the folding of repeats into
one row, and the escalation of critical alerts nobody has taken.

Order: severity first (critical, warning, information), then new before acknowledged (an
acknowledged alert already has someone on it), then the oldest first: the alarm managers'
rule, so the alert that has waited longest at the highest priority is on top and a burst of
new warnings never pushes an older critical down.

Grouping: alerts of one site, camera, type (the rule), zone, severity and status fold into one
group when each starts within ``window_s`` of the previous one (a chain: a rule that keeps
firing on one incident stays one row, incidents further apart are separate rows).

Escalation: a critical alert still ``new`` ``after_s`` after the hub received it gets
``escalated_at`` and one ``alert.escalated`` audit row, written once (the update only takes
rows whose ``escalated_at`` is still empty) by whichever comes first: the hub's periodic job
or a page reading the queue. The hub's reception time starts the clock (a box's clock may be
off; the hub's is the one the operators' screens follow).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import sqlite_utils

from central.i18n import to_datetime

log = logging.getLogger(__name__)

SEVERITIES = ("critical", "warning", "info")
STATUSES = ("new", "acknowledged", "resolved")
OPEN = STATUSES[:2]
"""The statuses of an alert still waiting for someone (new or acknowledged)."""
ESCALATION_ACTOR = "hub"
TRIAGE_ORDER = ("CASE severity WHEN 'critical' THEN 0 WHEN 'warning' THEN 1 ELSE 2 END, "
                "CASE status WHEN 'new' THEN 0 WHEN 'acknowledged' THEN 1 ELSE 2 END, "
                "started_at, id")
"""SQL ``ORDER BY`` of the queue: severity, then new before acknowledged, then oldest first."""


def _rank(values: Sequence[str], value: Any) -> int:
    return values.index(value) if value in values else len(values)


def _epoch(value: Any) -> float:
    moment = to_datetime(value)
    return moment.timestamp() if moment is not None else 0.0


@dataclass
class Group:
    """Alerts folded into one row of the queue (oldest first)."""

    key: tuple[str, ...]
    rows: list[dict[str, Any]] = field(default_factory=list)
    last_at: float = 0.0

    def sort_key(self) -> tuple[int, int, str, str]:
        first = self.rows[0]
        return (_rank(SEVERITIES, first["severity"]), _rank(STATUSES, first["status"]),
                str(first["started_at"]), str(first["id"]))


KEY_FIELDS = ("site", "camera", "type", "zone", "severity", "status")


def group_key(row: dict[str, Any]) -> tuple[str, ...]:
    """What makes two alerts repeats of one another."""
    return tuple(str(row.get(k) or "") for k in KEY_FIELDS)


def group(rows: Iterable[dict[str, Any]], window_s: float, presorted: bool = False) -> list[Group]:
    """Fold repeats (see the module's docstring) and order the groups for triage.

    ``presorted``: the rows come oldest first already, each with its start as an epoch in
    ``at`` (the queue's query does both in SQL)."""
    ordered = rows if presorted else sorted(rows, key=lambda r: (str(r["started_at"]), str(r["id"])))
    open_groups: dict[tuple[str, ...], Group] = {}
    out: list[Group] = []
    for row in ordered:
        key = group_key(row)
        at = row["at"] if presorted else _epoch(row["started_at"])
        current = open_groups.get(key)
        if current is None or window_s <= 0 or at - current.last_at > window_s:
            current = Group(key)
            open_groups[key] = current
            out.append(current)
        current.rows.append(row)
        current.last_at = at
    out.sort(key=Group.sort_key)
    return out


def escalate_due(db: sqlite_utils.Database, after_s: float, now: float | None = None) -> list[str]:
    """Escalate every critical alert still new ``after_s`` after reception; returns their ids.

    Reads first (no write lock when nothing is due); each escalation is written once."""
    now = time.time() if now is None else now
    cutoff = now - after_s
    due = [r[0] for r in db.execute(
        "SELECT id FROM events WHERE status = 'new' AND severity = 'critical' "
        "AND escalated_at IS NULL AND received_at <= ?", [cutoff])]
    if not due:
        return []
    done: list[str] = []
    with db.conn:
        db.execute("BEGIN IMMEDIATE")
        for event_id in due:
            cur = db.execute(
                "UPDATE events SET escalated_at = ?, updated_at = ? WHERE id = ? "
                "AND status = 'new' AND escalated_at IS NULL", [now, now, event_id])
            if cur.rowcount:
                db.execute("INSERT INTO audit (ts, actor, action, subject, why) "
                           "VALUES (?, ?, 'alert.escalated', ?, ?)",
                           [now, ESCALATION_ACTOR, event_id,
                            f"critical, not acknowledged after {after_s:g} s"])
                done.append(event_id)
    if done:
        log.warning("%d critical alert(s) escalated, not acknowledged after %g s: %s%s", len(done),
                    after_s, ", ".join(done[:5]), " …" if len(done) > 5 else "")
    return done


class EscalationJob:
    """Escalates due alerts every few seconds in ``vigie hub serve``, so an escalation is
    recorded on time even when no page is open."""

    def __init__(self, database: Path, after_s: float, every_s: float = 5.0) -> None:
        from edge.wire.periodic import Periodic

        self.database = database
        self.after_s = after_s
        self.periodic = Periodic("alert-escalation", every_s, self.run_once, vital=False,
                                 first_run_s=0)

    def run_once(self) -> list[str]:
        from central import db as hubdb

        try:
            db = hubdb.connect(self.database)
        except Exception:
            log.exception("escalation: cannot open the database")
            return []
        try:
            return escalate_due(db, self.after_s)
        except Exception:
            log.exception("escalation round failed")
            return []
        finally:
            db.conn.close()

    def start(self) -> EscalationJob:
        self.periodic.start()
        return self

    def stop(self) -> None:
        self.periodic.stop()
