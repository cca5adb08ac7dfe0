"""The box's suppression-set parser under hostile input: every field of a signed set replaced by
every extreme (non-finite and huge numbers, wrong types, huge or broken strings, deep nesting),
sent as is (the signature no longer matches) and re-signed with the hub's real key (so the
schema and date checks are what stands). Never an exception; nothing invalid applied."""

from __future__ import annotations

import json
import math
import time
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from central.forensic.fanout import sign_for
from edge.suppressions import SuppressionBook
from edge.wire.keys import HUB_PUBLIC_KEY, keys_dir, sign
from edge.wire.messages import MessageError, utc_iso, uuid7
from edge.wire.suppress import SUPPRESS_SCHEMA_ID, SuppressionSet
from tests.kits.hostilekit import with_raw
from tests.kits.searchkit import install_hub_key
from tests.wire.test_wire_fuzz import EXTREMES

SITE, CAMERA = "marseille", "cam-042"


def dotted(value: Any, here: str = "") -> list[str]:
    """Every leaf and inner node of a JSON value as a ``with_raw`` path."""
    out = [here] if here else []
    items = value.items() if isinstance(value, dict) else enumerate(value) \
        if isinstance(value, list) else []
    for key, item in items:
        out += dotted(item, f"{here}.{key}" if here else str(key))
    return out


def valid_set() -> dict[str, Any]:
    now = time.time()
    entry = {"id": uuid7(), "rule": "intrusion", "zone": "room", "region": [0.1, 0.2, 0.3, 0.4],
             "expires_at": utc_iso(now + 3600)}
    return {"schema": SUPPRESS_SCHEMA_ID, "version": 10, "issued_at": utc_iso(now),
            "expires_at": utc_iso(now + 3600), "suppressions": [entry]}


def resigned(key: Ed25519PrivateKey, payload: bytes) -> bytes | None:
    """``payload`` re-signed over whatever it now holds, or None when it cannot be signed
    (not JSON Python reads, or a value canonical JSON refuses, such as NaN)."""
    try:
        obj = json.loads(payload)
        if not isinstance(obj, dict):
            return None
        obj.pop("signature", None)
        obj["signature"] = sign(key, obj)
        return json.dumps(obj).encode()
    except (ValueError, TypeError, RecursionError, OverflowError):
        return None


def applied_is_valid(book: SuppressionBook) -> None:
    for e in book.entries:
        assert all(math.isfinite(v) and 0.0 <= v <= 1.0 for v in e.region)


def test_every_extreme_in_every_field_is_refused_cleanly(tmp_path: Path) -> None:
    key = Ed25519PrivateKey.generate()
    install_hub_key(tmp_path, key)
    book = SuppressionBook(SITE, CAMERA, keys_dir(tmp_path) / HUB_PUBLIC_KEY)
    msg = sign_for(key, valid_set(), SITE, CAMERA)
    cases = accepted = 0
    for path in dotted(msg):
        for raw in EXTREMES:
            payload = with_raw(msg, path, raw)
            for attempt in (payload, resigned(key, payload)):
                if attempt is None:
                    continue
                book.version = 0  # each case judged alone (not as a replay of the last)
                cases += 1
                if book.receive(attempt, now=time.time()):
                    accepted += 1
                    body = json.loads(attempt)
                    try:
                        SuppressionSet.from_wire(body)
                    except MessageError as exc:
                        raise AssertionError(f"{path} = {raw[:30]} applied: {exc}") from None
                    applied_is_valid(book)
    assert cases > 20 * len(EXTREMES)
    assert book.refused == cases - accepted
    assert accepted < cases / 10  # only re-signed, schema-valid values (e.g. zone null) pass


def test_a_set_of_the_largest_size_is_applied_and_one_more_refused(tmp_path: Path) -> None:
    key = Ed25519PrivateKey.generate()
    install_hub_key(tmp_path, key)
    book = SuppressionBook(SITE, CAMERA, keys_dir(tmp_path) / HUB_PUBLIC_KEY)
    body = valid_set()
    entry = body["suppressions"][0]
    body["suppressions"] = [{**entry, "id": uuid7()} for _ in range(200)]
    assert book.receive(json.dumps(sign_for(key, body, SITE, CAMERA)).encode())
    assert len(book.live()) == 200
    body["suppressions"].append({**entry, "id": uuid7()})
    body["version"] = 11
    assert not book.receive(json.dumps(sign_for(key, body, SITE, CAMERA)).encode())
    assert book.version == 10
