"""Valid sample messages of each kind, from one box (marseille/cam-042): the starting point of
the tests that change a field, fuzz a message or feed the hub."""

from __future__ import annotations

from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from edge.wire.ledger_digest import build_digest
from edge.wire.ledger_entries import GENESIS, make_entry
from edge.wire.messages import (
    SCHEMAS,
    SEARCH_REQ_SCHEMA_ID,
    SEARCH_RESP_SCHEMA_ID,
    EventMessage,
    ObjectRef,
    topic,
    utc_iso,
    uuid7,
)
from edge.wire.suppress import SUPPRESS_SCHEMA_ID

SITE, CAMERA = "marseille", "cam-042"


def sample_event(**overrides: object) -> dict[str, object]:
    """An intrusion ``start`` event as the box sends it (a fresh id), with ``overrides``."""
    msg = EventMessage(
        id=uuid7(), site=SITE, camera=CAMERA, type="intrusion", state="start",
        severity="warning", started_at=utc_iso(1_795_000_000.48), ended_at=None,
        zone="pedestrian-street", objects=(ObjectRef("car", 0.87, (0.41, 0.52, 0.12, 0.09)),),
        measure={"count": 1.0}, model_name="yolox-nano", model_sha256="e8" * 32,
    ).to_wire(seq=1842)
    msg.update(overrides)
    return msg


def sample_health() -> dict[str, Any]:
    """A health message."""
    return {"schema": "vigie.health/1", "site": SITE, "camera": CAMERA, "ts": utc_iso(1_795_000_000),
            "fps_in": 10.0, "fps_processed": 4.5, "inference_ms_p50": 61.0,
            "inference_ms_p95": 80.0, "outbox_depth": 0, "uptime_s": 12.0, "seq": 3,
            "outbox_dropped": {"stats": 1, "event": 0}, "outbox_error": None}


def sample_stats() -> dict[str, Any]:
    """A stats message: one line's crossings over one minute."""
    return {"schema": "vigie.stats/1", "site": SITE, "camera": CAMERA,
            "interval_start": "2026-11-24T10:00:00.000Z", "interval_end": "2026-11-24T10:01:00.000Z",
            "lines": [{"line": "mid", "class": "person", "forward": 2, "backward": 1}],
            "zones": [], "seq": 7}


SITE, CAMERA = "marseille", "cam-042"


# -- valid examples, completed from the schemas ----------------------------------------------
def sample_search_req() -> dict[str, Any]:
    return {
        "schema": SEARCH_REQ_SCHEMA_ID, "id": uuid7(), "requester": "inspector-ana",
        "case": "PV-2026-0042", "reason": "hit and run", "issued_at": "2026-11-24T10:00:00.000Z",
        "expires_at": "2026-11-24T10:05:00.000Z",
        "window": {"start": "2026-11-24T09:00:00.000Z", "end": "2026-11-24T10:00:00.000Z"},
        "cameras": [{"site": SITE, "camera": CAMERA}],
        "query": {"class": "car", "colour": "red", "zone": "parking", "direction": "left"},
        "limit": 100, "signature": "c2lnbmF0dXJl",
    }


def sample_search_resp() -> dict[str, Any]:
    car = {"row": 12, "class": "car", "first_seen": "2026-11-24T09:10:00.000Z",
           "last_seen": "2026-11-24T09:10:04.500Z", "zones": ["parking"], "direction": "left",
           "colour": "red", "colour_confidence": 0.8, "preview": "/9j/4AAQSkZJRg=="}
    return {"schema": SEARCH_RESP_SCHEMA_ID, "site": SITE, "camera": CAMERA,
            "request_id": uuid7(), "status": "results", "reason": None, "part": 0, "last": True,
            "results": [car], "seq": 40}


