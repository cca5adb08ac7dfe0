"""The JSON Schemas of the wire contract (MQTT contract version 1) and the names they use.

Data only: which kind of message each schema describes, its topic suffix and QoS are declared
once, in :data:`edge.wire.registry.KINDS`. Every object schema has ``additionalProperties:
false`` so that no field the contract does not name (a frame, a crop, an embedding...) can
ride along.
"""

from __future__ import annotations

from typing import Any, Literal

TOPIC_ROOT = "vigie/v1"
EVENT_SCHEMA_ID = "vigie.event/1"
HEALTH_SCHEMA_ID = "vigie.health/1"
MAX_SAFE_INT = 2**53 - 1
"""The largest integer any schema accepts: exact in JSON doubles and in SQLite's signed 64 bits."""
MAX_NUMBER = 1e12
"""The largest magnitude of any other number (measure, fps, ms, seconds, Unix time): far above
what a box measures, far below where sums of them lose precision or overflow."""

NAME_PATTERN = r"^[a-z0-9][a-z0-9_-]{0,62}$"
"""Site, camera and zone identifiers: lower-case, no slashes, no MQTT wildcards."""

EVENT_TYPES = (
    "intrusion",
    "wrong_way",
    "abandoned_object",
    "person_down",
    "crowd_density",
    "crowd_movement",
    "weapon",
    "fire",
    "gunshot",
    "camera_tamper",
)
SEVERITIES = ("info", "warning", "critical")
STATE_PAYLOADS = ("online", "offline")

Severity = Literal["info", "warning", "critical"]

_TIMESTAMP = {
    "type": "string",
    "maxLength": 27,
    "pattern": r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{1,6})?Z$",
}
_NAME = {"type": "string", "maxLength": 63, "pattern": NAME_PATTERN}
_LABEL = {"type": "string", "maxLength": 32, "pattern": r"^[a-z][a-z0-9_ ]{0,31}$"}
_UNIT = {"type": "number", "minimum": 0.0, "maximum": 1.0}
_SHA256 = {"type": "string", "maxLength": 64, "pattern": "^[0-9a-f]{64}$"}
_COUNT = {"type": "integer", "minimum": 0, "maximum": MAX_SAFE_INT}
"""Sequence numbers, counters and byte counts."""
_NONNEG = {"type": "number", "minimum": 0, "maximum": MAX_NUMBER}
_OPT_NONNEG = {"anyOf": [_NONNEG, {"type": "null"}]}
_MEASURE = {"type": "number", "minimum": -MAX_NUMBER, "maximum": MAX_NUMBER}

EVENT_SCHEMA: dict[str, Any] = {
    "$schema": "https://json-schema.org/draft/2020-12/schema",
    "$id": EVENT_SCHEMA_ID,
    "type": "object",
    "additionalProperties": False,
    "required": [
        "schema", "id", "site", "camera", "type", "state", "severity", "started_at",
        "ended_at", "zone", "objects", "measure", "model", "clip", "seq",
    ],
    "properties": {
        "schema": {"const": EVENT_SCHEMA_ID},
        "id": {
            "type": "string",
            "maxLength": 36,
            "pattern": r"^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$",
        },
        "site": _NAME,
        "camera": _NAME,
        "type": {"enum": list(EVENT_TYPES)},
        "state": {"enum": ["start", "end"]},
        "severity": {"enum": list(SEVERITIES)},
        "started_at": _TIMESTAMP,
        "ended_at": {"anyOf": [_TIMESTAMP, {"type": "null"}]},
        "zone": {"anyOf": [_NAME, {"type": "null"}]},
        "objects": {
            "type": "array",
            "maxItems": 64,
            "items": {
                "type": "object",
                "additionalProperties": False,
                "required": ["label", "score", "bbox"],
                "properties": {
                    "label": _LABEL,
                    "score": _UNIT,
                    "bbox": {"type": "array", "items": _UNIT, "minItems": 4, "maxItems": 4},
                },
            },
        },
        "measure": {
            "type": "object",
            "maxProperties": 16,
            "propertyNames": {"maxLength": 32, "pattern": r"^[a-z][a-z0-9_]{0,31}$"},
            "additionalProperties": _MEASURE,
        },
        "model": {
            "type": "object",
            "additionalProperties": False,
            "required": ["name", "sha256"],
            "properties": {
                "name": {"type": "string", "maxLength": 64, "pattern": r"^[a-z0-9][a-z0-9._-]{0,63}$"},
                "sha256": _SHA256,
            },
        },
        "clip": {
            "type": "object",
            "additionalProperties": False,
            "required": ["status", "sha256"],
            "properties": {
                "status": {"enum": ["none", "pending", "making", "uploaded", "failed"]},
                "sha256": {"anyOf": [_SHA256, {"type": "null"}]},
                "reason": {"description": "why the clip failed", "type": "string",
                           "maxLength": 200},
            },
        },
        "seq": _COUNT,
    },
}

