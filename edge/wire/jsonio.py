"""Total JSON for untrusted bytes: :func:`parse_json` (bounded size, depth and numbers) and
:func:`encode` (the one way a message is serialised)."""

from __future__ import annotations

import itertools
import json
import math
import re
from typing import Any

MAX_PAYLOAD_BYTES = 64 * 1024
"""No message of the contract is anywhere near this; a larger payload is refused unread."""


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
