"""Event and state messages: what a box tells the hub about what it saw and whether it is up.

Every message dataclass of the contract has ``from_wire`` (the JSON object as received,
validated against its schema) and ``to_wire`` (the JSON object that goes out); a box message's
``seq`` is not part of the dataclass: egress gives it when the message is ledgered, just
before it is sent, and the hub reads it with the message (:class:`edge.wire.registry.Kind`).
"""

from __future__ import annotations

import enum
import logging
import math
from dataclasses import asdict, dataclass
from typing import Any, ClassVar, Literal

from edge.wire.jsonio import MessageError
from edge.wire.schemas import (
    EVENT_SCHEMA,
    EVENT_SCHEMA_ID,
    MAX_NUMBER,
    STATE_PAYLOADS,
    Severity,
)
from edge.wire.validation import check

log = logging.getLogger(__name__)


class Absent(enum.Enum):
    """The value of an optional field that is not on the wire (distinct from JSON ``null``)."""

    ABSENT = "absent"


ABSENT = Absent.ABSENT


def present(out: dict[str, Any], **fields: Any) -> dict[str, Any]:
    """``out`` with each of ``fields`` that is not :data:`ABSENT` added, in order."""
    out.update({k: v for k, v in fields.items() if v is not ABSENT})
    return out


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


@dataclass(frozen=True)
class ObjectRef:
    """One object in an event: label, score and normalised ``[x, y, w, h]`` box."""

    label: str
    score: float
    bbox: tuple[float, float, float, float]

    @classmethod
    def measured(cls, label: str, score: float, bbox: tuple[float, ...]) -> ObjectRef:
        """An object as a box measured it, rounded the way it is sent (score to 3 decimals,
        box to 4)."""
        x, y, w, h = (round(v, 4) for v in bbox)
        return cls(label, round(score, 3), (x, y, w, h))

    def to_wire(self) -> dict[str, Any]:
        return {"label": self.label, "score": self.score, "bbox": list(self.bbox)}


@dataclass(frozen=True)
class EventMessage:
    """An event message of schema ``vigie.event/1`` without its ledger ``seq``."""

    KIND: ClassVar[str] = "event"
    SCHEMA: ClassVar[dict[str, Any]] = EVENT_SCHEMA

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
            "objects": [o.to_wire() for o in self.objects],
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

    @classmethod
    def from_wire(cls, d: dict[str, Any]) -> EventMessage:
        """The event of a received JSON object; MessageError when it is not a valid one."""
        check(cls.SCHEMA, d)
        return cls.from_valid(d)

    @classmethod
    def from_valid(cls, d: dict[str, Any]) -> EventMessage:
        """The message of a JSON object already valid against its schema."""
        return cls(
            id=d["id"], site=d["site"], camera=d["camera"], type=d["type"], state=d["state"],
            severity=d["severity"], started_at=d["started_at"], ended_at=d["ended_at"],
            zone=d["zone"],
            objects=tuple(ObjectRef(o["label"], o["score"], tuple(o["bbox"]))
                          for o in d["objects"]),
            measure=dict(d["measure"]), model_name=d["model"]["name"],
            model_sha256=d["model"]["sha256"], clip_status=d["clip"]["status"],
            clip_sha256=d["clip"]["sha256"], clip_reason=d["clip"].get("reason"),
        )

    def to_json(self) -> dict[str, Any]:
        """A plain-JSON form for the outbox (round-trips through :meth:`from_json`)."""
        d = asdict(self)
        d["objects"] = [asdict(o) for o in self.objects]
        return d

    @classmethod
    def from_json(cls, d: dict[str, Any]) -> EventMessage:
        """The event of an outbox row written by :meth:`to_json` (objects rounded as sent)."""
        d = dict(d)
        d["objects"] = tuple(ObjectRef.measured(o["label"], o["score"], tuple(o["bbox"]))
                             for o in d["objects"])
        return cls(**d)


@dataclass(frozen=True)
class StateMessage:
    """A box's retained ``state``: the bare payload ``online`` or ``offline`` (the last will)."""

    KIND: ClassVar[str] = "state"

    site: str
    camera: str
    state: Literal["online", "offline"]

    def to_wire(self) -> str:
        return self.state

    @classmethod
    def from_wire(cls, text: str, site: str, camera: str) -> StateMessage:
        """The state of a received payload under ``site/camera``'s topic."""
        if text not in STATE_PAYLOADS:
            raise MessageError(f"state payload must be one of {STATE_PAYLOADS}, got {text[:40]!r}")
        return cls(site, camera, "online" if text == "online" else "offline")
