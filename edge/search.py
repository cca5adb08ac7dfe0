"""The box's side of forensic search: verify a signed request, refuse or answer it.

A request arrives on this box's own ``search/req`` topic (the only topic a box subscribes
to, see :data:`edge.egress.SUBSCRIBE_SUFFIXES`). It is checked in this order, and the first
failure is the refusal sent back on ``search/resp`` (and written to the box log):

1. JSON with a request id (without one there is nobody to answer: logged, dropped);
2. signed (``signature`` present) and the signature valid for the hub's public key at
   ``<data_dir>/keys/hub.ed25519.pub`` (installed by ``vigie edge enrol --hub-key``),
   over the canonical JSON of the request without ``signature``;
3. valid against ``vigie.search.req/1`` (no field the contract does not name);
4. not expired, not already answered (a replayed request id is refused);
5. addressed to this box (its site/camera in ``cameras``);
6. its time window inside the index's retention (and start <= end);
7. nothing about persons beyond class, time, zone and direction (no colour on persons).

An accepted request is answered through :class:`edge.egress.Egress` (schema-checked,
ledgered) in parts of at most :data:`PART_BYTES`, oldest track first, each result with its
preview as base64 JPEG; ``last`` marks the final part. Nothing matching: one empty part.
The same worker thread purges the index every hour (the box's retention job).
"""

from __future__ import annotations

import base64
import json
import logging
import queue
import re
import threading
import time
from collections import OrderedDict
from collections.abc import Iterable
from datetime import datetime
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from edge.clips import FaceFinder
from edge.config import BoxConfig
from edge.egress import Egress, EgressRefused
from edge.index import IndexQuery, IndexRow, TrackIndex
from edge.indexer import TrackRecorder
from edge.keys import HUB_PUBLIC_KEY, KeyFileError, keys_dir, load_public, verify
from edge.messages import (
    MAX_PAYLOAD_BYTES,
    MAX_PREVIEW_B64,
    SEARCH_REQ_SCHEMA_ID,
    SEARCH_RESP_SCHEMA_ID,
    MessageError,
    encode,
    utc_iso,
    validate,
)

log = logging.getLogger(__name__)

PART_BYTES = 48 * 1024
"""Largest answer part (the contract caps a message at 64 KiB)."""
PART_ROWS = 100
PURGE_EVERY_S = 3600.0
SEEN_IDS = 10_000
_UUID = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")


class Refused(Exception):
    """A request this box will not answer; the text is the reason sent back."""


def parse_ts(text: str) -> float:
    """A contract timestamp (``...Z``) as Unix seconds."""
    return datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp()


def unsigned_body(req: dict[str, Any]) -> dict[str, Any]:
    """What the hub signs: the request without its ``signature``."""
    return {k: v for k, v in req.items() if k != "signature"}


