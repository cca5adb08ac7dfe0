"""The box's false-alarm suppressions: the hub's signed set, checked, kept and applied.

The hub retains one ``vigie.suppress/1`` set per camera on ``<camera>/suppress`` (see
:mod:`edge.wire.suppress`); the box receives it on subscribing (so a box that was offline gets
the current set) and after every change. A set is applied only when, in this order:

1. it is bounded JSON with a signature valid for the hub's public key (the search requests'
   key file and verification, :class:`edge.search.answer.Responder`), over the set without
   its ``signature``;
2. it is valid against ``vigie.suppress/1`` and names this camera alone;
3. it is not stale (``expires_at`` passed), not issued beyond the clock skew in the future, and
   its ``version`` is newer than the set applied last (an older set replayed is refused).

A refused set is logged and counted; the set applied before stays. The applied set is kept in
``<data_dir>/suppressions.sqlite`` (table ``suppression_set``: one row, the last signed set, its
version; replaced by the next set; each entry stops applying at its own expiry), so it applies
after a restart before the broker is reached.
"""

from __future__ import annotations

import json
import logging
import sqlite3
import threading
import time
from pathlib import Path

from edge.geometry import foot_point
from edge.records import Event
from edge.search.answer import Refused, parse_ts, unsigned_body
from edge.wire.jsonio import MessageError, parse_json
from edge.wire.keys import KeyFileError, load_public, verify
from edge.wire.suppress import Suppression, SuppressionSet

log = logging.getLogger(__name__)

CLOCK_SKEW_S = 300.0

_SCHEMA = """
CREATE TABLE IF NOT EXISTS suppression_set (
    one INTEGER PRIMARY KEY CHECK (one = 1),
    version INTEGER NOT NULL,
    body TEXT NOT NULL,
    applied_at REAL NOT NULL
);
"""


def _ts(text: str, what: str) -> float:
    try:
        return parse_ts(text)
    except (ValueError, OverflowError):
        raise Refused(f"malformed set: {what} {text!r} is not a date") from None


class SuppressionBook:
    """The live suppressions of one camera; thread-safe (paho's thread writes, the pipeline
    reads)."""

    def __init__(self, site: str, camera: str, hub_key_path: Path, path: Path | str = ":memory:"):
        self.site, self.camera = site, camera
        self.hub_key_path = hub_key_path
        self._lock = threading.Lock()
        self.version = 0
        self.entries: tuple[Suppression, ...] = ()
        self._expiry: dict[str, float] = {}
        self.applied = 0
        self.refused = 0
        self._conn = sqlite3.connect(str(path), check_same_thread=False, isolation_level=None)
        self._conn.executescript(_SCHEMA)
        row = self._conn.execute("SELECT body FROM suppression_set WHERE one = 1").fetchone()
        if row is not None:
            try:
                self._set(SuppressionSet.from_wire(json.loads(row[0])))
            except (ValueError, MessageError) as exc:  # the retained set comes again anyway
                log.error("suppressions: stored set unreadable (%s); none applied until the "
                          "hub's set arrives", exc)

    def _set(self, s: SuppressionSet) -> None:
        self.version, self.entries = s.version, s.suppressions
        self._expiry = {e.id: parse_ts(e.expires_at) for e in s.suppressions}

    def on_message(self, payload: bytes) -> None:
        """The egress subscription's handler (paho's thread: a signature check and one row)."""
        self.receive(payload)

    def receive(self, payload: bytes, now: float | None = None) -> bool:
        """Check and apply one received set; False (logged, counted) when it is refused."""
        now = time.time() if now is None else now
        try:
            s = self.check(payload, now)
        except Refused as exc:
            self.refused += 1
            log.warning("suppressions: set of %d bytes REFUSED: %s", len(payload), exc)
            return False
        with self._lock:
            self._conn.execute("INSERT OR REPLACE INTO suppression_set (one, version, body, "
                               "applied_at) VALUES (1, ?, ?, ?)",
                               [s.version, json.dumps(s.to_wire()), now])
            self._set(s)
            self.applied += 1
        log.info("suppressions: set version %d applied, %d suppression(s): %s", s.version,
                 len(s.suppressions), [(e.rule, e.zone, e.expires_at) for e in s.suppressions])
        return True

    def check(self, payload: bytes, now: float) -> SuppressionSet:
        """The set a payload carries, or :class:`Refused` with the reason."""
        try:
            body = parse_json(payload)
        except MessageError as exc:
            raise Refused(f"not a JSON object: {str(exc)[:200]}") from None
        if not isinstance(body, dict):
            raise Refused("not a JSON object")
        sig = body.get("signature")
        if not sig or not isinstance(sig, str):
            raise Refused("unsigned set: suppressions must be signed with the hub's key")
        try:
            key = load_public(self.hub_key_path)
        except KeyFileError as exc:
            raise Refused(f"this box holds no hub public key ({exc})") from None
        if not verify(key, unsigned_body(body), sig):
            raise Refused("bad signature: not signed by this box's hub key or altered after")
        try:
            s = SuppressionSet.from_wire(body)
        except MessageError as exc:
            raise Refused(f"malformed set: {str(exc)[:300]}") from None
        if (s.site, s.camera) != (self.site, self.camera):
            raise Refused(f"set for {s.site}/{s.camera}; this box is {self.site}/{self.camera}")
        if _ts(s.expires_at, "expires_at") < now:
            raise Refused(f"stale set (expired at {s.expires_at})")
        if _ts(s.issued_at, "issued_at") > now + CLOCK_SKEW_S:
            raise Refused(f"set issued in the future ({s.issued_at})")
        for e in s.suppressions:
            _ts(e.expires_at, "suppression expires_at")
        if s.version <= self.version:
            raise Refused(f"replayed or older set (version {s.version}, applied {self.version})")
        return s

    def live(self, now: float | None = None) -> list[Suppression]:
        now = time.time() if now is None else now
        with self._lock:
            return [e for e in self.entries if self._expiry[e.id] > now]

    def match(self, ev: Event, now: float) -> Suppression | None:
        """The live suppression of ``ev``'s rule (and zone) holding all its objects' foot
        points, if any (an event without objects is never suppressed)."""
        if not ev.objects:
            return None
        feet = [foot_point(o.box, ev.frame_w, ev.frame_h) for o in ev.objects]
        for e in self.live(now):
            if e.rule != ev.type or (e.zone is not None and e.zone != ev.zone):
                continue
            x, y, w, h = e.region
            if all(x <= fx <= x + w and y <= fy <= y + h for fx, fy in feet):
                return e
        return None

    def close(self) -> None:
        with self._lock:
            self._conn.close()
