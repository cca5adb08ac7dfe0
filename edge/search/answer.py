"""The box's side of forensic search: verify a signed request, refuse or answer it.

A request arrives on this box's own ``search/req`` topic (the only topic a box subscribes
to, see :data:`edge.outbound.egress.SUBSCRIBE_SUFFIXES`). It is checked in this order, and the first
failure is the refusal sent back on ``search/resp`` (and written to the box log):

1. JSON (:func:`edge.wire.messages.parse_json`: bounded size and depth, finite numbers, bounded
   integers) with a request id (without one there is nobody to answer: logged, dropped);
2. signed (``signature`` present) and the signature valid for the hub's public key at
   ``<data_dir>/keys/hub.ed25519.pub`` (installed by ``vigie edge enrol --hub-key``),
   over the canonical JSON of the request without ``signature``;
3. valid against ``vigie.search.req/1`` (no field the contract does not name);
4. dated sanely: not expired, not issued beyond the clock skew in the future, not living
   longer than the configured maximum (``index.request_max_lifetime_s``);
5. not already answered or refused: ids are remembered on disk until the request expires
   (:class:`edge.search.seen.SeenRequests`), so a replay after a restart is refused too;
6. addressed to this box (its site/camera in ``cameras``);
7. its time window inside the index's retention (and start <= end);
8. nothing about persons beyond class, time, zone and direction (no colour on persons).

An accepted request is answered through :class:`edge.outbound.egress.Egress` (schema-checked,
ledgered) in parts of at most :data:`PART_BYTES`, oldest track first, each result with its
preview as base64 JPEG; never more than the request's ``limit`` results over all parts, and
``last`` marks exactly one part, the final one. Nothing matching: one empty part.
The same worker thread purges the index every hour (the box's retention job) and forgets
the ids of requests expired by then.
"""

from __future__ import annotations

import base64
import logging
import queue
import re
import sqlite3
import time
from collections.abc import Iterable
from datetime import datetime
from pathlib import Path
from typing import Any, Literal

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from edge.config import BoxConfig
from edge.config_wings import IndexConfig
from edge.outbound.egress import Egress, EgressRefused
from edge.privacy.faces import FaceFinder
from edge.search.index import IndexQuery, IndexRow, TrackIndex
from edge.search.indexer import TrackRecorder
from edge.search.seen import SeenFull, SeenRequests
from edge.wire.keys import HUB_PUBLIC_KEY, KeyFileError, keys_dir, load_public, verify
from edge.wire.messages import (
    MAX_PREVIEW_B64,
    SEARCH_REQ_SCHEMA_ID,
    MessageError,
    SearchAnswer,
    SearchRequest,
    SearchResult,
    encode,
    parse_json,
    utc_iso,
)
from edge.wire.vitals import vital_thread

log = logging.getLogger(__name__)

PART_BYTES = 48 * 1024
"""Largest answer part (the contract caps a message at 64 KiB)."""
PART_ROWS = 100
PURGE_EVERY_S = 3600.0
_DEFAULTS = IndexConfig()
_UUID = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")


class Refused(Exception):
    """A request this box will not answer; the text is the reason sent back."""


def parse_ts(text: str) -> float:
    """A contract timestamp (``...Z``) as Unix seconds."""
    return datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp()


def _when(value: str, what: str) -> float:
    """The timestamp ``what`` of a schema-valid request; :class:`Refused` when the schema's
    pattern admits it but the calendar does not (``2026-13-45T99:00:00Z``)."""
    try:
        return parse_ts(value)
    except (ValueError, OverflowError):
        raise Refused(f"malformed request: {what} {value!r} is not a date") from None


def unsigned_body(req: dict[str, Any]) -> dict[str, Any]:
    """What the hub signs: the request without its ``signature``."""
    return {k: v for k, v in req.items() if k != "signature"}


