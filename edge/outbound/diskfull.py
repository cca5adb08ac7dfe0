"""A full disk on the box: telling it apart, logging it once, keeping space aside.

:func:`no_space` says whether an error is the file system being full (ENOSPC, EDQUOT, or
SQLite's "database or disk is full"). :class:`OnceLog` logs a failure that repeats every
retry once, at ERROR, and its end once, at WARNING. :func:`preallocate` reserves blocks past
the end of a file without changing its size (``fallocate(FALLOC_FL_KEEP_SIZE)``), so later
appends into them need no free space: the egress ledger keeps its reserve this way.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import errno
import logging
import os
import threading
from typing import Any

log = logging.getLogger(__name__)

NO_SPACE_ERRNOS = (errno.ENOSPC, errno.EDQUOT)
FALLOC_FL_KEEP_SIZE = 0x01


def no_space(exc: BaseException) -> bool:
    """Whether ``exc`` (an OSError, or any error whose text SQLite wrote) means a full disk."""
    if isinstance(exc, OSError) and exc.errno in NO_SPACE_ERRNOS:
        return True
    text = str(exc).lower()
    return "disk is full" in text or "no space left" in text or "quota exceeded" in text


class OnceLog:
    """One ERROR when a repeated operation starts failing, one WARNING when it works again."""

    def __init__(self, logger: logging.Logger, what: str):
        self.logger = logger
        self.what = what
        self.error: str | None = None
        self._lock = threading.Lock()

    def failed(self, exc: BaseException | str, then: str = "retrying") -> None:
        text = str(exc)[:300]
        with self._lock:
            first = self.error is None
            self.error = text
        if first:
            self.logger.error("%s failed: %s; %s (logged once until it works again)",
                              self.what, text, then)

    def ok(self) -> None:
        with self._lock:
            was = self.error
            self.error = None
        if was is not None:
            self.logger.warning("%s works again (it failed with: %s)", self.what, was)


def _libc_fallocate() -> Any:
    name = ctypes.util.find_library("c")
    try:
        fn = ctypes.CDLL(name, use_errno=True).fallocate
    except (OSError, AttributeError):
        return None
    fn.argtypes = [ctypes.c_int, ctypes.c_int, ctypes.c_int64, ctypes.c_int64]
    fn.restype = ctypes.c_int
    return fn


_FALLOCATE = _libc_fallocate()


def preallocate(fd: int, offset: int, length: int) -> None:
    """Allocate ``[offset, offset + length)`` of ``fd`` without changing its size.

    Raises OSError (ENOSPC when the disk is full; EOPNOTSUPP where the file system or the
    platform cannot)."""
    if _FALLOCATE is None:
        raise OSError(errno.EOPNOTSUPP, "fallocate is not available on this platform")
    if _FALLOCATE(fd, FALLOC_FL_KEEP_SIZE, offset, length) != 0:
        err = ctypes.get_errno()
        raise OSError(err, os.strerror(err))