HEALTH_SCHEMA: dict[str, Any] = {
    "$schema": "https://json-schema.org/draft/2020-12/schema",
    "$id": HEALTH_SCHEMA_ID,
    "type": "object",
    "additionalProperties": False,
    "required": [
        "schema", "site", "camera", "ts", "fps_in", "fps_processed", "inference_ms_p50",
        "inference_ms_p95", "outbox_depth", "uptime_s", "seq",
    ],
    "properties": {
        "schema": {"const": HEALTH_SCHEMA_ID},
        "site": _NAME,
        "camera": _NAME,
        "ts": _TIMESTAMP,
        "fps_in": _NONNEG,
        "fps_processed": _NONNEG,
        "inference_ms_p50": _OPT_NONNEG,
        "inference_ms_p95": _OPT_NONNEG,
        "outbox_depth": _COUNT,
        "uptime_s": _NONNEG,
        "cpu_percent": _OPT_NONNEG,
        "disk_free_bytes": {"anyOf": [_COUNT, {"type": "null"}]},
        "source_ok": {"type": "boolean"},
        "detector": {
            "type": "object",
            "additionalProperties": False,
            "required": ["model", "backend"],
            "properties": {
                "model": {"type": "string", "maxLength": 64},
                "backend": {"type": "string", "maxLength": 32},
                "timings_ms": {
                    "type": "object",
                    "maxProperties": 8,
                    "additionalProperties": False,
                    "patternProperties": {"^[a-z]{1,32}$": _NONNEG},
                },
                "gate_runs": _COUNT,
                "gate_skips": _COUNT,
            },
        },
        "audio": {
            "description": "whether this box listens for gunshots and under which legal basis; "
            "never any sound",
            "type": "object",
            "additionalProperties": False,
            "required": ["enabled", "legal_basis"],
            "properties": {
                "enabled": {"type": "boolean"},
                "legal_basis": {"anyOf": [{"type": "string", "maxLength": 200}, {"type": "null"}]},
            },
        },
        "outbox_dropped": {
            "description": "messages the box dropped since its outbox was created, by kind "
            "(byte cap or full in-memory queue while the outbox could not be written)",
            "type": "object",
            "additionalProperties": False,
            "required": ["stats", "event"],
            "properties": {
                "stats": _COUNT,
                "event": _COUNT,
            },
        },
        "outbox_error": {"anyOf": [{"type": "string", "maxLength": 300}, {"type": "null"}]},
        "outbox_memory_queue": _COUNT,
        "disk_full": {"description": "the box's data disk is full: only health and state leave "
                      "it, other messages wait", "type": "boolean"},
        "verification": {
            "description": "candidate events since the box started: re-checked, confirmed, "
                           "refused (not sent), sent unverified (over the hourly cap, or no "
                           "class the model knows), suppressed by the hub's false-alarm "
                           "suppressions; and the version of the suppression set applied",
            "type": "object",
            "additionalProperties": False,
            "required": ["verified", "confirmed", "refused", "unverified", "unverifiable",
                         "suppressed", "suppression_version"],
            "properties": {k: _COUNT for k in (
                "verified", "confirmed", "refused", "unverified", "unverifiable", "suppressed",
                "suppression_version")},
        },
        "seq": _COUNT,
    },
}


# -- statistics (vigie.stats/1) --------------------------------------------------------------
STATS_SCHEMA_ID = "vigie.stats/1"

