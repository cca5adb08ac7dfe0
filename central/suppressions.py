"""False-alarm suppressions at the hub: made from operators' ``false_alarm`` resolutions,
audited, signed and retained on the broker for the box they concern.

Resolving an alert as ``false_alarm`` (when ``[suppressions] auto`` is on) creates a suppression
for that camera: the event's rule and zone, and a region, the union of its objects' boxes grown
by ``margin`` (normalised ``[x, y, w, h]``). An active suppression of the same camera, rule and
zone whose region meets the new one is extended instead (regions united, expiry renewed). Each
lives ``lifetime_days`` at most; a supervisor can revoke or shorten it on ``/suppressions``.
Audit actions: ``suppression.created``, ``.extended``, ``.revoked``, ``.shortened``, ``.expired``.

Table ``suppressions`` (one row per suppression, kept after it ends for the audit's context,
purged with events after ``retention_days``) and ``suppression_sets`` (per camera: the last
version signed and whether the broker took it). After every change the camera's whole set is
signed (:func:`central.forensic.fanout.sign_for`, the hub's key) and published retained on
``vigie/v1/<site>/<camera>/suppress``: the broker keeps it for a box that is offline. A set the
broker could not take stays ``pending`` and is published again on the next change or view.
"""

from __future__ import annotations

import json
import logging
import time
import uuid
from pathlib import Path
from typing import Any

import paho.mqtt.client as mqtt
import sqlite_utils
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from paho.mqtt.enums import CallbackAPIVersion

from central import audit
from central.config import HubBroker, HubSuppressions
from central.forensic.fanout import sign_for
from edge.wire.keys import KeyFileError, load_private
from edge.wire.messages import encode, topic, utc_iso
from edge.wire.suppress import DETECTOR_RULES, MAX_SUPPRESSIONS, Suppression, SuppressionSet

log = logging.getLogger(__name__)

HUB_ACTOR = "hub"
Region = tuple[float, float, float, float]


def region_of(objects: list[dict[str, Any]], margin: float) -> Region | None:
    """The union of the objects' normalised boxes grown by ``margin`` on each side, clipped."""
    boxes = [o["bbox"] for o in objects if isinstance(o, dict) and len(o.get("bbox", ())) == 4]
    if not boxes:
        return None
    x1 = max(0.0, min(b[0] for b in boxes) - margin)
    y1 = max(0.0, min(b[1] for b in boxes) - margin)
    x2 = min(1.0, max(b[0] + b[2] for b in boxes) + margin)
    y2 = min(1.0, max(b[1] + b[3] for b in boxes) + margin)
    return (round(x1, 4), round(y1, 4), round(x2 - x1, 4), round(y2 - y1, 4))


def _meets(a: Region, b: Region) -> bool:
    return a[0] <= b[0] + b[2] and b[0] <= a[0] + a[2] and a[1] <= b[1] + b[3] and b[1] <= a[1] + a[3]


def _union(a: Region, b: Region) -> Region:
    x1, y1 = min(a[0], b[0]), min(a[1], b[1])
    x2, y2 = max(a[0] + a[2], b[0] + b[2]), max(a[1] + a[3], b[1] + b[3])
    return (x1, y1, x2 - x1, y2 - y1)


