"""The wire contract (MQTT contract version 1): message dataclasses and their JSON Schemas.

Everything that leaves a box is one of the messages below, and the hub validates what it
receives against the same schemas. Every object schema has ``additionalProperties: false``
so that no field the contract does not name (a frame, a crop, an embedding...) can ride
along.
"""

from __future__ import annotations

import itertools
import json
import logging
import math
import os
import re
import time
import uuid
from collections.abc import Callable
from dataclasses import asdict, dataclass
from typing import Any, Literal

import fastjsonschema
import jsonschema

log = logging.getLogger(__name__)

TOPIC_ROOT = "vigie/v1"
EVENT_SCHEMA_ID = "vigie.event/1"
HEALTH_SCHEMA_ID = "vigie.health/1"
MAX_PAYLOAD_BYTES = 64 * 1024
"""No message of the contract is anywhere near this; a larger payload is refused unread."""
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
                "status": {"enum": ["none", "pending", "uploaded", "failed"]},
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
        "seq": _COUNT,
    },
}

SCHEMAS: dict[str, dict[str, Any]] = {"event": EVENT_SCHEMA, "health": HEALTH_SCHEMA}
_VALIDATORS = {
    kind: jsonschema.Draft202012Validator(schema, format_checker=None)
    for kind, schema in SCHEMAS.items()
}
for _schema in SCHEMAS.values():
    jsonschema.Draft202012Validator.check_schema(_schema)


class MessageError(ValueError):
    """A payload that is not a valid message of the contract; the text says why."""


MAX_JSON_DEPTH = 16
"""No message of the contract nests deeper than 5; deeper JSON is refused before parsing."""
MAX_INT_DIGITS = 19
"""Integers are bounded before they are built: at most 19 digits (SQLite's 64-bit range)."""

_JSON_STRING = re.compile(r'"[^"\\]*(?:\\.[^"\\]*)*"?')
"""A JSON string; its closing quote is optional so that an unterminated string is consumed
once, never rescanned (linear time on any input)."""
_NOT_BRACKET = re.compile(r"[^\[\]{}]+")
_INNERMOST = re.compile(r"\[\]|\{\}")
_BRACKET_RUN = re.compile(r"[\[{]+|[\]}]+")


def _depth_refusal(text: str, max_depth: int) -> str | None:
    """Why the brackets of a JSON text (outside strings) nest too deep, or None.

    Each pass deletes the innermost ``[]``/``{}`` pairs, so ``max_depth`` passes empty a text
    nested no deeper; all in C (regex), a few passes over the brackets alone. A text with no
    more opening brackets than ``max_depth`` (most messages) is not scanned at all."""
    if text.count("[") + text.count("{") <= max_depth:
        return None
    remaining = _NOT_BRACKET.sub("", _JSON_STRING.sub("", text))
    opened = re.search(rf"[\[{{]{{{max_depth + 1},}}", remaining)
    if opened:  # the common attack, ``[[[[...``: found in one pass
        return f"JSON nested {len(opened.group())} deep exceeds {max_depth}"
    passes = 0
    while remaining and passes < max_depth:
        inner = _INNERMOST.sub("", remaining)
        if len(inner) == len(remaining):  # no pair left to delete
            break
        remaining, passes = inner, passes + 1
    if not remaining:
        return None
    runs = [m.group() for m in itertools.islice(_BRACKET_RUN.finditer(remaining), 65)]
    if len(runs) > 64:  # not a deep nest but mismatched brackets
        return "JSON brackets do not balance"
    depth = deepest = 0
    for run in runs:
        depth += len(run) if run[0] in "[{" else -len(run)
        deepest = max(deepest, depth)
    if passes + deepest > max_depth:
        return f"JSON nested {passes + deepest} deep exceeds {max_depth}"
    return "JSON brackets do not balance"


def _refuse_constant(name: str) -> Any:
    raise MessageError(f"non-finite number {name} is not allowed")


def _finite_float(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):
        raise MessageError(f"number {text[:40]} is out of range")
    return value


_SURROGATE_ESCAPE = re.compile(r"\\u[dD][89a-fA-F]")
"""A ``\\uD800``-``\\uDFFF`` escape: the only way JSON text can carry a lone surrogate."""


def _refuse_lone_surrogates(value: Any) -> None:
    """Raise MessageError for a string (value or key) that is not encodable as UTF-8."""
    if isinstance(value, str):
        try:
            value.encode("utf-8")
        except UnicodeEncodeError:
            raise MessageError("string with a lone surrogate escape is not allowed") from None
    elif isinstance(value, list):
        for item in value:
            _refuse_lone_surrogates(item)
    elif isinstance(value, dict):
        for key, item in value.items():
            _refuse_lone_surrogates(key)
            _refuse_lone_surrogates(item)


def _bounded_int(text: str) -> int:
    if len(text.lstrip("-")) > MAX_INT_DIGITS:
        raise MessageError(f"integer of {len(text)} digits is out of range")
    return int(text)


_DECODER = json.JSONDecoder(parse_constant=_refuse_constant, parse_float=_finite_float,
                            parse_int=_bounded_int)
