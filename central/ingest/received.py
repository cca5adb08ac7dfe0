"""What a hub consumer gets from the broker, before and after the contract accepts it.

:class:`Delivery` is one MQTT message as paho handed it over (queued by the network thread,
acknowledged after its batch is committed); :func:`receive` turns it into a :class:`Received`:
where it came from, its kind, its validated JSON object and its message dataclass.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from typing import Any, TypeVar

from edge.wire.messages import Message, MessageError, parse_topic, read

log = logging.getLogger(__name__)

M = TypeVar("M")


@dataclass(frozen=True)
class Delivery:
    """One MQTT message from the broker: topic, payload and what the broker said of it."""

    topic: str
    raw: bytes
    mid: int = 0
    qos: int = 0
    dup: bool = False
    """MQTT DUP: the broker delivers it again."""
    retained: bool = False
    """A retained copy, not a fresh publication."""


@dataclass(frozen=True)
class Received:
    """A delivered message the contract accepts, for the camera whose topic it came on."""

    delivery: Delivery
    site: str
    camera: str
    kind: str
    body: Any
    """The validated JSON object (``state``: the bare string), as the box sent it."""
    message: Message
    received_at: float
    """When the hub accepted it (Unix seconds): the clock its timestamps are checked against."""

    @property
    def raw(self) -> bytes:
        return self.delivery.raw

    def message_as(self, cls: type[M]) -> M:
        """The message, known to be a ``cls`` (the registry maps each kind to one dataclass)."""
        if not isinstance(self.message, cls):
            raise MessageError(f"a {self.kind} message is not a {cls.__name__}")
        return self.message

    @property
    def seq(self) -> int | None:
        """The box's egress-ledger number of the message (``state`` has none)."""
        return self.body.get("seq") if isinstance(self.body, dict) else None


def receive(delivery: Delivery, accepted: tuple[str, ...], what: str = "ingested",
            now: float | None = None) -> Received:
    """Decode a delivery of one of the ``accepted`` kinds; MessageError says why it is not
    (a topic of another kind: "topic suffix 'x' is not ``what``")."""
    where = parse_topic(delivery.topic)
    if where.suffix not in accepted:
        raise MessageError(f"topic suffix {where.suffix!r} is not {what}")
    body, message = read(where.suffix, delivery.raw, where.site, where.camera)
    return Received(delivery, where.site, where.camera, where.suffix, body, message,
                    time.time() if now is None else now)
