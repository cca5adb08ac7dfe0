"""The clip flow of one agent: event start -> clip job -> encoded file -> outbox -> HTTP PUT.

Wire protocol of a clip's status (documented in the README):

* the ``start`` message leaves at once with ``clip = {"status": "pending", "sha256": null}``;
* when a worker starts encoding the clip (at once, unless both workers are busy: clips are
  encoded while their post-roll is recorded), the box sends the event's latest message again
  with ``clip.status = "making"``;
* when the upload has succeeded (or has finally failed), the box sends the event's latest
  message again (``start``, or ``end`` if the event has already ended) with
  ``clip = {"status": "uploaded", "sha256": <hex>}`` (or ``"failed"``); an ``end`` message
  emitted after that carries the final clip status too. The hub updates the clip fields of
  the event idempotently and never moves them back to ``pending``.

The clip upload is an outbox row of kind ``clip`` (so it survives restarts), retried with
exponential backoff; every attempt goes through :func:`edge.outbound.egress.put_clip` and the ledger.
A clip being made is an outbox row of kind ``clipjob`` from the event start until its file is
encoded: a box killed meanwhile finds the row on restart and uploads the file if its encoding
had finished (the file is renamed into place only then), else sends ``failed`` with the reason.
A failed clip's message carries ``clip.reason``.

The still of an event start (:mod:`edge.clips.still`) is an outbox row of kind ``still``,
uploaded before any clip, retried from ``clips.still_retry_s``; no message reports it (the hub
shows it once it has it).
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import Any

from edge.clips.encode import ClipFile
from edge.clips.maker import ClipMaker
from edge.clips.overlay import Shape, shape_of
from edge.clips.still import StillFile, StillMaker
from edge.config import BoxConfig
from edge.config_wings import UploadConfig
from edge.modelstore import ModelStore
from edge.outbound.diskfull import OnceLog
from edge.outbound.egress import EgressRefused, UploadError, put_clip, put_still
from edge.outbound.ledger import Ledger, LedgerError
from edge.outbound.outbox import Outbox, OutboxError, OutboxItem
from edge.outbound.spool import Spool
from edge.privacy.faces import Anonymiser, FaceFinder
from edge.privacy.masks import MaskPainter
from edge.records import Box, Detection, Event
from edge.wire.messages import EventMessage
from edge.wire.periodic import Periodic

log = logging.getLogger(__name__)

RETRYABLE = {404, 408, 425, 429, 500, 502, 503, 504}
"""Statuses worth retrying: 404 is the hub not having ingested the event message yet."""
"""Outbox rows of this flow: the sender never publishes them."""
INTERRUPTED = "the box stopped while the clip was being made"
STILL_QUICK_TRIES = 8
"""Still upload attempts made every ``clips.still_retry_s`` before the wait starts doubling: the
hub answers 404 until the event's start message, sent at the same moment, has reached it."""


def backoff(attempts: int, initial: float, maximum: float) -> float:
    """Seconds to wait before attempt ``attempts + 1``: doubling from ``initial`` up to ``maximum``."""
    return float(min(initial * (2 ** max(attempts - 1, 0)), maximum))


