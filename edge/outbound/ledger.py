"""The egress ledger: an append-only, hash-chained JSON-lines record of every byte sent.

Entry: ``{"seq", "ts", "kind", "dest", "bytes", "sha256", "prev", "hash"}`` with
``hash = sha256(prev + canonical JSON of the entry without "hash")``. Payloads are never
stored, only their hashes, so the ledger itself holds no personal data.
"""

from __future__ import annotations

import errno
import hashlib
import json
import logging
import os
import threading
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass
from pathlib import Path

from edge.outbound.diskfull import NO_SPACE_ERRNOS, preallocate
from edge.wire.ledger_entries import (
    GENESIS,
    REPAIR_DEST,
    REPAIR_KIND,
    Kind,
    LedgerEntry,
    canonical,
    entry_hash,
    make_entry,
)

log = logging.getLogger(__name__)

class LedgerError(Exception):
    """A ledger that cannot be written, or whose chain is broken (the text says where)."""


class LedgerFull(LedgerError):
    """The disk is full: nothing was written (the caller keeps its message and retries)."""


RESERVE_BYTES = 1024 * 1024
"""Space kept allocated past the ledger's end for the messages that report a full disk
(``health``, ``state``): about 3,000 entries, a day of health at one every 30 s."""


@dataclass(frozen=True)
class Repair:
    """A torn tail cut off when the ledger was opened."""

    offset: int
    length: int
    sha256: str
    after_seq: int


class Ledger:
    """One box's ledger file. Thread-safe; each append is whole or absent, and fsynced.

    A space of ``reserve_bytes`` is kept allocated past the end of the file. While the disk
    is too full to renew it, only appends with ``reserved=True`` (what reports the full
    disk) may use it; the others raise :class:`LedgerFull` and their message waits.
    """

    def __init__(self, path: Path, reserve_bytes: int = RESERVE_BYTES):
        self.path = path
        self.reserve_bytes = reserve_bytes
        self._lock = threading.Lock()
        self._reserved_to = 0
        self._reserve_ok = True
        self.disk_full = False
        """The reserve could not be renewed: the file system has less than it free."""
        self._dirty = False  # a failed append whose bytes could not be cut off again
        self._size = 0
        path.parent.mkdir(parents=True, exist_ok=True)
        self.repair: Repair | None = None
        self.seq, self.head, self._size, torn = self._recover()
        self._note: bytes | None = torn
        with self._lock:
            self._open_reserve()
            try:
                self._flush_note()
            except LedgerError as exc:  # kept, written before the next entry
                log.error("ledger %s: repair entry not written yet: %s", self.path, exc)

    def _open_reserve(self) -> None:
        """Take over the space already allocated past the end, and top it up (lock held)."""
        try:
            fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o640)
        except OSError as exc:
            log.error("ledger %s: cannot open (%s)", self.path, exc.strerror)
            return
        try:
            self._reserved_to = max(self._size, os.fstat(fd).st_blocks * 512)
            if self._reserved_to - self._size < self.reserve_bytes:
                self._renew(fd, self._size)
        finally:
            os.close(fd)

    def _recover(self) -> tuple[int, str, int, bytes | None]:
        """Resume after the last sound entry; a torn tail (an incomplete last line, or one that
        does not parse, or whose hash or link is wrong) is cut off and returned."""
        if not self.path.exists():
            return 0, GENESIS, 0, None
        before: LedgerEntry | None = None
        last: LedgerEntry | None = None
        good = last_len = 0
        torn_at: int | None = None
        with self.path.open("rb") as f:
            for raw in f:
                entry = _parse(raw)
                if entry is None:
                    if f.read(1):
                        raise LedgerError(f"ledger {self.path} has a corrupt line after seq "
                                          f"{last.seq if last else 0} (not at its end)")
                    torn_at = good
                    break
                before, last, last_len = last, entry, len(raw)
                good += len(raw)
        if torn_at is None and last is not None and not _follows(last, before):
            torn_at, good, last = good - last_len, good - last_len, before
        if torn_at is None:
            return (last.seq, last.hash, good, None) if last else (0, GENESIS, 0, None)
        torn = self._cut_tail(torn_at)
        seq, head = (last.seq, last.hash) if last else (0, GENESIS)
        self.repair = Repair(torn_at, len(torn), hashlib.sha256(torn).hexdigest(), seq)
        log.warning("ledger %s: torn tail of %d bytes (sha256 %s) after seq %d cut off; a "
                    "repair entry records it", self.path, len(torn), self.repair.sha256, seq)
        return seq, head, good, torn

    def _cut_tail(self, offset: int) -> bytes:
        with self.path.open("r+b") as f:
            f.seek(offset)
            torn = f.read()
            f.truncate(offset)
            f.flush()
            os.fsync(f.fileno())
        return torn

    @property
    def next_seq(self) -> int:
        return self.seq + 1

    def append(self, kind: Kind, dest: str, payload: bytes, *, reserved: bool = False) -> LedgerEntry:
        """Record one outbound payload before it is sent."""
        return self.append_built(kind, dest, lambda _seq: payload, reserved=reserved)[0]

    def append_built(
        self, kind: Kind, dest: str, build: Callable[[int], bytes], *, reserved: bool = False,
    ) -> tuple[LedgerEntry, bytes]:
        """Build a payload that carries its own ledger ``seq`` and record it, atomically.

        ``build(seq)`` may raise (for example on a schema violation); then nothing is written.
        Raises :class:`LedgerFull` when the disk is full (nothing written), LedgerError when
        the file cannot be written otherwise.
        """
        with self._lock:
            self._flush_note()
            n = self.seq + 1
            payload = build(n)
            entry = make_entry(n, self.head, kind, dest, payload)
            self._write(canonical(asdict(entry)) + b"\n", reserved)
            self.seq, self.head = n, entry.hash
            return entry, payload

    def _flush_note(self) -> None:
        """Write the pending repair entry, if any (lock held)."""
        if self._note is None:
            return
        entry = make_entry(self.seq + 1, self.head, REPAIR_KIND, REPAIR_DEST, self._note)
        self._write(canonical(asdict(entry)) + b"\n", True)
        self.seq, self.head, self._note = entry.seq, entry.hash, None

    def _write(self, line: bytes, reserved: bool) -> None:
        """Append ``line`` whole, or leave the file as it was (lock held)."""
        try:
            fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o640)
        except OSError as exc:
            raise _error(self.path, exc) from None
        try:
            if self._dirty:  # _size is the length before the failed append
                self._truncate(fd)
                if self._dirty:
                    raise LedgerError(f"ledger {self.path} still ends with a failed append")
            self._size = os.fstat(fd).st_size
            if self.disk_full and not reserved and not self._renew(fd, self._size):
                raise LedgerFull(f"cannot append to ledger {self.path}: disk full (its last "
                                 f"{self.reserve_bytes} reserved bytes are kept for health)")
            try:
                _write_all(fd, line)
                os.fsync(fd)
            except OSError as exc:
                self._dirty = True
                self._truncate(fd)
                raise _error(self.path, exc) from None
            self._size += len(line)
            if self._reserved_to - self._size < self.reserve_bytes:
                self._renew(fd, self._size)
        finally:
            os.close(fd)

    def _truncate(self, fd: int) -> None:
        """Cut the file back to its last whole entry (after a failed append)."""
        try:
            os.ftruncate(fd, self._size)
            os.fsync(fd)
            self._dirty = False
        except OSError as exc:
            log.error("ledger %s: cannot cut a failed append back to %d bytes (%s); cut on the "
                      "next append or on open", self.path, self._size, exc.strerror)

    def _renew(self, fd: int, end: int) -> bool:
        """Keep ``reserve_bytes`` allocated past ``end``; False (disk full) when it cannot."""
        if not self._reserve_ok:
            return True
        try:
            preallocate(fd, end, self.reserve_bytes)
        except OSError as exc:
            if exc.errno in NO_SPACE_ERRNOS:
                if not self.disk_full:
                    log.error("ledger %s: disk full, cannot keep %d bytes in reserve; only "
                              "health and state are ledgered (and sent) until space returns",
                              self.path, self.reserve_bytes)
                self.disk_full = True
                return False
            self._reserve_ok = False
            log.warning("ledger %s: no space reserve on this file system (%s)", self.path,
                        exc.strerror)
            return True
        self._reserved_to = end + self.reserve_bytes
        if self.disk_full:
            log.warning("ledger %s: disk space is back; every message is ledgered again", self.path)
        self.disk_full = False
        return True


