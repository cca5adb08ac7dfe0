"""The wire contract (MQTT contract version 1) in one import: message dataclasses, schemas,
the registry of kinds, total JSON, and the id and time formats messages use.

Everything that leaves a box is one of the messages of :data:`KINDS`, and the hub validates
what it receives against the same schemas. The parts, by role:

- :mod:`edge.wire.jsonio`: :func:`parse_json` (the one total parser) and :func:`encode`;
- :mod:`edge.wire.schemas`: the JSON Schemas and the identifiers, enums and bounds they use;
- :mod:`edge.wire.events`, :mod:`edge.wire.reports`, :mod:`edge.wire.search`: the dataclasses;
- :mod:`edge.wire.registry`: kind -> dataclass -> schema, topic suffix, QoS; topics; decoding.
"""

from __future__ import annotations

import os
import time
import uuid

from edge.wire.events import ABSENT, Absent, EventMessage, ObjectRef, StateMessage, wire_measure
from edge.wire.jsonio import (
    MAX_INT_DIGITS,
    MAX_JSON_DEPTH,
    MAX_PAYLOAD_BYTES,
    MessageError,
    encode,
    parse_json,
)
from edge.wire.registry import (
    KINDS,
    SCHEMAS,
    Kind,
    Message,
    ParsedTopic,
    _fast,
    decode,
    kind,
    parse_topic,
    read,
    topic,
    validate,
)
from edge.wire.reports import (
    AudioHealth,
    DetectorHealth,
    HealthMessage,
    LedgerDigest,
    LineCount,
    OutboxDropped,
    StatsMessage,
    ZoneCount,
    digest_signed_part,
)
from edge.wire.schemas import (
    EVENT_SCHEMA,
    EVENT_SCHEMA_ID,
    EVENT_TYPES,
    HEALTH_SCHEMA,
    HEALTH_SCHEMA_ID,
    LEDGER_DIGEST_MAX_ENTRIES,
    LEDGER_SCHEMA,
    LEDGER_SCHEMA_ID,
    MAX_NUMBER,
    MAX_PREVIEW_B64,
    MAX_SAFE_INT,
    NAME_PATTERN,
    SEARCH_CLASSES,
    SEARCH_COLOURS,
    SEARCH_DIRECTIONS,
    SEARCH_REQ_SCHEMA,
    SEARCH_REQ_SCHEMA_ID,
    SEARCH_RESP_SCHEMA,
    SEARCH_RESP_SCHEMA_ID,
    SEARCH_VEHICLES,
    SEVERITIES,
    STATE_PAYLOADS,
    STATS_SCHEMA,
    STATS_SCHEMA_ID,
    TOPIC_ROOT,
    Severity,
)
from edge.wire.search import SearchAnswer, SearchQuery, SearchRequest, SearchResult
from edge.wire.suppress import SUPPRESS_SCHEMA_ID, Suppression, SuppressionSet

__all__ = [
    "ABSENT",
    "EVENT_SCHEMA",
    "EVENT_SCHEMA_ID",
    "EVENT_TYPES",
    "HEALTH_SCHEMA",
    "HEALTH_SCHEMA_ID",
    "KINDS",
    "LEDGER_DIGEST_MAX_ENTRIES",
    "LEDGER_SCHEMA",
    "LEDGER_SCHEMA_ID",
    "MAX_INT_DIGITS",
    "MAX_JSON_DEPTH",
    "MAX_NUMBER",
    "MAX_PAYLOAD_BYTES",
    "MAX_PREVIEW_B64",
    "MAX_SAFE_INT",
    "NAME_PATTERN",
    "SCHEMAS",
    "SEARCH_CLASSES",
    "SEARCH_COLOURS",
    "SEARCH_DIRECTIONS",
    "SEARCH_REQ_SCHEMA",
    "SEARCH_REQ_SCHEMA_ID",
    "SEARCH_RESP_SCHEMA",
    "SEARCH_RESP_SCHEMA_ID",
    "SEARCH_VEHICLES",
    "SEVERITIES",
    "STATE_PAYLOADS",
    "STATS_SCHEMA",
    "STATS_SCHEMA_ID",
    "SUPPRESS_SCHEMA_ID",
    "TOPIC_ROOT",
    "Absent",
    "AudioHealth",
    "DetectorHealth",
    "EventMessage",
    "HealthMessage",
    "Kind",
    "LedgerDigest",
    "LineCount",
    "Message",
    "MessageError",
    "ObjectRef",
    "OutboxDropped",
    "ParsedTopic",
    "SearchAnswer",
    "SearchQuery",
    "SearchRequest",
    "SearchResult",
    "Severity",
    "StateMessage",
    "StatsMessage",
    "Suppression",
    "SuppressionSet",
    "ZoneCount",
    "_fast",
    "decode",
    "digest_signed_part",
    "encode",
    "kind",
    "parse_json",
    "parse_topic",
    "read",
    "topic",
    "utc_iso",
    "uuid7",
    "validate",
    "wire_measure",
]


def uuid7() -> str:
    """A UUIDv7 (RFC 9562): 48-bit Unix milliseconds, then random bits; sorts by time."""
    ms = time.time_ns() // 1_000_000
    rand = int.from_bytes(os.urandom(10), "big")
    value = (ms & ((1 << 48) - 1)) << 80
    value |= 0x7 << 76
    value |= ((rand >> 62) & 0xFFF) << 64
    value |= 0b10 << 62
    value |= rand & ((1 << 62) - 1)
    return str(uuid.UUID(int=value))


def utc_iso(ts: float) -> str:
    """Unix seconds -> ``2026-11-23T10:15:02.480Z``."""
    t = time.gmtime(ts)
    return time.strftime("%Y-%m-%dT%H:%M:%S", t) + f".{int((ts % 1) * 1000):03d}Z"