class ClipFlow:
    """Clip making and uploading for one agent (created only when ``[upload]`` is set)."""

    def __init__(
        self, cfg: BoxConfig, store: ModelStore, outbox: Outbox, ledger: Ledger,
        wake_sender: Callable[[], None], spool: Spool | None = None,
    ):
        assert cfg.upload is not None
        self.cfg = cfg
        self.upload: UploadConfig = cfg.upload
        self.outbox = outbox
        self.spool = spool
        """Where new rows go (kept in memory while the outbox cannot be written)."""
        self.ledger = ledger
        self.ledger_log = OnceLog(log, "ledgering clip uploads")
        self.wake_sender = wake_sender
        def anonymiser() -> Anonymiser:  # one per thread: an OpenCV network is not shared
            faces = None
            if "faces" in cfg.clips.anonymize:
                faces = FaceFinder(store.path("yunet"), cfg.clips.face_threshold,
                                   cfg.clips.face_scale)
            return Anonymiser(MaskPainter(cfg.privacy_masks), cfg.clips.anonymize, faces)

        self.maker = ClipMaker(cfg.clips, anonymiser, cfg.data_dir / "clips", self._encoded,
                               self._making)
        self.stills: StillMaker | None = None
        if cfg.clips.still:  # the same anonymisation as clips, in its own thread
            self.stills = StillMaker(cfg.clips, anonymiser(), cfg.data_dir / "stills",
                                     self._still_made)
        self._frame: tuple[float, object, tuple[Box, ...], tuple[Box, ...]] | None = None
        self._latest: dict[str, EventMessage] = {}
        self._final: dict[str, tuple[str, str | None, str | None]] = {}
        self._lock = threading.Lock()
        self._next_try: dict[int, float] = {}
        self.hub_unreachable = False
        self._job = Periodic("clip-upload", 0.5, lambda: self._upload_round("clip"))
        self._still_job = Periodic("still-upload", 0.25, lambda: self._upload_round("still"))
        """Stills have their own uploader: a clip upload (the hub decodes every frame before it
        answers) never holds a still back."""
        self.recover()
        self._job.start()
        self._still_job.start()

    def _put(self, kind: str, body: dict[str, Any]) -> None:
        if self.spool is not None:
            self.spool.put(kind, body)
        else:
            self.outbox.put(kind, body)

    def recover(self) -> int:
        """Settle the clips a previous run was making when it stopped; returns how many."""
        uploads = {i.body["event_id"] for i in self.outbox.pending(10_000, kinds=("clip",))}
        jobs = self.outbox.pending(10_000, kinds=("clipjob",))
        for item in jobs:
            if item.body["event_id"] not in uploads:
                self._settle(item.body["event_id"], item.body.get("message"))
            self.outbox.delete(item.id)  # after its outcome is stored: a crash repeats it
        return len(jobs)

    def _settle(self, event_id: str, message: dict[str, Any] | None) -> None:
        """Upload an interrupted job's clip if its file is whole, else say it failed."""
        clip = self.maker.finished(event_id)
        if clip is not None:
            log.info("clip of event %s was encoded before the box stopped: uploading it", event_id)
            self._put("clip", _upload_row(event_id, clip, message))
        else:
            log.error("clip of event %s: %s", event_id, INTERRUPTED)
            self._finish(event_id, "failed", None, message, INTERRUPTED)

    # -- called by the detection loop ------------------------------------------------------
    def observe(self, ts: float, image: object, detections: list[Detection]) -> None:
        """Feed one (masked) frame and its person detections to the pre-roll."""
        persons = tuple(d.box for d in detections if d.label == "person")
        boxes = tuple(d.box for d in detections)
        self._frame = (ts, image, persons, boxes)
        self.maker.observe(ts, image, persons, boxes)  # type: ignore[arg-type]

    def on_event(self, ev: Event, msg: EventMessage, ts: float) -> EventMessage:
        """Start a clip on an event start; give every message its current clip status."""
        with self._lock:
            if ev.state == "start":
                shape = shape_of(self.cfg.zones, self.cfg.lines, ev.zone)
                self._still(ev, msg, shape)
                if self.maker.start(ev.id, ts, shape):
                    msg = replace(msg, clip_status="pending")
                    self._latest[ev.id] = msg
                    self._put("clipjob", {"event_id": ev.id, "message": msg.to_json()})
                else:
                    msg = replace(msg, clip_status="failed", clip_reason="too many clips in progress")
                return msg
            if ev.id in self._final:
                status, sha, reason = self._final.pop(ev.id)
                return replace(msg, clip_status=status, clip_sha256=sha, clip_reason=reason)
            if ev.id in self._latest:
                self._latest[ev.id] = replace(msg, clip_status=self._latest[ev.id].clip_status)
                return self._latest[ev.id]
            return msg

    def flush(self) -> None:
        """The source ended: finish open clips with the frames they have."""
        self.maker.flush()

    def _still(self, ev: Event, msg: EventMessage, shape: Shape | None) -> None:
        """Queue the still of an event start from the frame that started it."""
        if self.stills is None or self._frame is None:
            return
        _, image, persons, _ = self._frame
        boxes = tuple(o.box for o in ev.objects)
        self.stills.submit(ev.id, msg.started_at, image, persons, boxes, shape)  # type: ignore[arg-type]

    # -- worker callbacks ------------------------------------------------------------------
    def _still_made(self, event_id: str, still: StillFile | None, reason: str) -> None:
        if still is None:
            return  # logged by the maker; the alert simply has no still
        self._put("still", {"event_id": event_id, "path": str(still.path), "sha256": still.sha256,
                            "bytes": still.bytes, "taken_at": still.taken_at})
        self._still_job.run_now()

    def _making(self, event_id: str) -> None:
        """The worker starts encoding: tell the hub the clip is being made."""
        with self._lock:
            latest = self._latest.get(event_id)
            if latest is None:
                return
            latest = self._latest[event_id] = replace(latest, clip_status="making")
        self._put("event", latest.to_json())
        self.wake_sender()

    def _encoded(self, event_id: str, clip: ClipFile | None, reason: str) -> None:
        if clip is None:
            self._finish(event_id, "failed", None, reason=f"encoding failed: {reason}")
        else:
            with self._lock:
                latest = self._latest.get(event_id)
            self._put("clip", _upload_row(event_id, clip, latest.to_json() if latest else None))
            self._job.run_now()
        try:
            for item in self.outbox.pending(10_000, kinds=("clipjob",)):
                if item.body["event_id"] == event_id:
                    self.outbox.delete(item.id)
        except OutboxError as exc:  # the next run finds the job and the clip row: settled then
            log.warning("clip job of event %s stays in the outbox: %s", event_id, exc)

    def _finish(
        self, event_id: str, status: str, sha: str | None, stored: dict[str, Any] | None = None,
        reason: str | None = None,
    ) -> None:
        """Send the event's latest message again with the final clip status."""
        with self._lock:
            latest = self._latest.pop(event_id, None)
            if latest is None and stored is not None:
                latest = EventMessage.from_json(stored)
            if latest is None:
                return
            if latest.state == "start":
                self._final[event_id] = (status, sha, reason)  # for the end message still to come
        self._put("event", replace(latest, clip_status=status, clip_sha256=sha,
                                   clip_reason=reason).to_json())
        self.wake_sender()
        log.info("clip for event %s: %s%s", event_id, status, f" ({reason})" if reason else "")

    # -- uploader ----------------------------------------------------------------------------
    def _upload_round(self, kind: str) -> None:
        """Every half second (stills: quarter) or when one is ready: upload what is due."""
        job = self._still_job if kind == "still" else self._job
        try:
            self.upload_due((kind,))
        except Exception:
            log.exception("%s uploader error; will retry", kind)
            job.pause(1.0)

    def upload_due(self, kinds: tuple[str, ...] = ("still", "clip")) -> None:
        """Try every row of ``kinds`` (stills first) whose backoff has passed."""
        for item in [row for kind in kinds for row in self.outbox.pending(100, kinds=(kind,))]:
            if self._job.stopping or self._still_job.stopping:
                return
            if time.monotonic() < self._next_try.get(item.id, 0.0):
                continue
            if not self._upload(item):
                return

    def _upload(self, item: OutboxItem) -> bool:
        """One attempt at one upload row; False when uploads must wait (ledger disk full)."""
        c, body, what = self.cfg.clips, item.body, item.suffix
        path = Path(body["path"])
        try:
            data = path.read_bytes()
        except OSError as exc:
            log.error("%s file of event %s is gone (%s); giving up", what, body["event_id"], exc)
            self._give_up(item, f"{what} file unreadable: {exc.strerror}")
            return True
        try:
            if what == "still":
                status = put_still(self.ledger, self.upload.hub_url, self.upload.device_token,
                                   body["event_id"], data, body["taken_at"], c.upload_timeout_s,
                                   self.cfg.mode)
            else:
                status = put_clip(self.ledger, self.upload.hub_url, self.upload.device_token,
                                  body["event_id"], data, c.upload_timeout_s, self.cfg.mode)
        except EgressRefused as exc:
            log.error("egress refused the %s of event %s: %s", what, body["event_id"], exc)
            self._give_up(item, f"refused by egress: {exc}")
            return True
        except LedgerError as exc:  # disk full: the row waits, no attempt counted
            self.ledger_log.failed(exc, "clip and still uploads wait in the outbox")
            return False
        except UploadError as exc:
            status = 0
            self.hub_unreachable = True
            log.warning("%s", exc)
        else:
            self.hub_unreachable = False
        self.ledger_log.ok()
        if status in (200, 201):
            self.outbox.delete(item.id)
            self._next_try.pop(item.id, None)
            path.unlink(missing_ok=True)  # least data: the hub has it now
            if what == "clip":
                self._finish(body["event_id"], "uploaded", body["sha256"], body.get("message"))
        elif status == 0 or status in RETRYABLE:
            self.outbox.mark_attempt(item.id)
            attempts = item.attempts + 1
            if attempts >= c.max_attempts:
                log.error("%s of event %s: %d attempts failed; giving up", what,
                          body["event_id"], attempts)
                self._give_up(item, f"{attempts} upload attempts failed "
                              f"(last: {status or 'hub unreachable'})")
                return True
            if what == "still":  # every still_retry_s for ~2 s (the start message is coming)
                wait = backoff(max(attempts - STILL_QUICK_TRIES, 1), c.still_retry_s, c.retry_max_s)
            else:
                wait = backoff(attempts, c.retry_initial_s, c.retry_max_s)
            self._next_try[item.id] = time.monotonic() + wait
            log.info("%s of event %s: hub answered %s; retry in %.2f s", what, body["event_id"],
                     status or "nothing", wait)
        else:
            log.error("hub refused the %s of event %s with HTTP %d; giving up", what,
                      body["event_id"], status)
            self._give_up(item, f"hub refused the upload with HTTP {status}")
        return True

    def _give_up(self, item: OutboxItem, reason: str) -> None:
        self.outbox.delete(item.id)
        self._next_try.pop(item.id, None)
        Path(item.body["path"]).unlink(missing_ok=True)
        if item.suffix == "clip":
            self._finish(item.body["event_id"], "failed", None, item.body.get("message"), reason)

    # -- shutdown ------------------------------------------------------------------------------
    def finish(self, timeout: float, upload_timeout: float = 5.0) -> None:
        """Wait up to ``timeout`` s for clips still being encoded (frames in memory would be
        lost), then up to ``upload_timeout`` s for uploads (encoded clips are in the outbox
        and go on the next run anyway)."""
        self.maker.flush()
        if self.stills is not None and not self.stills.wait_idle(min(timeout, 5.0)):
            log.warning("stills still being made at shutdown are lost")
        if not self.maker.wait_idle(timeout):
            log.warning("%d clip(s) still being made at shutdown are lost", self.maker.pending)
        deadline = time.monotonic() + upload_timeout
        while time.monotonic() < deadline and (self.outbox.depth_of("clip")
                                                or self.outbox.depth_of("still")):
            if self.hub_unreachable:
                log.info("hub unreachable: clip uploads stay in the outbox for the next run")
                break
            self._job.run_now()
            self._still_job.run_now()
            time.sleep(0.1)

    def stop(self) -> None:
        self._still_job.stop(10)
        self._job.stop(10)
        self.maker.stop()
        if self.stills is not None:
            self.stills.stop()


def _upload_row(event_id: str, clip: ClipFile, message: dict[str, Any] | None) -> dict[str, Any]:
    return {"event_id": event_id, "path": str(clip.path), "sha256": clip.sha256,
            "bytes": clip.bytes, "message": message}