"""Made once: ``json.loads`` with hooks builds a decoder on every call."""


def parse_json(data: bytes | str, max_bytes: int = MAX_PAYLOAD_BYTES, max_depth: int = MAX_JSON_DEPTH) -> Any:
    """Parse untrusted JSON totally: bounded size and depth, finite numbers, bounded integers.

    Raises MessageError with the reason for anything else (bad UTF-8, bad JSON, NaN, ``1e400``,
    a 10,000-digit integer, 6 KB of nested arrays, a lone surrogate ``\\ud800`` that no UTF-8
    writer could store...); never RecursionError or OverflowError."""
    if len(data) > max_bytes:
        raise MessageError(f"payload of {len(data)} bytes exceeds {max_bytes}")
    try:
        text = data.decode("utf-8") if isinstance(data, bytes) else data
    except UnicodeDecodeError as exc:
        raise MessageError(f"not UTF-8: {exc}") from None
    if (refusal := _depth_refusal(text, max_depth)) is not None:
        raise MessageError(refusal)
    try:
        value = _DECODER.decode(text)
    except json.JSONDecodeError as exc:
        raise MessageError(f"not JSON: {exc}") from None
    except (RecursionError, OverflowError, ValueError) as exc:
        if isinstance(exc, MessageError):
            raise
        raise MessageError(f"not JSON: {exc}") from None
    if _SURROGATE_ESCAPE.search(text):
        _refuse_lone_surrogates(value)
    return value


def topic(site: str, camera: str, suffix: str) -> str:
    """The MQTT topic of one box's message kind, e.g. ``vigie/v1/marseille/cam-042/event``."""
    return f"{TOPIC_ROOT}/{site}/{camera}/{suffix}"


@dataclass(frozen=True)
class ParsedTopic:
    site: str
    camera: str
    suffix: str


_TOPIC_RE = re.compile(
    rf"^{re.escape(TOPIC_ROOT)}/(?P<site>[^/]+)/(?P<camera>[^/]+)/(?P<suffix>.+)$"
)


def parse_topic(name: str) -> ParsedTopic:
    """Split a contract topic into site, camera and suffix, refusing anything else."""
    m = _TOPIC_RE.match(name)
    if not m:
        raise MessageError(f"topic {name!r} is not under {TOPIC_ROOT}/<site>/<camera>/")
    site, camera, suffix = m.group("site", "camera", "suffix")
    for what, value in (("site", site), ("camera", camera)):
        if not re.match(NAME_PATTERN, value):
            raise MessageError(f"topic {name!r}: {what} {value!r} is not a valid identifier")
    return ParsedTopic(site, camera, suffix)


_FAST: dict[str, Callable[[Any], Any]] = {}


def _fast(kind: str) -> Callable[[Any], Any] | None:
    """A compiled validator for ``kind`` (fastjsonschema, draft-07 keywords only: the schemas
    use nothing newer). It answers valid/invalid about ten times faster than jsonschema; the
    wording of a rejection still comes from jsonschema."""
    if kind not in _FAST and kind in SCHEMAS:
        schema = {**SCHEMAS[kind], "$schema": "http://json-schema.org/draft-07/schema#"}
        _FAST[kind] = fastjsonschema.compile(schema)
    return _FAST.get(kind)


def validate(kind: str, message: Any) -> None:
    """Raise MessageError listing every schema violation of ``message`` as a ``kind``."""
    validator = _VALIDATORS.get(kind)
    if validator is None:
        raise MessageError(f"no schema for message kind {kind!r}")
    fast = _fast(kind)
    fast_error: str | None = None
    if fast is not None:
        try:
            fast(message)
            return
        except fastjsonschema.JsonSchemaException as exc:
            fast_error = str(exc)
    errors = sorted(validator.iter_errors(message), key=lambda e: list(e.absolute_path))
    if not errors and fast_error is not None:
        raise MessageError(fast_error)
    if errors:
        parts = []
        for err in errors[:5]:
            where = "/".join(str(p) for p in err.absolute_path) or "(root)"
            parts.append(f"{where}: {err.message[:200]}")
        more = f" (+{len(errors) - 5} more)" if len(errors) > 5 else ""
        raise MessageError("; ".join(parts) + more)


def decode(kind: str, payload: bytes, expected_site: str, expected_camera: str) -> Any:
    """Parse and validate a received payload of ``kind`` for the camera its topic names.

    ``state`` payloads are the bare strings ``online``/``offline``; the others are JSON
    objects whose ``site``/``camera`` must match the topic.
    """
    if len(payload) > MAX_PAYLOAD_BYTES:
        raise MessageError(f"payload of {len(payload)} bytes exceeds {MAX_PAYLOAD_BYTES}")
    if kind == "state":
        text = payload.decode("ascii", errors="replace")
        if text not in STATE_PAYLOADS:
            raise MessageError(f"state payload must be one of {STATE_PAYLOADS}, got {text[:40]!r}")
        return text
    message = parse_json(payload)
    validate(kind, message)
    if "site" not in message:  # a search request names its cameras instead
        if {"site": expected_site, "camera": expected_camera} not in message.get("cameras", []):
            raise MessageError(f"{kind} does not name {expected_site}/{expected_camera}, "
                               "under whose topic it was published")
    elif (message["site"], message["camera"]) != (expected_site, expected_camera):
        raise MessageError(
            f"payload names {message['site']}/{message['camera']} but was published under "
            f"{expected_site}/{expected_camera}"
        )
    return message


