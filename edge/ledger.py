"""The egress ledger: an append-only, hash-chained JSON-lines record of every byte sent.

Entry: ``{"seq", "ts", "kind", "dest", "bytes", "sha256", "prev", "hash"}`` with
``hash = sha256(prev + canonical JSON of the entry without "hash")``. Payloads are never
stored, only their hashes, so the ledger itself holds no personal data.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Literal

log = logging.getLogger(__name__)

GENESIS = "0" * 64


class LedgerError(Exception):
    """A ledger that cannot be written, or whose chain is broken (the text says where)."""


@dataclass(frozen=True)
class LedgerEntry:
    seq: int
    ts: float
    kind: Literal["mqtt", "http"]
    dest: str
    bytes: int
    sha256: str
    prev: str
    hash: str

    def body(self) -> dict[str, object]:
        d = asdict(self)
        del d["hash"]
        return d


def canonical(obj: object) -> bytes:
    return json.dumps(obj, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


def entry_hash(prev: str, body: dict[str, object]) -> str:
    return hashlib.sha256(prev.encode() + canonical(body)).hexdigest()


def make_entry(seq: int, prev: str, kind: Literal["mqtt", "http"], dest: str, payload: bytes,
               ts: float | None = None) -> LedgerEntry:
    """The chained entry recording ``payload`` sent to ``dest`` as number ``seq`` after ``prev``."""
    body: dict[str, object] = {
        "seq": seq,
        "ts": round(time.time() if ts is None else ts, 3),
        "kind": kind,
        "dest": dest,
        "bytes": len(payload),
        "sha256": hashlib.sha256(payload).hexdigest(),
        "prev": prev,
    }
    return LedgerEntry(**body, hash=entry_hash(prev, body))  # type: ignore[arg-type]


class Ledger:
    """One box's ledger file. Thread-safe; each append is flushed and fsynced."""

    def __init__(self, path: Path):
        self.path = path
        self._lock = threading.Lock()
        path.parent.mkdir(parents=True, exist_ok=True)
        self.seq, self.head = self._recover()

    def _recover(self) -> tuple[int, str]:
        """Resume after the last complete entry (a torn last line from a crash is cut off)."""
        if not self.path.exists():
            return 0, GENESIS
        last: LedgerEntry | None = None
        good_bytes = 0
        with self.path.open("rb") as f:
            for raw in f:
                if not raw.endswith(b"\n"):
                    log.warning("ledger %s: dropping torn last line after a crash", self.path)
                    break
                try:
                    last = LedgerEntry(**json.loads(raw))
                except (ValueError, TypeError) as exc:
                    raise LedgerError(f"ledger {self.path} has a corrupt line after seq "
                                      f"{last.seq if last else 0}: {exc}") from None
                good_bytes += len(raw)
        if good_bytes != self.path.stat().st_size:
            with self.path.open("r+b") as f:
                f.truncate(good_bytes)
        return (last.seq, last.hash) if last else (0, GENESIS)

    @property
    def next_seq(self) -> int:
        return self.seq + 1

    def append(self, kind: Literal["mqtt", "http"], dest: str, payload: bytes) -> LedgerEntry:
        """Record one outbound payload before it is sent."""
        return self.append_built(kind, dest, lambda _seq: payload)[0]

    def append_built(
        self, kind: Literal["mqtt", "http"], dest: str, build: Callable[[int], bytes]
    ) -> tuple[LedgerEntry, bytes]:
        """Build a payload that carries its own ledger ``seq`` and record it, atomically.

        ``build(seq)`` may raise (for example on a schema violation); then nothing is written.
        """
        with self._lock:
            n = self.seq + 1
            payload = build(n)
            entry = make_entry(n, self.head, kind, dest, payload)
            line = canonical(asdict(entry)) + b"\n"
            try:
                fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o640)
                try:
                    os.write(fd, line)
                    os.fsync(fd)
                finally:
                    os.close(fd)
            except OSError as exc:
                raise LedgerError(f"cannot append to ledger {self.path}: {exc.strerror}") from None
            self.seq, self.head = n, entry.hash
            return entry, payload


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
