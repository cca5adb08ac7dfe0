"""The agent's audio thread: source -> detector -> burst tracker -> ``on_events``."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

from edge.audio.burst import BurstParams, BurstTracker
from edge.audio.classifier import Yamnet
from edge.audio.detector import Classifier, GunshotDetector
from edge.audio.source import AudioSourceError, FileSource, MicrophoneSource
from edge.config_wings import AudioConfig
from edge.modelstore import ModelStore
from edge.records import Event

log = logging.getLogger(__name__)


def burst_params(cfg: AudioConfig) -> BurstParams:
    return BurstParams(cfg.threshold, cfg.release, cfg.refractory_s, cfg.pooling, cfg.severity)


def make_source(cfg: AudioConfig) -> FileSource | MicrophoneSource:
    """The configured input: a file if ``file`` is set, else a microphone."""
    if cfg.file is not None:
        return FileSource(Path(cfg.file), realtime=cfg.realtime, loop=cfg.loop)
    return MicrophoneSource(cfg.device)


class AudioListener:
    """Listens in its own thread and hands ``gunshot`` events to ``on_events``.

    The model and the source are opened here, so a missing model or file fails at start-up
    with a clear error; a failure while running is logged and stops only this thread.
    """

    def __init__(
        self,
        cfg: AudioConfig,
        store: ModelStore,
        on_events: Callable[[list[Event]], None],
        classifier: Classifier | None = None,
        source: Any = None,
    ):
        if not cfg.enabled or not cfg.legal_basis:
            raise ValueError("audio is disabled or has no legal basis; not listening")
        self.cfg = cfg
        self.classifier: Classifier = classifier or Yamnet(store, threads=cfg.threads)
        self.source = source or make_source(cfg)
        self.detector = GunshotDetector(self.classifier, gate_rise_db=cfg.gate_rise_db)
        self.tracker = BurstTracker(burst_params(cfg))
        self.on_events = on_events
        self.done = threading.Event()
        self.error: str | None = None
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="audio", daemon=True)

    @property
    def listening(self) -> bool:
        return self._thread.is_alive() and not self._stop.is_set()

    def start(self) -> None:
        log.info("audio: listening to %s (legal basis: %s)", self.source.name, self.cfg.legal_basis)
        self._thread.start()

    def _run(self) -> None:
        try:
            for block in self.source.blocks():
                if self._stop.is_set():
                    break
                for w in self.detector.feed(block.samples, block.wall):
                    events = self.tracker.update(w)
                    if events:
                        self.on_events(events)
        except AudioSourceError as exc:
            self.error = str(exc)
            log.error("audio stopped: %s", exc)
        except Exception as exc:  # never take the agent down with the audio thread
            self.error = f"{type(exc).__name__}: {exc}"
            log.exception("audio thread failed")
        finally:
            try:
                events = self.tracker.close()
                if events:
                    self.on_events(events)
            finally:
                self.done.set()
                log.info("audio: stopped after %d window(s), model run on %d",
                         self.detector.windows, self.detector.model_runs)

    def stop(self, timeout: float = 5.0) -> None:
        """Stop listening; an open burst is ended (its end event emitted)."""
        self._stop.set()
        self.source.stop()
        if self._thread.is_alive():
            self._thread.join(timeout)