def from_false_alarm(db: sqlite_utils.Database, event_id: str, actor: str,
                     cfg: HubSuppressions, now: float | None = None) -> str | None:
    """Create or extend the suppression a false alarm calls for; its id (None: the event's
    rule is not one a box verifies, it has no objects, or automatic creation is off)."""
    now = time.time() if now is None else now
    if not cfg.auto:
        return None
    ev = db.execute("SELECT site, camera, type, zone, objects FROM events WHERE id = ?",
                    [event_id]).fetchone()
    if ev is None or ev[2] not in DETECTOR_RULES:
        return None
    site, camera, rule, zone, objects = ev
    try:
        region = region_of(json.loads(objects or "[]"), cfg.margin)
    except (ValueError, TypeError):
        region = None
    if region is None:
        return None
    expires = now + cfg.lifetime_days * 86400
    for sid, x, y, w, h in db.execute(
            "SELECT id, x, y, w, h FROM suppressions WHERE site = ? AND camera = ? AND rule = ? "
            "AND zone IS ? AND state = 'active' AND expires_at > ?",
            [site, camera, rule, zone, now]).fetchall():
        if _meets((x, y, w, h), region):
            u = _union((x, y, w, h), region)
            with db.conn:
                db.execute("UPDATE suppressions SET x=?, y=?, w=?, h=?, expires_at=?, "
                           "events = events + 1 WHERE id = ?", [*u, expires, sid])
            audit.record(db, actor, "suppression.extended", sid,
                         f"{site}/{camera} {rule} zone {zone}: false alarm {event_id}, region "
                         f"{[round(v, 3) for v in u]}, until {utc_iso(expires)}")
            return str(sid)
    live = db.execute("SELECT COUNT(*) FROM suppressions WHERE site = ? AND camera = ? AND "
                      "state = 'active'", [site, camera]).fetchone()[0]
    if live >= cfg.max_per_camera:
        log.warning("suppressions: %s/%s already has %d active; false alarm %s makes none",
                    site, camera, live, event_id)
        return None
    sid = str(uuid.uuid4())
    with db.conn:
        db.execute("INSERT INTO suppressions (id, site, camera, rule, zone, x, y, w, h, "
                   "source_event, created_at, created_by, expires_at) VALUES "
                   "(?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                   [sid, site, camera, rule, zone, *region, event_id, now, actor, expires])
    audit.record(db, actor, "suppression.created", sid,
                 f"{site}/{camera} {rule} zone {zone}: false alarm {event_id}, region "
                 f"{list(region)}, until {utc_iso(expires)}")
    return sid


def camera_of(db: sqlite_utils.Database, sid: str) -> tuple[str, str] | None:
    row = db.execute("SELECT site, camera FROM suppressions WHERE id = ?", [sid]).fetchone()
    return (row[0], row[1]) if row else None


def end(db: sqlite_utils.Database, sid: str, actor: str, why: str) -> bool:
    """Revoke an active suppression (audited); False when there is none."""
    with db.conn:
        cur = db.execute("UPDATE suppressions SET state = 'revoked', ended_at = ?, ended_by = ? "
                         "WHERE id = ? AND state = 'active'", [time.time(), actor, sid])
    if cur.rowcount:
        audit.record(db, actor, "suppression.revoked", sid, why)
    return bool(cur.rowcount)


def shorten(db: sqlite_utils.Database, sid: str, actor: str, until: float, why: str) -> bool:
    """Bring an active suppression's expiry forward to ``until`` (never later); audited."""
    with db.conn:
        cur = db.execute("UPDATE suppressions SET expires_at = ? WHERE id = ? AND "
                         "state = 'active' AND expires_at > ?", [until, sid, until])
    if cur.rowcount:
        audit.record(db, actor, "suppression.shortened", sid, f"until {utc_iso(until)}: {why}")
    return bool(cur.rowcount)


def expire_due(db: sqlite_utils.Database, now: float | None = None) -> set[tuple[str, str]]:
    """Mark active suppressions past their expiry ``expired`` (audited); the cameras changed."""
    now = time.time() if now is None else now
    rows = db.execute("SELECT id, site, camera FROM suppressions WHERE state = 'active' AND "
                      "expires_at <= ?", [now]).fetchall()
    for sid, _site, _camera in rows:
        with db.conn:
            db.execute("UPDATE suppressions SET state = 'expired', ended_at = ?, ended_by = ? "
                       "WHERE id = ? AND state = 'active'", [now, HUB_ACTOR, sid])
        audit.record(db, HUB_ACTOR, "suppression.expired", sid)
    return {(s, c) for _, s, c in rows}


def current_set(db: sqlite_utils.Database, key: Ed25519PrivateKey, site: str, camera: str,
                lifetime_days: float, now: float | None = None) -> SuppressionSet:
    """The camera's active suppressions as a newly versioned set, signed with ``key``."""
    now = time.time() if now is None else now
    rows = db.execute("SELECT id, rule, zone, x, y, w, h, expires_at FROM suppressions WHERE "
                      "site = ? AND camera = ? AND state = 'active' AND expires_at > ? "
                      "ORDER BY created_at DESC LIMIT ?",
                      [site, camera, now, MAX_SUPPRESSIONS]).fetchall()
    last = db.execute("SELECT version FROM suppression_sets WHERE site = ? AND camera = ?",
                      [site, camera]).fetchone()
    version = max(int(now * 1000), (last[0] + 1) if last else 1)
    entries = tuple(Suppression(r[0], r[1], r[2], (r[3], r[4], r[5], r[6]), utc_iso(r[7]))
                    for r in rows)
    expires = max([r[7] for r in rows], default=now + lifetime_days * 86400)
    unsigned = SuppressionSet(version, utc_iso(now), utc_iso(expires), site, camera, entries)
    with db.conn:
        db.execute("INSERT OR REPLACE INTO suppression_sets (site, camera, version, signed_at, "
                   "published_at) VALUES (?, ?, ?, ?, NULL)", [site, camera, version, now])
    signed = sign_for(key, unsigned.unsigned(), site, camera)  # as a search request is signed
    return SuppressionSet.from_valid(signed)


def publish(broker: HubBroker, sets: list[SuppressionSet], timeout_s: float = 5.0) -> list[SuppressionSet]:
    """Publish each set retained (QoS 1) with the hub's MQTT user; the sets the broker took."""
    if not sets:
        return []
    client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=f"{broker.client_id}-suppress",
                         clean_session=True, protocol=mqtt.MQTTv311)
    if broker.username:
        client.username_pw_set(broker.username, broker.password)
    taken: list[SuppressionSet] = []
    try:
        client.connect(broker.host, broker.port, 30)
        client.loop_start()
        for s in sets:
            info = client.publish(topic(s.site, s.camera, SuppressionSet.KIND),
                                  encode(s.to_wire()), qos=1, retain=True)
            info.wait_for_publish(timeout_s)
            if info.is_published():
                taken.append(s)
    except (OSError, RuntimeError, ValueError) as exc:
        log.error("suppressions: cannot publish to the broker at %s:%s (%s); sets stay pending",
                  broker.host, broker.port, exc)
    finally:
        client.disconnect()
        client.loop_stop()
    return taken