STATS_SCHEMA: dict[str, Any] = {
    "$schema": "https://json-schema.org/draft/2020-12/schema",
    "$id": STATS_SCHEMA_ID,
    "type": "object",
    "additionalProperties": False,
    "required": ["schema", "site", "camera", "interval_start", "interval_end", "lines", "zones", "seq"],
    "properties": {
        "schema": {"const": STATS_SCHEMA_ID},
        "site": _NAME,
        "camera": _NAME,
        "interval_start": _TIMESTAMP,
        "interval_end": _TIMESTAMP,
        "lines": {
            "type": "array",
            "maxItems": 256,
            "items": {
                "type": "object",
                "additionalProperties": False,
                "required": ["line", "class", "forward", "backward"],
                "properties": {"line": _NAME, "class": _LABEL, "forward": _COUNT, "backward": _COUNT},
            },
        },
        "zones": {
            "type": "array",
            "maxItems": 256,
            "items": {
                "type": "object",
                "additionalProperties": False,
                "required": ["zone", "class", "max", "mean"],
                "properties": {"zone": _NAME, "class": _LABEL, "max": _COUNT, "mean": _NONNEG},
            },
        },
        "seq": _COUNT,
    },
}


# -- forensic search: vigie.search.req/1 (hub -> box), vigie.search.resp/1 -------
SEARCH_REQ_SCHEMA_ID = "vigie.search.req/1"
SEARCH_RESP_SCHEMA_ID = "vigie.search.resp/1"
SEARCH_CLASSES = ("person", "bicycle", "car", "motorcycle", "bus", "truck")
"""What a search may ask for; persons by class, time, zone and direction only."""
SEARCH_VEHICLES = ("bicycle", "car", "motorcycle", "bus", "truck")
SEARCH_COLOURS = ("white", "silver/grey", "black", "red", "blue", "green", "yellow/orange",
                  "brown/beige")
