"""The wire contract is total: extreme values in every field of every message kind.

For each schema in ``SCHEMAS`` a valid example (completed from the schema, so a new field is
covered without touching this file) has every field path replaced, one at a time and then in
hypothesis-drawn combinations, by extreme JSON text: ``NaN``, ``Infinity``, ``1e400``, 2^63,
2^64, -2^63-1, 10^30, huge strings, deep nesting, lone surrogates and wrong types. The text goes
to ``decode`` as raw bytes, as a hostile box would send it. ``decode`` must refuse it with
MessageError or return a message that any consumer can store and serve: finite numbers,
integers within the schema's bound (far inside SQLite's 64 bits), strict JSON, UTF-8.
"""

from __future__ import annotations

import copy
import json
import math
from collections.abc import Iterator
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from edge.wire.messages import (
    MAX_NUMBER,
    MAX_PAYLOAD_BYTES,
    MAX_SAFE_INT,
    SCHEMAS,
    MessageError,
    decode,
    encode,
    parse_json,
    validate,
)
from tests.kits.samples import CAMERA, SITE, example

SQLITE_MIN, SQLITE_MAX = -(2**63), 2**63 - 1
Path = tuple[str | int, ...]

EXTREMES: tuple[str, ...] = (
    # non-finite and out-of-range numbers, as text
    "NaN", "-NaN", "Infinity", "-Infinity", "1e400", "-1e400", "1e309", "1E999999999",
    str(2**63), str(2**64), str(-(2**63) - 1), str(10**30), "1" * 5000, "-" + "9" * 19,
    str(MAX_SAFE_INT + 1), str(-MAX_SAFE_INT - 1), "9.3e18", "1e30", "-1e30", "1e13", "-1",
    "1e-400", "-0", "0.5", "1.0", "0",
    # wrong types
    "null", "true", "false", '"x"', '""', "[]", "{}", "[1]", '{"a":1}', "[[]]", '{"a":{}}',
    # huge and hostile strings
    '"' + "a" * 10_000 + '"', '"' + "a" * 70_000 + '"', '"\\ud800"', '"x\\udfff"',
    '"\\u0000"', '"\\ud83d\\ude00"', '"cam-042\\n"',
    # nesting just over the bound, and far over it
    "[" * 17 + "]" * 17, "[" * 5000 + "]" * 5000, '{"a":' * 3000 + "1" + "}" * 3000,
    "[" * 50_000,
)
"""Raw JSON text put in place of a field."""

FUZZ = settings(max_examples=200, deadline=None, derandomize=True,
                suppress_health_check=[HealthCheck.too_slow])


KINDS = sorted(SCHEMAS)


# -- field paths -------------------------------------------------------------------------------
def paths(value: Any, here: Path = ()) -> Iterator[Path]:
    """Every node of a JSON value, the root first."""
    yield here
    if isinstance(value, dict):
        for key, item in value.items():
            yield from paths(item, (*here, key))
    elif isinstance(value, list):
        for i, item in enumerate(value):
            yield from paths(item, (*here, i))


def schema_paths(schema: dict[str, Any], here: tuple[str, ...] = ()) -> Iterator[tuple[str, ...]]:
    """Every property path a schema names; ``*`` for any array index or map key."""
    for key, sub in schema.get("properties", {}).items():
        yield (*here, key)
        yield from schema_paths(sub, (*here, key))
    for sub in [*schema.get("patternProperties", {}).values(), schema.get("additionalProperties")]:
        if isinstance(sub, dict):
            yield (*here, "*")
            yield from schema_paths(sub, (*here, "*"))
    if isinstance(schema.get("items"), dict):
        yield from schema_paths(schema["items"], (*here, "*"))
    for branch in schema.get("anyOf", []):
        yield from schema_paths(branch, here)


def matches(pattern: tuple[str, ...], path: Path) -> bool:
    return len(pattern) == len(path) and all(p in ("*", q) for p, q in zip(pattern, path, strict=True))


def at(value: Any, path: Path) -> Any:
    for step in path:
        value = value[step]
    return value


SENTINEL = "\x00extreme-{}\x00"


