"""The clip flow of one agent: event start -> clip job -> encoded file -> outbox -> HTTP PUT.

Wire protocol of a clip's status (documented in the README):

* the ``start`` message leaves at once with ``clip = {"status": "pending", "sha256": null}``;
* when the upload has succeeded (or has finally failed), the box sends the event's latest
  message again (``start``, or ``end`` if the event has already ended) with
  ``clip = {"status": "uploaded", "sha256": <hex>}`` (or ``"failed"``); an ``end`` message
  emitted after that carries the final clip status too. The hub updates the clip fields of
  the event idempotently and never moves them back to ``pending``.

The clip upload is an outbox row of kind ``clip`` (so it survives restarts), retried with
exponential backoff; every attempt goes through :func:`edge.egress.put_clip` and the ledger.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import Any

from edge.clips import Anonymiser, ClipFile, ClipMaker, FaceFinder, MaskPainter
from edge.config import BoxConfig, UploadConfig
from edge.egress import EgressRefused, UploadError, put_clip
from edge.ledger import Ledger
from edge.messages import EventMessage
from edge.modelstore import ModelStore
from edge.outbox import Outbox
from edge.records import Detection, Event

log = logging.getLogger(__name__)

RETRYABLE = {404, 408, 425, 429, 500, 502, 503, 504}
"""Statuses worth retrying: 404 is the hub not having ingested the event message yet."""


def backoff(attempts: int, initial: float, maximum: float) -> float:
    """Seconds to wait before attempt ``attempts + 1``: doubling from ``initial`` up to ``maximum``."""
    return float(min(initial * (2 ** max(attempts - 1, 0)), maximum))


class ClipFlow:
    """Clip making and uploading for one agent (created only when ``[upload]`` is set)."""

    def __init__(
        self, cfg: BoxConfig, store: ModelStore, outbox: Outbox, ledger: Ledger,
        wake_sender: Callable[[], None],
    ):
        assert cfg.upload is not None
        self.cfg = cfg
        self.upload: UploadConfig = cfg.upload
        self.outbox = outbox
        self.ledger = ledger
        self.wake_sender = wake_sender
        faces = None
        if "faces" in cfg.clips.anonymize:
            faces = FaceFinder(store.path("yunet"), cfg.clips.face_threshold, cfg.clips.face_scale)
        anonymise = Anonymiser(MaskPainter(cfg.privacy_masks), cfg.clips.anonymize, faces)
        self.maker = ClipMaker(cfg.clips, anonymise, cfg.data_dir / "clips", self._encoded)
        self._latest: dict[str, EventMessage] = {}
        self._final: dict[str, tuple[str, str | None]] = {}
        self._lock = threading.Lock()
        self._next_try: dict[int, float] = {}
        self.hub_unreachable = False
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="clip-upload", daemon=True)
        self._thread.start()

    # -- called by the detection loop ------------------------------------------------------
    def observe(self, ts: float, image: object, detections: list[Detection]) -> None:
        """Feed one (masked) frame and its person detections to the pre-roll."""
        persons = tuple(d.box for d in detections if d.label == "person")
        self.maker.observe(ts, image, persons)  # type: ignore[arg-type]

    def on_event(self, ev: Event, msg: EventMessage, ts: float) -> EventMessage:
        """Start a clip on an event start; give every message its current clip status."""
        with self._lock:
            if ev.state == "start":
                if self.maker.start(ev.id, ts):
                    msg = replace(msg, clip_status="pending")
                    self._latest[ev.id] = msg
                else:
                    msg = replace(msg, clip_status="failed")
                return msg
            if ev.id in self._final:
                status, sha = self._final.pop(ev.id)
                return replace(msg, clip_status=status, clip_sha256=sha)
            if ev.id in self._latest:
                self._latest[ev.id] = replace(msg, clip_status="pending")
                return self._latest[ev.id]
            return msg

    def flush(self) -> None:
        """The source ended: finish open clips with the frames they have."""
        self.maker.flush()

    # -- worker callbacks ------------------------------------------------------------------
    def _encoded(self, event_id: str, clip: ClipFile | None, reason: str) -> None:
        if clip is None:
            self._finish(event_id, "failed", None)
            return
        with self._lock:
            latest = self._latest.get(event_id)
        self.outbox.put("clip", {
            "event_id": event_id, "path": str(clip.path), "sha256": clip.sha256,
            "bytes": clip.bytes, "message": latest.to_json() if latest else None,
        })
        self._wake.set()

    def _finish(
        self, event_id: str, status: str, sha: str | None, stored: dict[str, Any] | None = None
    ) -> None:
        """Send the event's latest message again with the final clip status."""
        with self._lock:
            latest = self._latest.pop(event_id, None)
            if latest is None and stored is not None:
                latest = EventMessage.from_json(stored)
            if latest is None:
                return
            if latest.state == "start":
                self._final[event_id] = (status, sha)  # for the end message still to come
        self.outbox.put("event", replace(latest, clip_status=status, clip_sha256=sha).to_json())
        self.wake_sender()
        log.info("clip for event %s: %s", event_id, status)

    # -- uploader ----------------------------------------------------------------------------
    def _run(self) -> None:
        while not self._stop.is_set():
            self._wake.wait(0.5)
            self._wake.clear()
            try:
                self.upload_due()
            except Exception:
                log.exception("clip uploader error; will retry")
                self._stop.wait(1.0)

    def upload_due(self) -> None:
        """Try every clip row whose backoff has passed."""
        c = self.cfg.clips
        for item in self.outbox.pending(100, kinds=("clip",)):
            if self._stop.is_set():
                return
            if time.monotonic() < self._next_try.get(item.id, 0.0):
                continue
            body = item.body
            path = Path(body["path"])
            try:
                data = path.read_bytes()
            except OSError as exc:
                log.error("clip file of event %s is gone (%s); giving up", body["event_id"], exc)
                self._give_up(item.id, body)
                continue
            try:
                status = put_clip(self.ledger, self.upload.hub_url, self.upload.device_token,
                                  body["event_id"], data, c.upload_timeout_s, self.cfg.mode)
            except EgressRefused as exc:
                log.error("egress refused the clip of event %s: %s", body["event_id"], exc)
                self._give_up(item.id, body)
                continue
            except UploadError as exc:
                status = 0
                self.hub_unreachable = True
                log.warning("%s", exc)
            else:
                self.hub_unreachable = False
            if status in (200, 201):
                self.outbox.delete(item.id)
                self._next_try.pop(item.id, None)
                path.unlink(missing_ok=True)  # least data: the hub has it now
                self._finish(body["event_id"], "uploaded", body["sha256"], body.get("message"))
            elif status == 0 or status in RETRYABLE:
                self.outbox.mark_attempt(item.id)
                attempts = item.attempts + 1
                if attempts >= c.max_attempts:
                    log.error("clip of event %s: %d attempts failed; giving up",
                              body["event_id"], attempts)
                    self._give_up(item.id, body)
                    continue
                wait = backoff(attempts, c.retry_initial_s, c.retry_max_s)
                self._next_try[item.id] = time.monotonic() + wait
                log.info("clip of event %s: hub answered %s; retry in %.0f s",
                         body["event_id"], status or "nothing", wait)
            else:
                log.error("hub refused the clip of event %s with HTTP %d; giving up",
                          body["event_id"], status)
                self._give_up(item.id, body)

    def _give_up(self, row: int, body: dict[str, Any]) -> None:
        self.outbox.delete(row)
        self._next_try.pop(row, None)
        Path(body["path"]).unlink(missing_ok=True)
        self._finish(body["event_id"], "failed", None, body.get("message"))

    # -- shutdown ------------------------------------------------------------------------------
    def finish(self, timeout: float, upload_timeout: float = 5.0) -> None:
        """Wait up to ``timeout`` s for clips still being encoded (frames in memory would be
        lost), then up to ``upload_timeout`` s for uploads (encoded clips are in the outbox
        and go on the next run anyway)."""
        self.maker.flush()
        if not self.maker.wait_idle(timeout):
            log.warning("%d clip(s) still being made at shutdown are lost", self.maker.pending)
        deadline = time.monotonic() + upload_timeout
        while time.monotonic() < deadline and self.outbox.depth_of("clip"):
            if self.hub_unreachable:
                log.info("hub unreachable: clip uploads stay in the outbox for the next run")
                break
            self._wake.set()
            time.sleep(0.1)

    def stop(self) -> None:
        self._stop.set()
        self._wake.set()
        self._thread.join(timeout=10)
        self.maker.stop()