def deliver(db: sqlite_utils.Database, key_path: Path | None, broker: HubBroker,
            cfg: HubSuppressions, cameras: set[tuple[str, str]]) -> int:
    """Expire what is due, then sign and publish the set of ``cameras`` (plus every camera
    whose last set is still pending); how many sets the broker took."""
    cameras = cameras | expire_due(db) | {
        (r[0], r[1]) for r in db.execute(
            "SELECT site, camera FROM suppression_sets WHERE published_at IS NULL").fetchall()}
    if not cameras:
        return 0
    if key_path is None:
        log.error("suppressions: the hub has no signing_key; boxes would refuse the sets")
        return 0
    try:
        key = load_private(key_path)
    except KeyFileError as exc:
        log.error("suppressions: cannot use the hub signing key: %s", exc)
        return 0
    sets = [current_set(db, key, s, c, cfg.lifetime_days) for s, c in sorted(cameras)]
    taken = publish(broker, sets)
    with db.conn:
        for s in taken:
            db.execute("UPDATE suppression_sets SET published_at = ? WHERE site = ? AND "
                       "camera = ? AND version = ?", [time.time(), s.site, s.camera, s.version])
    return len(taken)


def purge_suppressions(db: sqlite_utils.Database, days: int, now: float | None = None) -> int:
    """Delete suppressions that ended (revoked, expired) more than ``days`` ago; how many."""
    now = time.time() if now is None else now
    expire_due(db, now)
    with db.conn:
        cur = db.execute("DELETE FROM suppressions WHERE state != 'active' AND ended_at < ?",
                         [now - days * 86400])
    return int(cur.rowcount)