def with_text(message: Any, replacements: dict[Path, str]) -> bytes | None:
    """The JSON text of ``message`` with the node at each path replaced by raw text (None when
    a path no longer exists because an earlier replacement took its parent)."""
    if () in replacements:
        return replacements[()].encode()
    doc = copy.deepcopy(message)
    for i, path in enumerate(replacements):
        node = doc
        for step in path[:-1]:
            if not isinstance(node, (dict, list)) or (isinstance(node, dict) and step not in node):
                return None
            node = node[step]  # type: ignore[index]
        if isinstance(node, list) and path[-1] == len(node):
            node.append(None)  # one element more than the example has
        elif not isinstance(node, (dict, list)) or path[-1] not in (node if isinstance(node, dict)
                                                                  else range(len(node))):
            return None
        node[path[-1]] = SENTINEL.format(i)  # type: ignore[index]
    text = json.dumps(doc, separators=(",", ":"))
    for i, raw in enumerate(replacements.values()):
        text = text.replace(json.dumps(SENTINEL.format(i)), raw)
    return text.encode()


# -- the property --------------------------------------------------------------------------------
def numbers(value: Any) -> Iterator[int | float]:
    if isinstance(value, bool) or value is None or isinstance(value, str):
        return
    if isinstance(value, (int, float)):
        yield value
    elif isinstance(value, dict):
        for item in value.values():
            yield from numbers(item)
    elif isinstance(value, list):
        for item in value:
            yield from numbers(item)


def check_total(kind: str, payload: bytes) -> str | None:
    """None when decode handles ``payload`` as the contract says; else what went wrong."""
    try:
        msg = decode(kind, payload, SITE, CAMERA)
    except MessageError as exc:
        return None if str(exc) else "MessageError without a reason"
    except Exception as exc:  # the bug this file hunts
        return f"{type(exc).__name__}: {str(exc)[:200]}"
    for n in numbers(msg):
        if isinstance(n, float) and not math.isfinite(n):
            return f"accepted non-finite {n}"
        if isinstance(n, int) and not SQLITE_MIN <= n <= SQLITE_MAX:
            return f"accepted {n}, beyond SQLite's 64-bit integers"
        if abs(n) > max(MAX_SAFE_INT, MAX_NUMBER):
            return f"accepted {n}, beyond every schema bound"
    try:
        json.dumps(msg, allow_nan=False)
        again = encode(msg)  # strict JSON, UTF-8: what the hub stores and serves
    except (ValueError, MessageError) as exc:
        return f"accepted a message that cannot be written back: {exc}"
    if decode(kind, again, SITE, CAMERA) != msg:
        return "accepted a message that does not round-trip"
    return None


def test_every_schema_field_is_in_its_example() -> None:
    """A new field is fuzzed without touching this file: the example is completed from the
    schema. A field that cannot be synthesised (a string pattern) must be added to the sample."""
    for kind in KINDS:
        msg = example(kind)
        validate(kind, msg)
        assert decode(kind, encode(msg), SITE, CAMERA) == msg
        have = list(paths(msg))
        missing = [p for p in schema_paths(SCHEMAS[kind]) if not any(matches(p, q) for q in have)]
        assert not missing, f"{kind}: the example lacks {missing}"


@pytest.mark.parametrize("kind", KINDS)
def test_every_extreme_in_every_field(kind: str) -> None:
    """Exhaustive: every (field path, extreme) pair, and an appended element in every array."""
    msg = example(kind)
    failures = []
    pairs = 0
    lists = [(*p, len(node)) for p in paths(msg) if isinstance(node := at(msg, p), list)]
    for path in [*paths(msg), *lists]:
        for raw in EXTREMES:
            payload = with_text(msg, {path: raw})
            assert payload is not None
            pairs += 1
            if (why := check_total(kind, payload)) is not None:
                failures.append(f"{'/'.join(map(str, path)) or '(root)'} = {raw[:30]}: {why}")
    assert pairs >= 20 * len(EXTREMES)  # every kind has at least 20 field paths
    assert not failures, f"{len(failures)} of {pairs} cases:\n" + "\n".join(failures[:30])


