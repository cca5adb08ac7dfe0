"""The signed ``vigie.ledger/1`` digest: a run of egress-ledger entries a box tells the hub.

Built by the box's digester (:mod:`edge.outbound.digests`) and by the hub's fleet simulator;
checked by the hub (:mod:`central.privacy.egress_verify`). The signature covers
:meth:`~edge.wire.messages.LedgerDigest.signed_part` of the message.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import replace
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from edge.wire.keys import sign
from edge.wire.ledger_entries import LedgerEntry
from edge.wire.messages import LedgerDigest, utc_iso


def build_digest(
    key: Ed25519PrivateKey, site: str, camera: str,
    entries: Sequence[dict[str, Any] | LedgerEntry], head_seq: int, head: str,
    now: float | None = None,
) -> LedgerDigest:
    """A signed ``vigie.ledger/1`` digest of ``entries`` (ledger lines or entries)."""
    digest = LedgerDigest(
        site=site, camera=camera, ts=utc_iso(time.time() if now is None else now),
        entries=tuple(e if isinstance(e, LedgerEntry) else LedgerEntry(**e) for e in entries),
        head_seq=head_seq, head=head, signature="")
    return replace(digest, signature=sign(key, digest.signed_part()))