def _write_all(fd: int, data: bytes) -> None:
    """``os.write`` until every byte is written (a short write is continued, not ignored)."""
    view = memoryview(data)
    while view:
        n = os.write(fd, view)
        if n <= 0:
            raise OSError(errno.EIO, "write wrote nothing")
        view = view[n:]


def _error(path: Path, exc: OSError) -> LedgerError:
    cls = LedgerFull if exc.errno in NO_SPACE_ERRNOS else LedgerError
    return cls(f"cannot append to ledger {path}: {exc.strerror or exc}")


def _parse(raw: bytes) -> LedgerEntry | None:
    """One complete ledger line as an entry, or None when it is torn or not an entry."""
    if not raw.endswith(b"\n"):
        return None
    try:
        return LedgerEntry(**json.loads(raw))
    except (ValueError, TypeError):
        return None


def _follows(entry: LedgerEntry, before: LedgerEntry | None) -> bool:
    """Whether ``entry``'s hash holds and it chains to ``before`` (the line above it)."""
    if entry_hash(entry.prev, entry.body()) != entry.hash:
        return False
    if before is None:
        return entry.seq > 1 or entry.prev == GENESIS
    return entry.seq == before.seq + 1 and entry.prev == before.hash


def read(path: Path) -> Iterator[LedgerEntry]:
    with path.open("rb") as f:
        for raw in f:
            if raw.strip():
                yield LedgerEntry(**json.loads(raw))


def verify_chain(entries: list[LedgerEntry], prev: str = GENESIS) -> None:
    """Raise LedgerError at the first entry whose chain or hash does not hold."""
    expected_seq = entries[0].seq if entries else 0
    for e in entries:
        if e.seq != expected_seq:
            raise LedgerError(f"seq {e.seq}: expected {expected_seq} (missing or reordered entry)")
        if e.prev != prev:
            raise LedgerError(f"seq {e.seq}: prev does not match the previous entry's hash")
        if entry_hash(e.prev, e.body()) != e.hash:
            raise LedgerError(f"seq {e.seq}: hash does not match its content (entry edited)")
        prev = e.hash
        expected_seq += 1
