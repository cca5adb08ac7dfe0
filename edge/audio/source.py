"""Where audio comes from: a microphone (PortAudio via ``sounddevice``) or a WAV/FLAC file.

Both yield :class:`AudioBlock` records of 16 kHz mono float32, resampled on the fly with
``soxr``. Nothing here writes audio anywhere: blocks live in memory until the ring buffer
overwrites them.
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from edge.audio.classifier import SAMPLE_RATE
from edge.capture import SourceError

log = logging.getLogger(__name__)

BLOCK_S = 0.1
"""Length of the blocks a source yields."""


class AudioSourceError(SourceError):
    """An audio input that cannot be opened or read; the text says which and why."""


@dataclass(frozen=True, eq=False)
class AudioBlock:
    """Consecutive 16 kHz mono samples; ``start_s`` is stream time of the first one and
    ``wall`` the Unix time it was captured (or would have been, for a replayed file)."""

    start_s: float
    wall: float
    samples: np.ndarray

    @property
    def end_s(self) -> float:
        return self.start_s + len(self.samples) / SAMPLE_RATE


def to_mono(x: np.ndarray) -> np.ndarray:
    """Average the channels of a ``[frames, channels]`` array (1-D passes through)."""
    return x.mean(axis=1) if x.ndim == 2 else x


class Resampler:
    """Streaming resampler from ``rate`` to 16 kHz (identity when already 16 kHz)."""

    def __init__(self, rate: int):
        self.rate = rate
        self._stream: Any = None
        if rate != SAMPLE_RATE:
            import soxr

            self._stream = soxr.ResampleStream(rate, SAMPLE_RATE, 1, dtype="float32", quality="HQ")

    def __call__(self, x: np.ndarray, last: bool = False) -> np.ndarray:
        x = np.ascontiguousarray(x, dtype=np.float32)
        if self._stream is None:
            return x
        return np.asarray(self._stream.resample_chunk(x, last=last), dtype=np.float32)


class FileSource:
    """A WAV or FLAC file replayed as a stream, optionally paced at real time."""

    def __init__(self, path: Path, realtime: bool = False, loop: bool = False):
        import soundfile as sf

        self.path = Path(path)
        try:
            info = sf.info(str(self.path))
        except (RuntimeError, OSError) as exc:  # soundfile raises LibsndfileError(RuntimeError)
            raise AudioSourceError(f"cannot open audio file {self.path}: {exc}") from None
        if info.samplerate < 8000:
            raise AudioSourceError(f"{self.path}: sample rate {info.samplerate} Hz is below 8 kHz")
        self.rate = int(info.samplerate)
        self.duration_s = float(info.frames) / self.rate
        self.realtime = realtime
        self.loop = loop
        self.name = self.path.name
        self._stop = threading.Event()

    def blocks(self) -> Iterator[AudioBlock]:
        """16 kHz mono blocks of about :data:`BLOCK_S` until the end (or forever if looping)."""
        import soundfile as sf

        t0_wall = time.time()
        t0 = time.monotonic()
        emitted = 0
        while not self._stop.is_set():
            resample = Resampler(self.rate)
            with sf.SoundFile(str(self.path)) as f:
                for raw in f.blocks(blocksize=max(1, int(self.rate * BLOCK_S)), dtype="float32",
                                    always_2d=True):
                    if self._stop.is_set():
                        return
                    last = f.tell() >= f.frames
                    out = resample(to_mono(raw), last=last)
                    if len(out) == 0:
                        continue
                    start_s = emitted / SAMPLE_RATE
                    if self.realtime:
                        delay = t0 + start_s + len(out) / SAMPLE_RATE - time.monotonic()
                        if delay > 0 and self._stop.wait(delay):
                            return
                    yield AudioBlock(start_s, t0_wall + start_s, out)
                    emitted += len(out)
            if not self.loop:
                return

    def stop(self) -> None:
        self._stop.set()


class MicrophoneSource:
    """A PortAudio input device through ``sounddevice``; blocks are queued by its callback."""

    def __init__(self, device: int | str | None = None, rate: int = SAMPLE_RATE, channels: int = 1):
        self.device = device
        self.rate = rate
        self.channels = channels
        self.name = f"microphone {device if device is not None else '(default)'}"
        self._queue: queue.Queue[np.ndarray] = queue.Queue(maxsize=100)
        self._stop = threading.Event()
        self.overflows = 0

    def _callback(self, indata: np.ndarray, frames: int, time_info: Any, status: Any) -> None:
        if status:
            self.overflows += 1
        try:
            self._queue.put_nowait(np.array(indata, dtype=np.float32, copy=True))
        except queue.Full:
            self.overflows += 1  # the classifier fell behind; drop rather than grow memory

    def blocks(self) -> Iterator[AudioBlock]:
        try:
            import sounddevice as sd
        except OSError as exc:  # PortAudio library missing
            raise AudioSourceError(
                f"cannot use a microphone: {exc} (apt-get install libportaudio2)"
            ) from None
        resample = Resampler(self.rate)
        try:
            stream = sd.InputStream(
                device=self.device, samplerate=self.rate, channels=self.channels, dtype="float32",
                blocksize=int(self.rate * BLOCK_S), callback=self._callback,
            )
        except Exception as exc:  # sounddevice raises PortAudioError / ValueError
            raise AudioSourceError(f"cannot open {self.name}: {exc}") from None
        emitted = 0
        with stream:
            t0_wall = time.time()
            while not self._stop.is_set():
                try:
                    raw = self._queue.get(timeout=0.5)
                except queue.Empty:
                    continue
                out = resample(to_mono(raw))
                if len(out):
                    start_s = emitted / SAMPLE_RATE
                    yield AudioBlock(start_s, t0_wall + start_s, out)
                    emitted += len(out)

    def stop(self) -> None:
        self._stop.set()


def read_file(path: Path) -> np.ndarray:
    """A whole file as 16 kHz mono float32 (for evaluation and benchmarks)."""
    src = FileSource(path)
    blocks = [b.samples for b in src.blocks()]
    return np.concatenate(blocks) if blocks else np.zeros(0, np.float32)