def sample_ledger() -> dict[str, Any]:
    entry = make_entry(1, GENESIS, "mqtt", topic(SITE, CAMERA, "event"), b"{}", ts=1_795_000_000.5)
    msg = build_digest(Ed25519PrivateKey.generate(), SITE, CAMERA, [entry.__dict__], 1, entry.hash,
                       now=1_795_000_060.0)
    return msg.to_wire(2)


def full_health() -> dict[str, Any]:
    return {**sample_health(), "cpu_percent": 35.5, "disk_free_bytes": 12_000_000_000,
            "source_ok": True, "outbox_memory_queue": 0,
            "detector": {"model": "yolox-nano", "backend": "onnxruntime",
                         "timings_ms": {"pre": 1.5, "infer": 60.0}, "gate_runs": 10, "gate_skips": 4},
            "audio": {"enabled": True, "legal_basis": "arrete prefectoral 2026-114"},
            "verification": {"verified": 12, "confirmed": 9, "refused": 3, "unverified": 0,
                             "unverifiable": 1, "suppressed": 2,
                             "suppression_version": 1_795_000_000_000}}


def full_stats() -> dict[str, Any]:
    return {**sample_stats(), "zones": [{"zone": "parking", "class": "car", "max": 3, "mean": 1.25}]}


SAMPLES = {"event": sample_event, "health": full_health, "stats": full_stats,
           "search/req": sample_search_req, "search/resp": sample_search_resp,
           "ledger": sample_ledger}


def sample_suppress() -> dict[str, Any]:
    """A false-alarm suppression set (hub -> box, retained)."""
    return {"schema": SUPPRESS_SCHEMA_ID, "version": 1_795_000_000_000,
            "issued_at": "2026-11-24T10:00:00.000Z", "expires_at": "2026-12-01T10:00:00.000Z",
            "cameras": [{"site": SITE, "camera": CAMERA}],
            "suppressions": [{"id": uuid7(), "rule": "intrusion", "zone": "parking",
                              "region": [0.1, 0.2, 0.3, 0.4],
                              "expires_at": "2026-12-01T10:00:00.000Z"}],
            "signature": "c2lnbmF0dXJl"}


SAMPLES["suppress"] = sample_suppress  # false-alarm suppressions


def synthesise(schema: dict[str, Any]) -> Any:
    """A small valid instance of a (sub)schema, or KeyError when it cannot make one (a
    string pattern): the sample above must then carry that field."""
    if "const" in schema:
        return schema["const"]
    if "enum" in schema:
        return schema["enum"][0]
    if "anyOf" in schema:
        for branch in schema["anyOf"]:
            try:
                return synthesise(branch)
            except KeyError:
                continue
        raise KeyError("no branch")
    kind = schema.get("type")
    if kind == "null":
        return None
    if kind == "boolean":
        return False
    if kind in ("integer", "number"):
        return schema.get("minimum", 0)
    if kind == "string" and "pattern" not in schema:
        return "x" * max(schema.get("minLength", 1), 1)
    if kind == "array":
        return [synthesise(schema["items"])] if "items" in schema else []
    if kind == "object" and "properties" in schema:
        return {k: synthesise(v) for k, v in schema["properties"].items()}
    raise KeyError(f"cannot synthesise {schema}")


def complete(value: Any, schema: dict[str, Any]) -> Any:
    """``value`` with every property its schema names filled in (recursively)."""
    if isinstance(value, dict) and "properties" in schema:
        for key, sub in schema["properties"].items():
            if key in value:
                value[key] = complete(value[key], sub)
            else:
                value[key] = synthesise(sub)
    elif isinstance(value, list) and isinstance(schema.get("items"), dict):
        return [complete(v, schema["items"]) for v in value]
    elif "anyOf" in schema:
        for branch in schema["anyOf"]:
            if branch.get("type") == "object" and isinstance(value, dict):
                return complete(value, branch)
    return value


def example(kind: str) -> dict[str, Any]:
    return complete(SAMPLES[kind](), SCHEMAS[kind])
