"""The signed ``vigie.ledger/1`` digest: a run of egress-ledger entries a box tells the hub.

Built by the box's digester (:mod:`edge.outbound.digests`) and by the hub's fleet simulator;
checked by the hub (:mod:`central.privacy.egress_verify`). The signature covers
:func:`edge.wire.messages.digest_signed_part` of the message.
"""

from __future__ import annotations

import time
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from edge.wire.keys import sign
from edge.wire.messages import LEDGER_SCHEMA_ID, digest_signed_part, utc_iso


def build_digest(
    key: Ed25519PrivateKey, site: str, camera: str, entries: list[dict[str, Any]], head_seq: int,
    head: str, now: float | None = None,
) -> dict[str, Any]:
    """A signed ``vigie.ledger/1`` message (without ``seq``, which egress adds)."""
    msg: dict[str, Any] = {
        "schema": LEDGER_SCHEMA_ID, "site": site, "camera": camera,
        "ts": utc_iso(time.time() if now is None else now),
        "entries": entries, "head_seq": head_seq, "head": head,
    }
    msg["signature"] = sign(key, digest_signed_part(msg))
    return msg
