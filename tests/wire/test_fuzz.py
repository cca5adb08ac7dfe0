"""Property-based fuzzing of every message parser: ``decode`` for each kind, ``parse_topic``
and the hub's ``Ingest.handle`` on a real SQLite file. Arbitrary bytes and schema-shaped but
wrong JSON must end in a clean rejection (MessageError / ``rejected``), never another
exception, and nothing invalid may be stored."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from central.config import HubConfig
from central.ingest.subscriber import Ingest
from edge.wire.messages import (
    SCHEMAS,
    MessageError,
    ParsedTopic,
    decode,
    encode,
    parse_topic,
    topic,
    validate,
)
from tests.kits.samples import CAMERA, SITE, sample_event, sample_health, sample_stats

FUZZ = settings(max_examples=150, deadline=None, derandomize=True,
                suppress_health_check=[HealthCheck.function_scoped_fixture,
                                       HealthCheck.too_slow])


SAMPLES = {"event": sample_event, "health": sample_health, "stats": sample_stats}

json_values = st.recursive(
    st.none() | st.booleans() | st.integers(-2**70, 2**70)
    | st.floats(allow_nan=True, allow_infinity=True) | st.text(max_size=40),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=12), inner,
                                                                max_size=4),
    max_leaves=12,
)


@st.composite
def mutated(draw: st.DrawFn, kind: str) -> tuple[dict[str, Any], bool]:
    """A valid message of ``kind`` with 1-3 mutations; True when it is surely invalid."""
    msg: dict[str, Any] = json.loads(json.dumps(SAMPLES[kind]()))
    schema = SCHEMAS[kind]
    for _ in range(draw(st.integers(1, 3))):
        op = draw(st.sampled_from(["delete", "replace", "add", "nested"]))
        keys = sorted(msg)
        if op == "delete" and keys:
            del msg[draw(st.sampled_from(keys))]
        elif op == "replace" and keys:
            msg[draw(st.sampled_from(keys))] = draw(json_values)
        elif op == "add":
            key = draw(st.text(min_size=1, max_size=12))
            if key not in msg:
                msg[key] = draw(json_values)
        else:
            containers = [k for k, v in msg.items() if isinstance(v, (dict, list)) and v]
            if containers:
                key = draw(st.sampled_from(sorted(containers)))
                inner = msg[key][0] if isinstance(msg[key], list) else msg[key]
                if isinstance(inner, dict) and inner:
                    inner[draw(st.sampled_from(sorted(inner)))] = draw(json_values)
    # surely invalid: a required field is missing or an unknown one is present (every schema
    # forbids additional properties)
    surely_bad = bool(set(schema["required"]) - set(msg) or set(msg) - set(schema["properties"]))
    return msg, surely_bad


def encode_loose(msg: Any) -> bytes:
    """Like the box's encoder but tolerant of NaN/Infinity (which a hostile sender can send)."""
    return json.dumps(msg, separators=(",", ":")).encode()


@pytest.mark.parametrize("kind", ["event", "health", "state", "stats"])
@FUZZ
@given(payload=st.binary(max_size=300))
def test_decode_arbitrary_bytes_is_clean(kind: str, payload: bytes) -> None:
    try:
        out = decode(kind, payload, SITE, CAMERA)
    except MessageError as exc:
        assert str(exc)
        return
    if kind == "state":
        assert out in ("online", "offline")
    else:  # bytes that happen to be a valid message are fine, but must validate
        validate(kind, out)


@pytest.mark.parametrize("kind", ["event", "health", "stats"])
@FUZZ
@given(data=st.data())
def test_decode_wrong_json_is_clean(kind: str, data: st.DataObject) -> None:
    msg, surely_bad = data.draw(mutated(kind))
    try:
        out = decode(kind, encode_loose(msg), SITE, CAMERA)
    except MessageError as exc:
        assert str(exc)
        return
    assert not surely_bad, f"accepted an invalid {kind}: {msg}"
    validate(kind, out)
    json.dumps(out, allow_nan=False)  # nothing accepted carries NaN/Infinity


