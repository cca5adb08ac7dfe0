"""The hub's stored messages: idempotent event and statistics upserts, camera state, rows
as the API shows them. Callers hold the write transaction (the ingest writer batches)."""

from __future__ import annotations

import json
import time
from typing import Any

import sqlite_utils

from central.ingest.quarantine import Refused


def upsert_event(db: sqlite_utils.Database, msg: dict[str, Any], payload: str) -> bool:
    """Store an event message idempotently. Returns True when something changed.

    Call inside a write transaction (the ingest writer batches many messages in one).
    A start creates the row; a repeated start changes nothing; an end updates ``state``
    and ``ended_at`` but never the operator's status. An end arriving before its start
    creates the row from the end message. The clip fields only move forward (pending ->
    making -> uploaded/failed), whichever message (start or end) carries them.
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


_CLIP_RANK = {"none": 0, "pending": 1, "making": 2, "uploaded": 3, "failed": 3}


def clip_advances(stored: str | None, incoming: dict[str, Any]) -> bool:
    """Whether an incoming clip status moves the stored one forward (none -> pending ->
    making -> uploaded/failed); a repeated or older status changes nothing (idempotent)."""
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
    for k in ("outcome", "resolved_by", "resolved_at", "resolve_comment", "assigned_to",
              "escalated_at", "muted_at", "muted_by"):
        out[k] = row.get(k)
    out["clip"] = clip_view(out["clip"])
    out["still"] = still_view(row["id"], row.get("still"))
    return out


def clip_view(clip: dict[str, Any] | None) -> dict[str, Any] | None:
    """The clip as the API shows it: ``status`` (none, pending, making, uploaded, failed),
    ``sha256`` and, when it failed, ``reason`` (the box's, the hub's refusal or deadline)."""
    if not isinstance(clip, dict):
        return clip
    out = dict(clip)
    if out.get("status") == "failed" and not out.get("reason") and out.get("refused"):
        out["reason"] = out["refused"]
    return out


def still_view(event_id: str, stored: str | None) -> dict[str, Any] | None:
    """``{"url", "taken_at"}`` of an event's still, or None when the hub has none."""
    if not stored:
        return None
    still = json.loads(stored)
    return {"url": f"/api/v1/events/{event_id}/still", "taken_at": still.get("taken_at")}


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
