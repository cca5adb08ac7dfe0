"""Wires the box: capture -> detector -> tracker -> rules -> outbox -> egress, plus health.

Threads: the capture reader (in :mod:`edge.capture`), the processing loop (the caller's
thread), the outbox sender and paho's network thread. :meth:`Agent.stop` (or SIGTERM) ends
open events, flushes what it can and leaves the rest in the outbox for the next run.
"""

from __future__ import annotations

import logging
import os
import shutil
import threading
import time
from collections import deque
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING

import numpy as np

from edge.capture import VideoSource
from edge.clips.flow import ClipFlow
from edge.config import BoxConfig
from edge.detect import Detector
from edge.detect.tiling import make_box_detector
from edge.modelstore import ModelStore
from edge.motion import MotionGate
from edge.outbound.diskfull import OnceLog, no_space
from edge.outbound.egress import Egress
from edge.outbound.ledger import Ledger, LedgerError
from edge.outbound.outbox import Outbox
from edge.outbound.sender import Sender
from edge.outbound.spool import Spool
from edge.privacy.masks import MaskPainter
from edge.records import Detection, Event, Frame, normalise_box
from edge.rules import Rule, build_rules
from edge.stats import StatsAggregator, StatsRecord
from edge.track import confident, detector_config, make_tracker
from edge.verify import EventGate
from edge.wire.messages import (
    ABSENT,
    AudioHealth,
    DetectorHealth,
    EventMessage,
    HealthMessage,
    ObjectRef,
    OutboxDropped,
    utc_iso,
)
from edge.wire.periodic import Periodic

if TYPE_CHECKING:
    from edge.audio.listener import AudioListener
    from edge.outbound.digests import Digester
    from edge.search.answer import BoxSearch

log = logging.getLogger(__name__)


def to_message(ev: Event, site: str, camera: str, detector: Detector) -> EventMessage:
    """A rule's event as the wire message (normalised boxes, ISO timestamps)."""
    return EventMessage(
        id=ev.id,
        site=site,
        camera=camera,
        type=ev.type,
        state=ev.state,
        severity=ev.severity,
        started_at=utc_iso(ev.started_wall),
        ended_at=utc_iso(ev.ended_wall) if ev.ended_wall is not None else None,
        zone=ev.zone,
        objects=tuple(
            ObjectRef.measured(t.label, t.score, normalise_box(t.box, ev.frame_w, ev.frame_h))
            for t in ev.objects[:64]
        ),
        measure=ev.measure,
        model_name=detector.model_name,
        model_sha256=detector.model_sha256,
    )


@dataclass
class Stats:
    """Counters for the health message."""

    started: float = field(default_factory=time.monotonic)
    frames_processed: int = 0
    inference_ms: deque[float] = field(default_factory=lambda: deque(maxlen=512))
    window: deque[tuple[float, int, int]] = field(default_factory=lambda: deque(maxlen=64))