class Responder:
    """The decision and the answer for one box, without any network (the benchmark runs
    1,400 of these in one process): :meth:`respond` turns a request payload into the parts
    to publish (a refusal, or the results), logging either."""

    def __init__(self, site: str, camera: str, index: TrackIndex, hub_key_path: Path,
                 retention_days: int, max_results: int, zones: Iterable[str] = (),
                 seen: SeenRequests | None = None,
                 max_lifetime_s: float = _DEFAULTS.request_max_lifetime_s,
                 clock_skew_s: float = _DEFAULTS.clock_skew_s):
        self.site = site
        self.camera = camera
        self.index = index
        self.hub_key_path = hub_key_path
        self.retention_days = retention_days
        self.max_results = max_results
        self.zones = set(zones)
        self.seen = seen if seen is not None else SeenRequests(":memory:", clock_skew_s)
        """Answered and refused ids; in memory unless given (the box passes its index file)."""
        self.max_lifetime_s = max_lifetime_s
        self.clock_skew_s = clock_skew_s
        self._hub_key: tuple[float, Ed25519PublicKey] | None = None
        self.answered = 0
        self.refused = 0

    def respond(self, payload: bytes, now: float | None = None) -> list[SearchAnswer]:
        """The parts answering one request payload (empty when it has no usable id)."""
        now = time.time() if now is None else now
        try:
            req = parse_json(payload)
        except MessageError as exc:
            log.warning("search: request of %d bytes dropped unread (%s)", len(payload),
                        str(exc)[:200])
            return []
        rid = req.get("id") if isinstance(req, dict) else None
        if not isinstance(rid, str) or not _UUID.fullmatch(rid):
            log.warning("search: request without a valid id dropped (nobody to answer)")
            return []
        who = f"{str(req.get('requester'))[:100]!r} case {str(req.get('case'))[:100]!r}"
        try:
            query = self.check(req, now)
        except Refused as exc:
            self.refused += 1
            log.warning("search %s from %s REFUSED: %s", rid, who, exc)
            return [self._part(rid, "refused", str(exc)[:300], 0, True, [])]
        rows = self.index.query(query)
        self.answered += 1
        log.info("search %s from %s (reason %r): %d track(s) answered", rid, who,
                 req["reason"][:300], len(rows))
        return self.parts(rid, rows)

    def hub_key(self) -> Ed25519PublicKey:
        """The hub's public key, re-read when its file changes (a box enrolled while running)."""
        mtime = self.hub_key_path.stat().st_mtime if self.hub_key_path.exists() else -1.0
        if self._hub_key is None or self._hub_key[0] != mtime:
            self._hub_key = (mtime, load_public(self.hub_key_path))
        return self._hub_key[1]

    def check(self, req: dict[str, Any], now: float) -> IndexQuery:
        """The index query a request asks for, or :class:`Refused` with the reason."""
        sig = req.get("signature")
        if not sig:
            raise Refused("unsigned request: every search must be signed with the hub's key")
        try:
            hub_key = self.hub_key()
        except KeyFileError as exc:
            raise Refused(f"this box holds no hub public key ({exc}); run `vigie edge enrol "
                          "CONFIG --hub-key KEY` on it") from None
        if not isinstance(sig, str) or not verify(hub_key, unsigned_body(req), sig):
            raise Refused("bad signature: the request was not signed by this box's hub key "
                          "or was altered after signing")
        return self.query_of(self.typed(req), now)

    @staticmethod
    def typed(req: dict[str, Any]) -> SearchRequest:
        """The request once it is known to be valid against ``vigie.search.req/1``."""
        try:
            return SearchRequest.from_wire(req)
        except MessageError as exc:
            raise Refused(f"malformed request ({SEARCH_REQ_SCHEMA_ID}): {exc}") from None

    def query_of(self, req: SearchRequest, now: float) -> IndexQuery:
        """The index query of a signed, valid request, or :class:`Refused` with the reason."""
        expires_at = self.check_dates(req, now)
        self.check_replay(req.id, expires_at, now)
        if (self.site, self.camera) not in req.cameras:
            raise Refused(f"request names other cameras; this box is {self.site}/{self.camera} "
                          "and answers only for itself")
        start, end = _when(req.window_start, "window/start"), _when(req.window_end, "window/end")
        if end < start:
            raise Refused("time window ends before it starts")
        if start < now - self.retention_days * 86400:
            raise Refused(f"time window starts before this box's retention "
                          f"({self.retention_days} days): nothing that old is kept")
        q = req.query
        if q.cls == "person" and q.colour is not None:
            raise Refused("person attribute asked: persons are searched by class, time, zone "
                          "and direction only (no colour, no appearance)")
        if q.zone is not None and q.zone not in self.zones:
            log.info("search %s names zone %r, not one of this camera's", req.id, q.zone)
        return IndexQuery(start=start, end=end, label=q.cls, colour=q.colour, zone=q.zone,
                          direction=q.direction, limit=min(req.limit, self.max_results))

    def check_dates(self, req: SearchRequest, now: float) -> float:
        """The request's expiry, once it is known to be current and short-lived."""
        issued_at, expires_at = _when(req.issued_at, "issued_at"), _when(req.expires_at, "expires_at")
        if expires_at < now:
            raise Refused(f"expired request (expired at {req.expires_at})")
        if issued_at > now + self.clock_skew_s:
            raise Refused(f"request issued in the future ({req.issued_at}, more than "
                          f"{self.clock_skew_s:g} s ahead of this box's clock)")
        if expires_at < issued_at:
            raise Refused("request expires before it is issued")
        if expires_at - issued_at > self.max_lifetime_s:
            raise Refused(f"request lives too long ({expires_at - issued_at:.0f} s from issue to "
                          f"expiry; this box accepts at most {self.max_lifetime_s:g} s)")
        return expires_at

    def check_replay(self, rid: str, expires_at: float, now: float) -> None:
        """Remember ``rid`` on disk before anything is answered; :class:`Refused` if seen."""
        try:
            first = self.seen.remember(rid, expires_at, now)
        except SeenFull as exc:
            raise Refused(f"too many live requests: {exc}") from None
        except sqlite3.Error as exc:
            raise Refused(f"this box cannot record the request id ({exc}); not answered, "
                          "since a replay could then not be refused") from None
        if not first:
            raise Refused("replayed request: this request id was already answered or refused")

    def _part(self, rid: str, status: Literal["results", "refused"], reason: str | None,
              part: int, last: bool, results: list[SearchResult]) -> SearchAnswer:
        return SearchAnswer(self.site, self.camera, rid, status, reason, part, last,
                            tuple(results))

    def parts(self, rid: str, rows: list[IndexRow]) -> list[SearchAnswer]:
        """The answer to a request, split into parts that each fit :data:`PART_BYTES`."""
        parts: list[SearchAnswer] = []
        chunk: list[SearchResult] = []
        size = 0
        for row in rows:
            item = result_of(row)
            n = len(encode(item.to_wire())) + 1
            if chunk and (size + n > PART_BYTES or len(chunk) >= PART_ROWS):
                parts.append(self._part(rid, "results", None, len(parts), False, chunk))
                chunk, size = [], 0
            chunk.append(item)
            size += n
        parts.append(self._part(rid, "results", None, len(parts), True, chunk))
        return parts