SEARCH_DIRECTIONS = ("left", "right", "up", "down", "stationary")
MAX_PREVIEW_B64 = 16 * 1024
"""A preview travels base64 in the answer: at most 16 KiB of text (12 KiB of JPEG)."""
_UUID = {"type": "string", "maxLength": 36,
         "pattern": r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$"}
_TEXT = {"type": "string", "minLength": 1, "maxLength": 300}

SEARCH_REQ_SCHEMA: dict[str, Any] = {
    "$schema": "https://json-schema.org/draft/2020-12/schema",
    "$id": SEARCH_REQ_SCHEMA_ID,
    "description": "a signed, audited question from the hub to the boxes it names",
    "type": "object",
    "additionalProperties": False,
    "required": ["schema", "id", "requester", "case", "reason", "issued_at", "expires_at",
                 "window", "cameras", "query", "limit"],
    "properties": {
        "schema": {"const": SEARCH_REQ_SCHEMA_ID},
        "id": _UUID,
        "requester": {"type": "string", "minLength": 1, "maxLength": 100},
        "case": {"type": "string", "minLength": 1, "maxLength": 100},
        "reason": _TEXT,
        "issued_at": _TIMESTAMP,
        "expires_at": _TIMESTAMP,
        "window": {
            "type": "object", "additionalProperties": False, "required": ["start", "end"],
            "properties": {"start": _TIMESTAMP, "end": _TIMESTAMP},
        },
        "cameras": {
            "type": "array", "minItems": 1, "maxItems": 2000,
            "items": {"type": "object", "additionalProperties": False,
                      "required": ["site", "camera"], "properties": {"site": _NAME, "camera": _NAME}},
        },
        "query": {
            "type": "object", "additionalProperties": False,
            "required": ["class", "colour", "zone", "direction"],
            "properties": {
                "class": {"enum": [*SEARCH_CLASSES, None]},
                "colour": {"enum": [*SEARCH_COLOURS, None]},
                "zone": {"anyOf": [_NAME, {"type": "null"}]},
                "direction": {"enum": [*SEARCH_DIRECTIONS, None]},
            },
        },
        "limit": {"type": "integer", "minimum": 1, "maximum": 500},
        "signature": {"type": "string", "minLength": 1, "maxLength": 200},
    },
}

_SEARCH_RESULT: dict[str, Any] = {
    "type": "object",
    "additionalProperties": False,
    "required": ["row", "class", "first_seen", "last_seen", "zones", "direction", "colour",
                 "colour_confidence", "preview"],
    "properties": {
        "row": _COUNT,
        "class": {"enum": list(SEARCH_CLASSES)},
        "first_seen": _TIMESTAMP,
        "last_seen": _TIMESTAMP,
        "zones": {"type": "array", "maxItems": 32, "items": _NAME},
        "direction": {"enum": list(SEARCH_DIRECTIONS)},
        "colour": {"enum": [*SEARCH_COLOURS, None]},
        "colour_confidence": {"anyOf": [_UNIT, {"type": "null"}]},
        "preview": {"anyOf": [
            {"type": "string", "maxLength": MAX_PREVIEW_B64, "pattern": "^/9j/[A-Za-z0-9+/=]*$"},
            {"type": "null"}]},
    },
    "description": "a person is class, times, zones and direction only: no colour, no preview",
    "if": {"properties": {"class": {"const": "person"}}},
    "then": {"properties": {"colour": {"type": "null"}, "colour_confidence": {"type": "null"},
                            "preview": {"type": "null"}}},
}

SEARCH_RESP_SCHEMA: dict[str, Any] = {
    "$schema": "https://json-schema.org/draft/2020-12/schema",
    "$id": SEARCH_RESP_SCHEMA_ID,
    "description": "one part of a box's answer to a search request, or its refusal",
    "type": "object",
    "additionalProperties": False,
    "required": ["schema", "site", "camera", "request_id", "status", "reason", "part", "last",
                 "results", "seq"],
    "properties": {
        "schema": {"const": SEARCH_RESP_SCHEMA_ID},
        "site": _NAME,
        "camera": _NAME,
        "request_id": _UUID,
        "status": {"enum": ["results", "refused"]},
        "reason": {"anyOf": [_TEXT, {"type": "null"}]},
        "part": {"type": "integer", "minimum": 0, "maximum": 10000},
        "last": {"type": "boolean"},
        "results": {"type": "array", "maxItems": 100, "items": _SEARCH_RESULT},
        "seq": _COUNT,
    },
    "if": {"properties": {"status": {"const": "refused"}}},
    "then": {"properties": {"results": {"maxItems": 0}, "reason": _TEXT, "last": {"const": True}}},
}


# -- egress-ledger digests (vigie.ledger/1) -----------------------------------------
LEDGER_SCHEMA_ID = "vigie.ledger/1"
LEDGER_DIGEST_MAX_ENTRIES = 150
"""Entries per digest; a longer backlog goes out as several digests (64 KiB payload cap)."""

LEDGER_SCHEMA: dict[str, Any] = {
    "$schema": "https://json-schema.org/draft/2020-12/schema",
    "$id": LEDGER_SCHEMA_ID,
    "description": "the box's egress-ledger entries since its last digest, the chain head and an "
    "Ed25519 signature (box key) over the canonical JSON of this object without seq and signature",
    "type": "object",
    "additionalProperties": False,
    "required": ["schema", "site", "camera", "ts", "entries", "head_seq", "head", "signature", "seq"],
    "properties": {
        "schema": {"const": LEDGER_SCHEMA_ID},
        "site": _NAME,
        "camera": _NAME,
        "ts": _TIMESTAMP,
        "entries": {
            "type": "array",
            "maxItems": LEDGER_DIGEST_MAX_ENTRIES,
            "items": {
                "type": "object",
                "additionalProperties": False,
                "required": ["seq", "ts", "kind", "dest", "bytes", "sha256", "prev", "hash"],
                "properties": {
                    "seq": {**_COUNT, "minimum": 1},
                    "ts": _NONNEG,
                    "kind": {"enum": ["mqtt", "http", "repair"]},
                    "dest": {"type": "string", "maxLength": 200},
                    "bytes": _COUNT,
                    "sha256": _SHA256,
                    "prev": _SHA256,
                    "hash": _SHA256,
                },
            },
        },
        "head_seq": _COUNT,
        "head": _SHA256,
        "signature": {"type": "string", "maxLength": 88, "pattern": r"^[A-Za-z0-9+/]{86}==$"},
        "seq": _COUNT,
    },
}
