"""Egress-ledger entries: the chained record of one sending, as the box writes it and the hub checks it.

Entry: ``{"seq", "ts", "kind", "dest", "bytes", "sha256", "prev", "hash"}`` with
``hash = sha256(prev + canonical JSON of the entry without "hash")``. Payloads are never
stored, only their hashes, so an entry holds no personal data.
"""

from __future__ import annotations

import hashlib
import json
import time
from dataclasses import asdict, dataclass
from typing import Literal

GENESIS = "0" * 64
Kind = Literal["mqtt", "http", "repair"]


@dataclass(frozen=True)
class LedgerEntry:
    seq: int
    ts: float
    kind: Kind
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


def make_entry(seq: int, prev: str, kind: Kind, dest: str, payload: bytes,
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


REPAIR_KIND: Kind = "repair"
REPAIR_DEST = "ledger/torn-tail"
"""An entry of kind ``repair`` records a torn tail cut off on open: ``bytes`` and ``sha256``
are the length and hash of the bytes removed. Nothing was sent for it."""
