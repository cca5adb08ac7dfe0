"""Signed egress-ledger digests: what the box sent, told to the hub every minute.

Every ``interval_s`` (and at shutdown) the digester reads the ledger FILE from just after the
last digested entry, and for each run of at most ``LEDGER_DIGEST_MAX_ENTRIES`` entries puts a
``vigie.ledger/1`` message, signed with the box key
(:func:`edge.wire.ledger_digest.build_digest`), into the outbox. The sender publishes it
through egress like any other message, so:

- a digest survives broker outages and reboots (it waits in the outbox until PUBACK);
- a digest is itself ledgered when it is published, and so listed by the next digest.

The cursor (last digested seq and hash) lives in ``<data_dir>/ledger-digest.json`` and moves
only after the digest is stored in the outbox; a crash in between digests the same entries
again, which the hub accepts (same hashes). Reading the file rather than memory is deliberate:
an entry edited on the box is digested as edited and the hub sees its hash break.
"""

from __future__ import annotations

import json
import logging
import os
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import fastjsonschema
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from edge.outbound.diskfull import OnceLog
from edge.outbound.outbox import Outbox, OutboxError
from edge.wire.ledger_digest import build_digest
from edge.wire.ledger_entries import GENESIS
from edge.wire.messages import (
    LEDGER_DIGEST_MAX_ENTRIES,
    LEDGER_SCHEMA,
    MessageError,
    parse_json,
)
from edge.wire.periodic import Periodic

log = logging.getLogger(__name__)

CURSOR_FILE = "ledger-digest.json"
MAX_LINE_BYTES = 4096
"""A ledger line is about 300 bytes (``dest`` at most 200); a longer one is corrupt."""
_ENTRY = fastjsonschema.compile({**LEDGER_SCHEMA["properties"]["entries"]["items"],
                                 "$schema": "http://json-schema.org/draft-07/schema#"})
"""What a digest may carry as one entry: a line that is not one is left out (the hub sees the
gap) instead of making the whole digest fail the schema at egress."""


def parse_entry(raw: bytes) -> dict[str, Any]:
    """One ledger line as a digest entry; MessageError when it is not one."""
    entry = parse_json(raw, max_bytes=MAX_LINE_BYTES)
    try:
        _ENTRY(entry)
    except fastjsonschema.JsonSchemaException as exc:
        raise MessageError(f"not a ledger entry: {exc}") from None
    return dict(entry)


@dataclass(frozen=True)
class Cursor:
    """The last entry already put in a digest."""

    seq: int
    hash: str
    offset: int = 0
    """Byte offset in the ledger file just after that entry's line (0: unknown, scan from the start)."""


def read_cursor(path: Path) -> Cursor:
    try:
        d = parse_json(path.read_bytes(), max_bytes=MAX_LINE_BYTES)
        return Cursor(int(d["seq"]), str(d["hash"]), int(d.get("offset", 0)))
    except FileNotFoundError:
        return Cursor(0, GENESIS)
    except (OSError, ValueError, KeyError, TypeError, AttributeError) as exc:
        log.error("digest cursor %s unreadable (%s); digesting the whole ledger again", path, exc)
        return Cursor(0, GENESIS)


def write_cursor(path: Path, cursor: Cursor) -> None:
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps({"seq": cursor.seq, "hash": cursor.hash, "offset": cursor.offset}),
                   encoding="utf-8")
    os.replace(tmp, path)


def raw_entries_after(ledger_path: Path, seq: int, offset: int = 0) -> list[tuple[dict[str, Any], int]]:
    """The complete lines of the ledger file after ``seq``, in FILE order, as parsed JSON, each
    with the byte offset just after its line.

    ``offset`` (from the cursor) lets the read start right after ``seq``'s line instead of at the
    top of a file that only grows; when the line found there is not ``seq + 1`` (the file was
    replaced or edited), the whole file is read. A line that does not parse is skipped with an
    error (the hub then sees the gap)."""
    out: list[tuple[dict[str, Any], int]] = []
    try:
        f = ledger_path.open("rb")
    except FileNotFoundError:
        return out
    with f:
        start = offset if seq and 0 < offset <= os.fstat(f.fileno()).st_size else 0
        if start:
            f.seek(start - 1)
            if f.read(1) != b"\n":  # not a line boundary: not the file the cursor was made on
                start = 0
        f.seek(start)
        past = seq == 0 or start > 0
        pos = start
        for raw in f:
            if not raw.endswith(b"\n"):
                break  # an append in progress
            pos += len(raw)
            try:
                entry = parse_entry(raw)
            except MessageError as exc:
                log.error("ledger %s: the line ending at byte %d is not an entry (%s); left out of "
                          "the digest", ledger_path, pos, str(exc)[:200])
                continue
            entry_seq = entry["seq"]
            if start and not out and entry_seq != seq + 1:
                return raw_entries_after(ledger_path, seq)  # not where the cursor said: rescan
            if not past:
                past = entry_seq == seq
                continue
            out.append((entry, pos))
    return out