def encode(message: Any) -> bytes:
    """Serialise a message the one way the box sends it (compact, UTF-8).

    Raises MessageError for a non-finite number (``NaN`` is not JSON; the hub refuses it)."""
    if isinstance(message, str):
        return message.encode("ascii")
    try:
        text = json.dumps(message, separators=(",", ":"), ensure_ascii=False, allow_nan=False)
    except ValueError as exc:
        raise MessageError(f"cannot encode: {exc}") from None
    return text.encode("utf-8")


def wire_measure(measure: dict[str, float]) -> dict[str, float]:
    """An event's measure as the schema takes it: finite values only, within ±MAX_NUMBER.

    A rule that divides by zero must not cost the event: its non-finite values are left out."""
    out: dict[str, float] = {}
    for name, value in measure.items():
        if math.isfinite(value):
            out[name] = max(-MAX_NUMBER, min(MAX_NUMBER, value))
        else:
            log.warning("measure %s=%s is not finite; left out of the event", name[:32], value)
    return out


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


@dataclass(frozen=True)
class ObjectRef:
    """One object in an event: label, score and normalised ``[x, y, w, h]`` box."""

    label: str
    score: float
    bbox: tuple[float, float, float, float]


@dataclass(frozen=True)
class EventMessage:
    """An event message of schema ``vigie.event/1`` without its ledger ``seq``.

    ``seq`` is given by egress when the message is ledgered, just before it is sent.
    """

    id: str
    site: str
    camera: str
    type: str
    state: Literal["start", "end"]
    severity: Severity
    started_at: str
    ended_at: str | None
    zone: str | None
    objects: tuple[ObjectRef, ...]
    measure: dict[str, float]
    model_name: str
    model_sha256: str
    clip_status: str = "none"
    clip_sha256: str | None = None
    clip_reason: str | None = None
    """Why the clip failed (``failed`` only); not on the wire when None."""

    def __post_init__(self) -> None:
        object.__setattr__(self, "measure", wire_measure(self.measure))

    def to_wire(self, seq: int) -> dict[str, Any]:
        """The JSON object that goes on the wire with ledger sequence number ``seq``."""
        return {
            "schema": EVENT_SCHEMA_ID,
            "id": self.id,
            "site": self.site,
            "camera": self.camera,
            "type": self.type,
            "state": self.state,
            "severity": self.severity,
            "started_at": self.started_at,
            "ended_at": self.ended_at,
            "zone": self.zone,
            "objects": [
                {"label": o.label, "score": round(o.score, 3), "bbox": [round(v, 4) for v in o.bbox]}
                for o in self.objects
            ],
            "measure": dict(self.measure),
            "model": {"name": self.model_name, "sha256": self.model_sha256},
            "clip": self._clip(),
            "seq": seq,
        }

    def _clip(self) -> dict[str, Any]:
        clip: dict[str, Any] = {"status": self.clip_status, "sha256": self.clip_sha256}
        if self.clip_reason is not None:
            clip["reason"] = self.clip_reason[:200]
        return clip

    def to_json(self) -> dict[str, Any]:
        """A plain-JSON form for the outbox (round-trips through :meth:`from_json`)."""
        d = asdict(self)
        d["objects"] = [asdict(o) for o in self.objects]
        return d

    @classmethod
    def from_json(cls, d: dict[str, Any]) -> EventMessage:
        d = dict(d)
        d["objects"] = tuple(
            ObjectRef(o["label"], o["score"], tuple(o["bbox"]))
            for o in d["objects"]
        )
        return cls(**d)


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
jsonschema.Draft202012Validator.check_schema(STATS_SCHEMA)
SCHEMAS["stats"] = STATS_SCHEMA
_VALIDATORS["stats"] = jsonschema.Draft202012Validator(STATS_SCHEMA, format_checker=None)


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
for _kind, _schema in (("search/req", SEARCH_REQ_SCHEMA), ("search/resp", SEARCH_RESP_SCHEMA)):
    jsonschema.Draft202012Validator.check_schema(_schema)
    SCHEMAS[_kind] = _schema
    _VALIDATORS[_kind] = jsonschema.Draft202012Validator(_schema, format_checker=None)
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
jsonschema.Draft202012Validator.check_schema(LEDGER_SCHEMA)
SCHEMAS["ledger"] = LEDGER_SCHEMA
_VALIDATORS["ledger"] = jsonschema.Draft202012Validator(LEDGER_SCHEMA, format_checker=None)


def digest_signed_part(message: dict[str, Any]) -> dict[str, Any]:
    """What a digest's signature covers: the message without ``seq`` and ``signature``."""
    return {k: v for k, v in message.items() if k not in ("seq", "signature")}