class Agent:
    """One camera's agent. ``run()`` blocks until the source ends or :meth:`stop`."""

    def __init__(self, cfg: BoxConfig, store: ModelStore | None = None):
        self.cfg = cfg
        cfg.data_dir.mkdir(parents=True, exist_ok=True)
        self.store = store or ModelStore(cfg.models_dir)
        # The detector keeps weak boxes for the tracker's second stage; only it sees them.
        self.detector = make_box_detector(cfg, self.store, detector_config(cfg))
        self.tracker = make_tracker(cfg)
        self.gate = MotionGate(cfg.motion)
        self.rules: list[Rule] = build_rules(cfg, self.store) if cfg.mode == "alerts" else []
        self.counts = StatsAggregator(cfg) if cfg.stats.enabled and (cfg.lines or cfg.zones) else None
        self.source = VideoSource(cfg.source)
        self.outbox = Outbox(cfg.data_dir / "outbox.sqlite", cfg.outbox.max_bytes)
        self.spool = Spool(self.outbox, cfg.outbox.memory_queue)
        self.ledger = Ledger(cfg.data_dir / "egress-ledger.jsonl")
        self.egress = Egress(cfg.site, cfg.camera, cfg.broker, self.ledger, mode=cfg.mode)
        self.sender = Sender(self.outbox, self.egress, cfg.broker.inflight)
        self.masks = MaskPainter(cfg.privacy_masks)
        self.clipflow: ClipFlow | None = None
        if cfg.upload is not None and cfg.clips.enabled:
            self.clipflow = ClipFlow(cfg, self.store, self.outbox, self.ledger, self.sender.wake,
                                     self.spool)
        self._ts = 0.0
        self.stats = Stats()
        self._stop = threading.Event()
        self._health_job = Periodic("health", cfg.health.interval_s, self._health_tick)
        self._health_log = OnceLog(log, "health message")
        self.events_emitted = 0
        self.audio = self._make_audio()
        self.search = self._make_search()
        self.digester = self._make_digester()
        self.verify = self._make_verify()

    # -- lifecycle ------------------------------------------------------------------------
    def run(self) -> None:
        log.info(
            "agent %s/%s: %s on %s, source %s, %d rule(s), outbox depth %d",
            self.cfg.site, self.cfg.camera, self.detector.model_name, self.detector.backend,
            self.source.name, len(self.rules), self.outbox.depth(),
        )
        if self.search is not None:
            self.search.start()
        self.egress.start()
        self.sender.start()
        self.health()  # first sample for the fps window
        self._health_job.start()
        if self.digester is not None:
            self.digester.start()
        if self.audio is not None:
            self.audio.start()
        last: Frame | None = None
        try:
            for frame in self.source.frames():
                if self._stop.is_set():
                    break
                self.process(frame)
                last = frame
        finally:
            if last is not None:
                for rule in self.rules:
                    self._emit(self.verify.admit(rule.close(last), last))
                if self.counts is not None:
                    self._emit_stats(self.counts.flush(last))
            if self.clipflow is not None:
                self.clipflow.flush()
            if self.search is not None:
                self.search.recorder.flush()
            self.source.stop()

    def process(self, frame: Frame) -> list[Event]:
        """Run one frame through detector, tracker and rules; store resulting events."""
        if self.masks:  # privacy masks hide their pixels from detection too
            frame = replace(frame, image=self.masks.apply(frame.image))
        self._ts = frame.ts
        if self.spool.error is not None and self.spool.retry():  # the outbox failed earlier
            self.sender.wake()
        detections = self.gate.detections(frame, self._detect)
        tracks = self.tracker.update(detections, frame.ts)
        if self.search is not None:
            self.search.recorder.observe(frame, tracks, self.tracker.ended)
        if self.clipflow is not None:
            self.clipflow.observe(frame.ts, frame.image,
                                  confident(detections, self.cfg.detector.score_threshold))
        events: list[Event] = []
        for rule in self.rules:
            events.extend(rule.update(frame, tracks))
        events = self.verify.admit(events, frame)  # re-checked, suppressions applied
        self._emit(events)
        if self.counts is not None:
            self._emit_stats(self.counts.update(frame, tracks))
        self.stats.frames_processed += 1
        return events

    def _detect(self, image: np.ndarray) -> list[Detection]:
        t0 = time.perf_counter()
        detections = self.detector.detect(image)
        self.stats.inference_ms.append((time.perf_counter() - t0) * 1000)
        return detections

    def _emit_stats(self, record: StatsRecord | None) -> None:
        if record is None:
            return
        self.spool.put("stats", record.to_message(self.cfg.site, self.cfg.camera).body())
        self.sender.wake()

    def _emit(self, events: list[Event], model: tuple[str, str] | None = None) -> None:
        for ev in events:
            msg = to_message(ev, self.cfg.site, self.cfg.camera, self.detector)
            if model is not None:  # events from another model than the video detector
                msg = replace(msg, model_name=model[0], model_sha256=model[1])
            if self.clipflow is not None:
                msg = self.clipflow.on_event(ev, msg, self._ts)
            outcome = self.spool.put("event", msg.to_json())
            self.events_emitted += 1
            log.info("event %s %s %s %s", ev.type, ev.state, ev.id,
                     {"stored": "stored in outbox", "queued": "kept in memory (outbox failing)",
                      "dropped": "dropped (outbox cap)"}[outcome])
        if events:
            self.sender.wake()

    def stop(self) -> None:
        self._stop.set()
        self._health_job.stop(0)
        self.source.stop()

    def shutdown(self, flush_timeout: float = 5.0) -> None:
        """Flush the outbox for up to ``flush_timeout`` s, say offline, close everything."""
        self._stop.set()
        self._health_job.stop()
        if self.audio is not None:
            self.audio.stop()
        if self.clipflow is not None:
            self.clipflow.finish(self.cfg.clips.shutdown_wait_s, flush_timeout)
        self.spool.retry()
        self.sender.wait_empty(flush_timeout)
        if self.digester is not None:  # a last digest of everything sent so far
            self.digester.stop()
            if self.digester.digest_once():
                self.sender.wait_empty(flush_timeout)
        if self.spool.queued:
            log.error("%d message(s) could not be stored in the outbox and are lost",
                      self.spool.queued)
        left = self.outbox.depth()
        log.info("%d message(s) left in the outbox%s", left,
                 " (sent on the next run)" if left else "")
        self.sender.stop()
        if self.clipflow is not None:
            self.clipflow.stop()
        self.egress.stop()
        if self.search is not None:
            self.search.stop()
        if self.verify.book is not None:
            self.verify.book.close()
        self.outbox.close()

    # -- health ---------------------------------------------------------------------------
    def health(self) -> HealthMessage:
        now = time.monotonic()
        self.stats.window.append((now, self.source.frames_in, self.stats.frames_processed))
        t_old, in_old, proc_old = self.stats.window[0]
        span = now - t_old
        fps_in = (self.source.frames_in - in_old) / span if span > 0 else 0.0
        fps_proc = (self.stats.frames_processed - proc_old) / span if span > 0 else 0.0
        inf = np.array(self.stats.inference_ms) if self.stats.inference_ms else None
        try:
            disk = shutil.disk_usage(self.cfg.data_dir).free
        except OSError:
            disk = None
        dropped = self.spool.dropped()
        return HealthMessage(
            site=self.cfg.site,
            camera=self.cfg.camera,
            ts=utc_iso(time.time()),
            fps_in=round(fps_in, 2),
            fps_processed=round(fps_proc, 2),
            inference_ms_p50=round(float(np.percentile(inf, 50)), 2) if inf is not None else None,
            inference_ms_p95=round(float(np.percentile(inf, 95)), 2) if inf is not None else None,
            outbox_depth=self.outbox.depth(),
            uptime_s=round(now - self.stats.started, 1),
            cpu_percent=round(os.getloadavg()[0] * 100 / (os.cpu_count() or 1), 1),
            disk_free_bytes=disk,
            source_ok=bool(self.source.connected),
            detector=self._detector_health(),
            audio=AudioHealth(
                enabled=self.audio is not None and self.audio.listening,
                legal_basis=self.cfg.audio.legal_basis if self.cfg.audio.enabled else None,
            ),
            outbox_dropped=OutboxDropped(stats=dropped["stats"], event=dropped["event"]),
            outbox_error=self.spool.error,
            outbox_memory_queue=self.spool.queued,
            disk_full=self.disk_full(disk),
            verification=self.verify.health(),
        )

    def disk_full(self, free: int | None) -> bool:
        """Whether the data disk is full: less free than the ledger's reserve, the reserve
        cannot be renewed, or the outbox cannot be written for lack of space."""
        error = self.spool.error
        return (self.ledger.disk_full or (free is not None and free < self.ledger.reserve_bytes)
                or (error is not None and no_space(Exception(error))))

    def _detector_health(self) -> DetectorHealth:
        timings = getattr(self.detector, "timings_ms", None)
        gating = self.cfg.motion.enabled
        return DetectorHealth(
            model=self.detector.model_name, backend=self.detector.backend,
            timings_ms=dict(timings) if timings else ABSENT,
            gate_runs=self.gate.runs if gating else ABSENT,
            gate_skips=self.gate.skips if gating else ABSENT,
        )

    def _health_tick(self) -> None:
        if self.spool.retry():
            self.sender.wake()
        try:
            self.egress.publish("health", self.health())
        except LedgerError as exc:  # the reserve is used up too: logged once
            self._health_log.failed(exc)
        except Exception:
            log.exception("health message failed")
        else:
            self._health_log.ok()

    # -- audio ----------------------------------------------------------------------------
    def _make_audio(self) -> AudioListener | None:
        """The gunshot listener when ``[audio]`` is enabled (with its legal basis), else None."""
        if not self.cfg.audio.enabled:
            return None
        from edge.audio.listener import AudioListener

        def emit(events: list[Event]) -> None:
            self._emit(events, ("yamnet", self.store.sha256("yamnet")))

        return AudioListener(self.cfg.audio, self.store, emit)

    # -- forensic search ---------------------------------------------------------
    def _make_search(self) -> BoxSearch | None:
        """The track index and its search worker, unless disabled or in statistics mode."""
        if not self.cfg.index.enabled or self.cfg.mode != "alerts":
            return None
        from edge.modelstore import ModelStoreError
        from edge.privacy.faces import FaceFinder
        from edge.search.answer import BoxSearch

        try:
            faces: FaceFinder | None = FaceFinder(
                self.store.path("yunet"), self.cfg.clips.face_threshold, self.cfg.clips.face_scale)
        except ModelStoreError as exc:
            log.error("no face model (%s): vehicle tracks are indexed without previews", exc)
            faces = None
        return BoxSearch(self.cfg, self.egress, faces)
    # -- ledger digests -----------------------------------------------------------
    def _make_digester(self) -> Digester | None:
        """Signed ledger digests with the box key, or None (logged) when the box has no key."""
        from edge.outbound.digests import Digester
        from edge.wire.keys import BOX_KEY, KeyFileError, keys_dir, load_private

        try:
            key = load_private(keys_dir(self.cfg.data_dir) / BOX_KEY)
        except KeyFileError as exc:
            if self.cfg.ledger.require_key:
                raise
            log.warning("no ledger digests: %s", exc)
            return None
        return Digester(key, self.cfg.site, self.cfg.camera, self.ledger.path, self.outbox,
                        self.cfg.data_dir, self.cfg.ledger.interval_s, self.sender.wake)

    # -- verification and false-alarm suppressions -----------------------------------
    def _make_verify(self) -> EventGate:
        """The gate between rules and outbox, with the hub's suppressions subscribed to."""
        from edge.detect import DetectorError, load_detector
        from edge.modelstore import ModelStoreError
        from edge.suppressions import SuppressionBook
        from edge.wire.keys import HUB_PUBLIC_KEY, keys_dir

        vc = self.cfg.verify
        path = self.cfg.data_dir / "suppressions.sqlite" if vc.store else ":memory:"
        book = SuppressionBook(self.cfg.site, self.cfg.camera,
                               keys_dir(self.cfg.data_dir) / HUB_PUBLIC_KEY, path)
        self.egress.subscribe("suppress", book.on_message)
        second = None
        if "second_model" in vc.modes.values():
            try:
                spec = self.store.manifest.get(vc.second_model)
                second = load_detector(spec, vc.second_backend, self.store.path(vc.second_model),
                                       self.cfg.detector, self.store)
            except (DetectorError, ModelStoreError, KeyError) as exc:
                log.error("verify: second model %s unavailable (%s); crops use the detector",
                          vc.second_model, exc)
        return EventGate(vc, self.detector, book, second)