@pytest.mark.parametrize("kind", KINDS)
@FUZZ
@given(data=st.data())
def test_extremes_in_combination(kind: str, data: st.DataObject) -> None:
    msg = example(kind)
    field = st.sampled_from(list(paths(msg))[1:])
    value = st.sampled_from(EXTREMES) | st.builds(
        lambda v: json.dumps(v, allow_nan=True),
        st.integers(-(2**70), 2**70) | st.floats() | st.text(max_size=50) | st.booleans())
    chosen = data.draw(st.dictionaries(field, value, min_size=1, max_size=4))
    payload = with_text(msg, chosen)
    if payload is not None:
        assert check_total(kind, payload) is None, payload[:300]


# -- the schemas bound every value ---------------------------------------------------------------
def unbounded(schema: dict[str, Any], where: str, refine: bool = False) -> Iterator[str]:
    """Every place in a schema where a value of unbounded size or magnitude is accepted."""
    kind = schema.get("type")
    if kind is None and not refine and not {"const", "enum", "anyOf"} & set(schema):
        yield f"{where}: no type"
    if kind == "integer":
        lo, hi = schema.get("minimum"), schema.get("maximum")
        if lo is None or hi is None or max(abs(lo), abs(hi)) > MAX_SAFE_INT:
            yield f"{where}: integer bound {lo}..{hi}"
    if kind == "number":
        lo, hi = schema.get("minimum"), schema.get("maximum")
        if lo is None or hi is None or max(abs(lo), abs(hi)) > MAX_NUMBER:
            yield f"{where}: number bound {lo}..{hi}"
    if kind == "string" and "maxLength" not in schema:
        yield f"{where}: string without maxLength"
    if kind == "array" and "maxItems" not in schema:
        yield f"{where}: array without maxItems"
    if kind == "object" and "maxProperties" not in schema and (
            schema.get("additionalProperties") is not False or "patternProperties" in schema):
        yield f"{where}: object without maxProperties"
    for key, sub in schema.get("properties", {}).items():
        yield from unbounded(sub, f"{where}/{key}", refine)
    for key, sub in schema.get("patternProperties", {}).items():
        yield from unbounded(sub, f"{where}/{key}", refine)
    if isinstance(schema.get("additionalProperties"), dict):
        yield from unbounded(schema["additionalProperties"], f"{where}/*", refine)
    if isinstance(schema.get("items"), dict):
        yield from unbounded(schema["items"], f"{where}/*", refine)
    for branch in schema.get("anyOf", []):
        yield from unbounded(branch, where, refine)
    if isinstance(schema.get("then"), dict):
        yield from unbounded(schema["then"], f"{where}(then)", True)


@pytest.mark.parametrize("kind", KINDS)
def test_schema_bounds_every_value(kind: str) -> None:
    assert list(unbounded(SCHEMAS[kind], kind)) == []


def test_old_holes_are_closed() -> None:
    """What the schemas accepted before they bounded every value."""
    for kind, path, raw in [("event", ("seq",), str(2**63)), ("event", ("measure", "count"), "1e300"),
                            ("health", ("uptime_s",), "1e300"), ("stats", ("seq",), str(2**64 - 1)),
                            ("ledger", ("entries", 0, "bytes"), str(2**63 - 1)),
                            ("health", ("audio", "legal_basis"), '"\\ud800"')]:
        payload = with_text(example(kind), {path: raw})
        assert payload is not None
        with pytest.raises(MessageError):
            decode(kind, payload, SITE, CAMERA)


@pytest.mark.parametrize("text", ['"' + '\\"' * 32_000, "[" * 32_000 + "]" * 32_000,
                                  "[]" * 32_000, '"' * 65_000, "[" * 17 + "[]" * 32_000 + "]" * 17,
                                  "[{" * 16_000 + "}]" * 16_000, "[" * 65_000])
def test_parse_json_is_linear_on_hostile_text(text: str) -> None:
    """A 64 KiB payload built to make a regex scanner backtrack is refused in well under a
    second (the quote-and-escape string took 31 s of CPU with the first depth scanner)."""
    import time

    assert len(text) <= MAX_PAYLOAD_BYTES
    t0 = time.process_time()
    with pytest.raises(MessageError):
        parse_json(text)
    assert time.process_time() - t0 < 0.5