class BoxSearch:
    """The index, its recorder and the request worker of one agent."""

    def __init__(self, cfg: BoxConfig, egress: Egress, faces: FaceFinder | None,
                 index: TrackIndex | None = None):
        self.cfg = cfg
        self.egress = egress
        self.index = index or TrackIndex(cfg.data_dir / "index.sqlite")
        self.recorder = TrackRecorder(self.index, cfg.zones, faces, cfg.index.best_crops)
        self.hub_key_path = keys_dir(cfg.data_dir) / HUB_PUBLIC_KEY
        self.seen = SeenRequests(self.index.path, keep_s=cfg.index.clock_skew_s)
        self.responder = Responder(cfg.site, cfg.camera, self.index, self.hub_key_path,
                                   cfg.index.retention_days, cfg.index.max_results,
                                   [z.name for z in cfg.zones], seen=self.seen,
                                   max_lifetime_s=cfg.index.request_max_lifetime_s,
                                   clock_skew_s=cfg.index.clock_skew_s)
        self._queue: queue.Queue[bytes | None] = queue.Queue(maxsize=1000)
        self._thread = vital_thread("search", self._run)
        egress.subscribe("search/req", self._receive)

    @property
    def answered(self) -> int:
        return self.responder.answered

    @property
    def refused(self) -> int:
        return self.responder.refused

    # -- threads ------------------------------------------------------------------------
    def _receive(self, payload: bytes) -> None:
        try:
            self._queue.put_nowait(payload)  # paho's thread: queue only
        except queue.Full:
            log.error("search: too many requests waiting; one dropped unread")

    def start(self) -> None:
        self.index.purge(self.cfg.index.retention_days)
        self._thread.start()

    def stop(self) -> None:
        if self._thread.is_alive():
            self._queue.put(None)
            self._thread.join(timeout=10)
        self.seen.close()
        self.index.close()

    def _run(self) -> None:
        next_purge = time.monotonic() + PURGE_EVERY_S
        while True:
            idle = False
            try:
                payload = self._queue.get(timeout=max(next_purge - time.monotonic(), 0.1))
            except queue.Empty:
                payload, idle = b"", True
            if payload is None:
                return
            try:
                if not idle:  # an empty payload is a request too (refused, logged)
                    self.handle(payload)
                if time.monotonic() >= next_purge:
                    self.index.purge(self.cfg.index.retention_days)
                    self.seen.purge(time.time())
                    next_purge = time.monotonic() + PURGE_EVERY_S
            except Exception:  # nothing a request holds may stop the worker
                log.exception("search: internal error")

    def handle(self, payload: bytes, now: float | None = None) -> list[SearchAnswer]:
        """Check one request and publish its refusal or its answer; returns what was sent."""
        return self._send(self.responder.respond(payload, now))

    def _send(self, parts: list[SearchAnswer]) -> list[SearchAnswer]:
        for p in parts:
            try:
                if self.egress.publish("search/resp", p) is None:
                    log.warning("search %s: not connected to the broker; answer not sent",
                                p.request_id)
                    return parts
            except EgressRefused as exc:
                log.error("search %s: answer refused by egress: %s", p.request_id, exc)
                return parts
        return parts


def result_of(row: IndexRow) -> SearchResult:
    """One index row as a ``vigie.search.resp/1`` result (persons: no colour, no preview)."""
    vehicle = row.label != "person"
    preview = None
    if vehicle and row.preview is not None:
        text = base64.b64encode(row.preview).decode()
        preview = text if len(text) <= MAX_PREVIEW_B64 else None
    return SearchResult(
        row=int(row.id or 0), cls=row.label,
        first_seen=utc_iso(row.first_seen), last_seen=utc_iso(row.last_seen),
        zones=tuple(row.zones)[:32], direction=row.direction,
        colour=row.colour if vehicle else None,
        colour_confidence=row.colour_confidence if vehicle else None,
        preview=preview,
    )
