"""Checking a JSON value against one schema of the contract, with errors a person can read.

A compiled fastjsonschema validator answers valid/invalid about ten times faster than
jsonschema; the wording of a rejection still comes from jsonschema (every violation, by path).
Both are built once per schema (by ``$id``) on first use.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any, ClassVar, Self

import fastjsonschema
import jsonschema

from edge.wire.jsonio import MessageError

log = logging.getLogger(__name__)

_CHECKERS: dict[str, jsonschema.Draft202012Validator] = {}
_FAST: dict[str, Callable[[Any], Any]] = {}


def checked_schema(schema: dict[str, Any]) -> dict[str, Any]:
    """``schema`` itself, once it is known to be a valid draft 2020-12 schema."""
    jsonschema.Draft202012Validator.check_schema(schema)
    return schema


def fast_validator(schema: dict[str, Any]) -> Callable[[Any], Any]:
    """The compiled validator of ``schema`` (draft-07 keywords only: the schemas use nothing
    newer)."""
    key = schema["$id"]
    if key not in _FAST:
        _FAST[key] = fastjsonschema.compile(
            {**schema, "$schema": "http://json-schema.org/draft-07/schema#"})
    return _FAST[key]


def check(schema: dict[str, Any], message: Any) -> None:
    """Raise MessageError listing every violation of ``schema`` by ``message`` (at most five)."""
    try:
        fast_validator(schema)(message)
        return
    except fastjsonschema.JsonSchemaException as exc:
        fast_error = str(exc)
    key = schema["$id"]
    if key not in _CHECKERS:
        _CHECKERS[key] = jsonschema.Draft202012Validator(schema, format_checker=None)
    errors = sorted(_CHECKERS[key].iter_errors(message), key=lambda e: list(e.absolute_path))
    if not errors:
        raise MessageError(fast_error)
    parts = []
    for err in errors[:5]:
        where = "/".join(str(p) for p in err.absolute_path) or "(root)"
        parts.append(f"{where}: {err.message[:200]}")
    more = f" (+{len(errors) - 5} more)" if len(errors) > 5 else ""
    raise MessageError("; ".join(parts) + more)


class Signed:
    """A hub-signed message (a dataclass with ``SCHEMA``, ``signature``, :meth:`unsigned` and
    ``from_valid``): the wire form is the unsigned body plus the signature, when there is one."""

    SCHEMA: ClassVar[dict[str, Any]]
    signature: str | None

    def unsigned(self) -> dict[str, Any]:
        raise NotImplementedError

    def to_wire(self) -> dict[str, Any]:
        out = self.unsigned()
        if self.signature is not None:
            out["signature"] = self.signature
        return out

    @classmethod
    def from_valid(cls, d: dict[str, Any]) -> Self:
        raise NotImplementedError

    @classmethod
    def from_wire(cls, d: dict[str, Any]) -> Self:
        """The message of a received JSON object; MessageError when it is not a valid one."""
        check(cls.SCHEMA, d)
        return cls.from_valid(d)