@pytest.mark.parametrize("kind", ["event", "health", "stats"])
def test_samples_are_valid(kind: str) -> None:  # the fuzzers start from valid messages
    msg = SAMPLES[kind]()
    assert decode(kind, encode(msg), SITE, CAMERA) == msg


@FUZZ
@given(name=st.text(max_size=80) | st.builds(
    lambda a, b, c: f"vigie/v1/{a}/{b}/{c}", st.text(max_size=20), st.text(max_size=20),
    st.text(max_size=20)))
def test_parse_topic_is_clean(name: str) -> None:
    try:
        where = parse_topic(name)
    except MessageError as exc:
        assert str(exc)
        return
    assert isinstance(where, ParsedTopic)
    assert topic(where.site, where.camera, where.suffix) == name


TOPICS = [topic(SITE, CAMERA, s) for s in ("event", "health", "state", "stats")]


@st.composite
def hub_messages(draw: st.DrawFn) -> tuple[str, bytes]:
    name = draw(st.sampled_from(TOPICS) | st.text(max_size=60))
    suffix = name.rsplit("/", 1)[-1]
    choice = draw(st.integers(0, 2))
    if choice == 0 or suffix not in SAMPLES:
        return name, draw(st.binary(max_size=200) | st.sampled_from([b"online", b"offline"]))
    if choice == 1:
        return name, encode_loose(SAMPLES[suffix]())
    return name, encode_loose(draw(mutated(suffix))[0])


def test_ingest_rejects_cleanly_and_stores_only_valid(tmp_path: Path) -> None:
    """Fuzz one real hub database, then check every stored row is a valid message."""
    hub = Ingest(HubConfig(database=tmp_path / "hub.sqlite"))

    @settings(FUZZ, max_examples=400)
    @given(batch=st.lists(hub_messages(), min_size=1, max_size=5))
    def fuzz(batch: list[tuple[str, bytes]]) -> None:
        for name, payload in batch:
            assert hub.handle(name, payload) in ("stored", "duplicate", "rejected")

    fuzz()
    check_stored(hub)


def check_stored(hub: Ingest) -> None:
    assert sum(hub.counts.values()) > 1000
    assert hub.counts["stored"] > 0 and hub.counts["rejected"] > 0
    events = list(hub.db.query("SELECT payload FROM events"))
    for row in events:
        validate("event", json.loads(row["payload"]))
        json.loads(row["payload"], parse_constant=lambda c: pytest.fail(f"stored {c}"))
    for row in hub.db.query("SELECT * FROM stats"):
        validate("stats", {"schema": "vigie.stats/1", "site": row["site"], "camera": row["camera"],
                           "interval_start": row["interval_start"],
                           "interval_end": row["interval_end"], "lines": json.loads(row["lines"]),
                           "zones": json.loads(row["zones"]), "seq": row["seq"]})
    for row in hub.db.query("SELECT * FROM cameras"):
        assert (row["site"], row["camera"]) == (SITE, CAMERA)
        if row.get("health"):
            validate("health", json.loads(row["health"]))
        if row.get("state") is not None:
            assert row["state"] in ("online", "offline")
    rejected = list(hub.db.query("SELECT reason FROM quarantine"))
    assert len(rejected) == hub.counts["rejected"] and all(r["reason"] for r in rejected)


@pytest.mark.parametrize("kind", ["event", "health", "stats"])
@FUZZ
@given(data=st.data())
def test_fast_validator_agrees_with_jsonschema(kind: str, data: st.DataObject) -> None:
    """``validate`` accepts on the compiled (fastjsonschema) check alone; it must accept exactly
    what the reference jsonschema validator accepts."""
    import jsonschema

    from edge.wire.messages import SCHEMAS, _fast

    msg, _ = data.draw(mutated(kind))
    fast = _fast(kind)
    assert fast is not None
    try:
        fast(msg)
        fast_ok = True
    except Exception:
        fast_ok = False
    assert fast_ok == jsonschema.Draft202012Validator(SCHEMAS[kind]).is_valid(msg), msg
