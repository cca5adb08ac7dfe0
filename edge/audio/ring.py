"""A fixed-size in-memory ring buffer of samples, overwritten continuously.

This is the only place audio is kept on the box: a few seconds of float32 in RAM. It is
never written to disk and never leaves the process.
"""

from __future__ import annotations

import numpy as np


class RingBuffer:
    """The last ``capacity`` samples of a stream; ``written`` counts all samples ever written."""

    def __init__(self, capacity: int):
        if capacity <= 0:
            raise ValueError("ring buffer capacity must be positive")
        self._buf = np.zeros(capacity, np.float32)
        self.capacity = capacity
        self.written = 0

    def write(self, x: np.ndarray) -> None:
        """Append samples, overwriting the oldest."""
        x = np.asarray(x, dtype=np.float32).reshape(-1)
        if len(x) >= self.capacity:
            self._buf[:] = x[-self.capacity :]
            self.written += len(x)
            self._buf = np.roll(self._buf, self.written % self.capacity)
            return
        pos = self.written % self.capacity
        first = min(len(x), self.capacity - pos)
        self._buf[pos : pos + first] = x[:first]
        self._buf[: len(x) - first] = x[first:]
        self.written += len(x)

    def read(self, end: int, n: int) -> np.ndarray:
        """A copy of the ``n`` samples ending at absolute index ``end`` (exclusive).

        Samples before the stream began read as zeros; samples already overwritten or not
        yet written raise ``IndexError``.
        """
        if end > self.written or max(end - n, 0) < self.written - self.capacity or n > self.capacity:
            raise IndexError(
                f"samples [{end - n}, {end}) are not in the ring (holds "
                f"[{max(0, self.written - self.capacity)}, {self.written}))"
            )
        out = np.zeros(n, np.float32)
        start = end - n
        lo = max(start, 0)
        idx = np.arange(lo, end) % self.capacity
        out[lo - start :] = self._buf[idx]
        return out