class Digester:
    """Puts signed digests of new ledger entries into the outbox, every ``interval_s``."""

    def __init__(
        self, key: Ed25519PrivateKey, site: str, camera: str, ledger_path: Path, outbox: Outbox,
        data_dir: Path, interval_s: float, wake: Any = None,
    ):
        self.key = key
        self.site = site
        self.camera = camera
        self.ledger_path = ledger_path
        self.outbox = outbox
        self.cursor_path = data_dir / CURSOR_FILE
        self.interval_s = interval_s
        self.wake = wake
        self.published = 0
        self._log = OnceLog(log, "storing a ledger digest")
        self._lock = threading.Lock()
        self._job = Periodic("ledger-digest", interval_s, self._tick)

    def start(self) -> None:
        self._job.start()

    def stop(self) -> None:
        self._job.stop(5)

    def _tick(self) -> None:
        try:
            self.digest_once()
        except Exception:  # the next interval tries again
            log.exception("ledger digest failed")

    def digest_once(self) -> int:
        """Digest every entry after the cursor; returns the number of digests stored."""
        with self._lock:
            cursor = read_cursor(self.cursor_path)
            lines = raw_entries_after(self.ledger_path, cursor.seq, cursor.offset)
            if cursor.seq and not lines and not self._cursor_in_file(cursor):
                log.error("ledger %s no longer holds digested seq %d", self.ledger_path, cursor.seq)
            n = 0
            for i in range(0, len(lines), LEDGER_DIGEST_MAX_ENTRIES):
                chunk = [entry for entry, _ in lines[i:i + LEDGER_DIGEST_MAX_ENTRIES]]
                end = lines[i:i + LEDGER_DIGEST_MAX_ENTRIES][-1][1]
                last = chunk[-1]
                head_seq = int(last.get("seq", 0)) if isinstance(last.get("seq"), int) else cursor.seq
                head = str(last.get("hash", cursor.hash))
                msg = build_digest(self.key, self.site, self.camera, chunk, head_seq, head)
                try:
                    if not self.outbox.put("ledger", msg.body()):
                        log.error("outbox refused a ledger digest; retrying next interval")
                        return n
                    cursor = Cursor(head_seq, head, end)
                    write_cursor(self.cursor_path, cursor)
                except (OutboxError, OSError) as exc:  # a full disk: the same entries next time
                    self._log.failed(exc, "retrying every interval")
                    return n
                self._log.ok()
                n += 1
                self.published += 1
            if n and self.wake is not None:
                self.wake()
            return n

    def _cursor_in_file(self, cursor: Cursor) -> bool:
        """Whether the digested entry is still in the file (its line ends at the cursor's offset
        when that is known; else a scan)."""
        try:
            with self.ledger_path.open("rb") as f:
                if cursor.offset:
                    size = os.fstat(f.fileno()).st_size
                    if cursor.offset > size:
                        return False
                    f.seek(max(0, cursor.offset - 4096))
                    tail = f.read(cursor.offset - f.tell()).rsplit(b"\n", 2)
                    return len(tail) >= 2 and _seq_of(tail[-2]) == cursor.seq
                return any(_seq_of(raw) == cursor.seq for raw in f if raw.endswith(b"\n"))
        except OSError:
            return False


def _seq_of(raw: bytes) -> int | None:
    """The seq of a ledger line, or None when it is not an entry."""
    try:
        return int(parse_entry(raw)["seq"])
    except MessageError:
        return None