class Responder:
    """The decision and the answer for one box, without any network (the benchmark runs
    1,400 of these in one process): :meth:`respond` turns a request payload into the parts
    to publish (a refusal, or the results), logging either."""

    def __init__(self, site: str, camera: str, index: TrackIndex, hub_key_path: Path,
                 retention_days: int, max_results: int, zones: Iterable[str] = ()):
        self.site = site
        self.camera = camera
        self.index = index
        self.hub_key_path = hub_key_path
        self.retention_days = retention_days
        self.max_results = max_results
        self.zones = set(zones)
        self._seen: OrderedDict[str, None] = OrderedDict()
        self._hub_key: tuple[float, Ed25519PublicKey] | None = None
        self.answered = 0
        self.refused = 0

    def respond(self, payload: bytes, now: float | None = None) -> list[dict[str, Any]]:
        """The parts answering one request payload (empty when it has no usable id)."""
        now = time.time() if now is None else now
        if len(payload) > MAX_PAYLOAD_BYTES:
            log.warning("search: request of %d bytes dropped unread (limit %d)", len(payload),
                        MAX_PAYLOAD_BYTES)
            return []
        try:
            req = json.loads(payload)
        except (UnicodeDecodeError, json.JSONDecodeError) as exc:
            log.warning("search: request that is not JSON dropped (%s)", exc)
            return []
        rid = req.get("id") if isinstance(req, dict) else None
        if not isinstance(rid, str) or not _UUID.match(rid):
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
                 str(req["reason"])[:300], len(rows))
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
        try:
            validate("search/req", req)
        except MessageError as exc:
            raise Refused(f"malformed request ({SEARCH_REQ_SCHEMA_ID}): {exc}") from None
        if parse_ts(req["expires_at"]) < now:
            raise Refused(f"expired request (expired at {req['expires_at']})")
        if req["id"] in self._seen:
            raise Refused("request id already answered (replay)")
        self._seen[req["id"]] = None
        while len(self._seen) > SEEN_IDS:
            self._seen.popitem(last=False)
        me = {"site": self.site, "camera": self.camera}
        if me not in req["cameras"]:
            raise Refused(f"request names other cameras; this box is {self.site}/{self.camera} "
                          "and answers only for itself")
        start, end = parse_ts(req["window"]["start"]), parse_ts(req["window"]["end"])
        if end < start:
            raise Refused("time window ends before it starts")
        if start < now - self.retention_days * 86400:
            raise Refused(f"time window starts before this box's retention "
                          f"({self.retention_days} days): nothing that old is kept")
        q = req["query"]
        if q["class"] == "person" and q["colour"] is not None:
            raise Refused("person attribute asked: persons are searched by class, time, zone "
                          "and direction only (no colour, no appearance)")
        if q["zone"] is not None and q["zone"] not in self.zones:
            log.info("search %s names zone %r, not one of this camera's", req["id"], q["zone"])
        return IndexQuery(start=start, end=end, label=q["class"], colour=q["colour"],
                          zone=q["zone"], direction=q["direction"],
                          limit=min(int(req["limit"]), self.max_results))

    def _part(self, rid: str, status: str, reason: str | None, part: int, last: bool,
              results: list[dict[str, Any]]) -> dict[str, Any]:
        return {"schema": SEARCH_RESP_SCHEMA_ID, "site": self.site, "camera": self.camera,
                "request_id": rid, "status": status, "reason": reason, "part": part, "last": last,
                "results": results}

    def parts(self, rid: str, rows: list[IndexRow]) -> list[dict[str, Any]]:
        """The answer to a request, split into parts that each fit :data:`PART_BYTES`."""
        parts: list[dict[str, Any]] = []
        chunk: list[dict[str, Any]] = []
        size = 0
        for row in rows:
            item = result_of(row)
            n = len(encode(item)) + 1
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
        self.responder = Responder(cfg.site, cfg.camera, self.index, self.hub_key_path,
                                   cfg.index.retention_days, cfg.index.max_results,
                                   [z.name for z in cfg.zones])
        self._queue: queue.Queue[bytes | None] = queue.Queue(maxsize=1000)
        self._thread = threading.Thread(target=self._run, name="search", daemon=True)
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
        self.index.close()

    def _run(self) -> None:
        next_purge = time.monotonic() + PURGE_EVERY_S
        while True:
            try:
                payload = self._queue.get(timeout=max(next_purge - time.monotonic(), 0.1))
            except queue.Empty:
                payload = b""
            if payload is None:
                return
            try:
                if payload:
                    self.handle(payload)
                if time.monotonic() >= next_purge:
                    self.index.purge(self.cfg.index.retention_days)
                    next_purge = time.monotonic() + PURGE_EVERY_S
            except Exception:  # nothing a request holds may stop the worker
                log.exception("search: internal error")

    def handle(self, payload: bytes, now: float | None = None) -> list[dict[str, Any]]:
        """Check one request and publish its refusal or its answer; returns what was sent."""
        return self._send(self.responder.respond(payload, now))

    def _send(self, parts: list[dict[str, Any]]) -> list[dict[str, Any]]:
        for p in parts:
            try:
                if self.egress.publish("search/resp", p) is None:
                    log.warning("search %s: not connected to the broker; answer not sent",
                                p["request_id"])
                    return parts
            except EgressRefused as exc:
                log.error("search %s: answer refused by egress: %s", p["request_id"], exc)
                return parts
        return parts


def result_of(row: IndexRow) -> dict[str, Any]:
    """One index row as a ``vigie.search.resp/1`` result (persons: no colour, no preview)."""
    vehicle = row.label != "person"
    preview = None
    if vehicle and row.preview is not None:
        text = base64.b64encode(row.preview).decode()
        preview = text if len(text) <= MAX_PREVIEW_B64 else None
    return {
        "row": int(row.id or 0), "class": row.label,
        "first_seen": utc_iso(row.first_seen), "last_seen": utc_iso(row.last_seen),
        "zones": list(row.zones)[:32], "direction": row.direction,
        "colour": row.colour if vehicle else None,
        "colour_confidence": row.colour_confidence if vehicle else None,
        "preview": preview,
    }
