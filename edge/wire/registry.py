"""The one registry of the wire contract: every kind of message, its schema, its dataclass, its
topic suffix, its QoS and who sends it; and the functions that read a message off a topic.

Everything else derives from :data:`KINDS`: the schemas the hub validates against
(:data:`SCHEMAS`), what a box may publish and subscribe to (:mod:`edge.outbound.egress`), what
the broker ACL grants.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Literal

from edge.wire.events import EventMessage, StateMessage
from edge.wire.jsonio import MAX_PAYLOAD_BYTES, MessageError, parse_json
from edge.wire.reports import HealthMessage, LedgerDigest, StatsMessage
from edge.wire.schemas import NAME_PATTERN, TOPIC_ROOT
from edge.wire.search import SearchAnswer, SearchRequest
from edge.wire.suppress import SuppressionSet
from edge.wire.validation import check, checked_schema, fast_validator

log = logging.getLogger(__name__)

Message = (EventMessage | StateMessage | HealthMessage | StatsMessage | LedgerDigest
           | SearchAnswer | SearchRequest | SuppressionSet)
"""Any message of the contract, as a dataclass."""


@dataclass(frozen=True)
class Kind:
    """One kind of message: its name (also its topic suffix), dataclass, QoS and sender."""

    name: str
    message: type[Message]
    qos: Literal[0, 1]
    sender: Literal["box", "hub"]
    reserved: bool = False
    """A box may use the egress ledger's space reserve for it on a full disk (it is what
    tells the hub that the disk is full)."""

    @property
    def suffix(self) -> str:
        return self.name

    @property
    def schema(self) -> dict[str, Any] | None:
        """The JSON Schema of its payload (None: ``state`` is a bare string)."""
        return getattr(self.message, "SCHEMA", None)


KINDS: tuple[Kind, ...] = (
    Kind("event", EventMessage, qos=1, sender="box"),
    Kind("health", HealthMessage, qos=0, sender="box", reserved=True),
    Kind("state", StateMessage, qos=1, sender="box", reserved=True),
    Kind("stats", StatsMessage, qos=1, sender="box"),
    Kind("ledger", LedgerDigest, qos=1, sender="box"),
    Kind("search/resp", SearchAnswer, qos=1, sender="box"),
    Kind("search/req", SearchRequest, qos=1, sender="hub"),
    # -- false-alarm suppressions (hub -> box, signed, retained: the camera's whole set) --
    Kind("suppress", SuppressionSet, qos=1, sender="hub"),
    # -- end of false-alarm suppressions --
)
BY_NAME = {k.name: k for k in KINDS}
SCHEMAS: dict[str, dict[str, Any]] = {
    k.name: checked_schema(k.schema) for k in KINDS if k.schema is not None}
"""Kind -> JSON Schema, for every kind whose payload is a JSON object."""
assert all(k.name == k.message.KIND for k in KINDS), "a dataclass names another kind"


def kind(name: str) -> Kind:
    """The registered kind ``name``; MessageError when there is none."""
    found = BY_NAME.get(name)
    if found is None:
        raise MessageError(f"no message kind {name!r} in the contract")
    return found


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


def _fast(name: str) -> Callable[[Any], Any] | None:
    """The compiled validator of kind ``name`` (None when it has no JSON Schema)."""
    schema = SCHEMAS.get(name)
    return fast_validator(schema) if schema is not None else None


def validate(name: str, message: Any) -> None:
    """Raise MessageError listing every schema violation of ``message`` as a ``name``."""
    schema = SCHEMAS.get(name)
    if schema is None:
        raise MessageError(f"no schema for message kind {name!r}")
    check(schema, message)


def decode(name: str, payload: bytes, expected_site: str, expected_camera: str) -> Any:
    """Parse and validate a received payload of kind ``name`` for the camera its topic names:
    the JSON object (``state``: the bare string ``online``/``offline``).

    The object's ``site``/``camera`` (a search request: one of its ``cameras``) must match the
    topic (a search request or a suppression set: one of its ``cameras``); MessageError says
    why anything is refused."""
    if len(payload) > MAX_PAYLOAD_BYTES:
        raise MessageError(f"payload of {len(payload)} bytes exceeds {MAX_PAYLOAD_BYTES}")
    if name == "state":
        text = payload.decode("ascii", errors="replace")
        return StateMessage.from_wire(text, expected_site, expected_camera).to_wire()
    message = parse_json(payload)
    validate(name, message)
    if "site" not in message:  # a search request names its cameras instead
        if {"site": expected_site, "camera": expected_camera} not in message.get("cameras", []):
            raise MessageError(f"{name} does not name {expected_site}/{expected_camera}, "
                               "under whose topic it was published")
    elif (message["site"], message["camera"]) != (expected_site, expected_camera):
        raise MessageError(
            f"payload names {message['site']}/{message['camera']} but was published under "
            f"{expected_site}/{expected_camera}"
        )
    return message


def read(name: str, payload: bytes, expected_site: str, expected_camera: str) -> tuple[Any, Message]:
    """What :func:`decode` accepts, with its dataclass: ``(JSON object, message)``."""
    body = decode(name, payload, expected_site, expected_camera)
    if name == "state":
        return body, StateMessage.from_wire(body, expected_site, expected_camera)
    message: Message = kind(name).message.from_valid(body)  # type: ignore[union-attr]
    return body, message
