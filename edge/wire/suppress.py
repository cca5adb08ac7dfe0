"""False-alarm suppressions on the wire: the hub's signed, retained set for one camera.

``vigie.suppress/1`` (hub -> box, topic ``vigie/v1/<site>/<camera>/suppress``, QoS 1, retained)
carries the camera's **whole current set** of suppressions, so the retained copy the broker keeps
is always the truth: a box that was offline gets it on subscribing, a revoked or expired entry
disappears from the next set. Signed like a search request (Ed25519, the hub's key, over the
canonical JSON without ``signature``, ``cameras`` naming the one camera); ``version`` only grows
(the hub's issue time in ms), so a box refuses an older set replayed after a newer one.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar

from edge.wire.schemas import _NAME, _TIMESTAMP, _UUID, EVENT_TYPES, MAX_SAFE_INT
from edge.wire.validation import Signed

SUPPRESS_SCHEMA_ID = "vigie.suppress/1"
MAX_SUPPRESSIONS = 200
"""Most suppressions one camera may carry (a set of 200 is about 40 KiB, under the 64 KiB cap)."""

DETECTOR_RULES = ("intrusion", "wrong_way", "person_down", "abandoned_object", "weapon",
                  "crowd_density", "crowd_movement")
"""The event types raised from detected objects: a box can re-check them on their frame, and a
false alarm of one of them can become a suppression (the others have no objects' region)."""

_COORD = {"type": "number", "minimum": 0.0, "maximum": 1.0}

SUPPRESS_SCHEMA: dict[str, Any] = {
    "$schema": "https://json-schema.org/draft/2020-12/schema",
    "$id": SUPPRESS_SCHEMA_ID,
    "description": "the hub's signed set of false-alarm suppressions for one camera",
    "type": "object",
    "additionalProperties": False,
    "required": ["schema", "version", "issued_at", "expires_at", "cameras", "suppressions"],
    "properties": {
        "schema": {"const": SUPPRESS_SCHEMA_ID},
        "version": {"type": "integer", "minimum": 1, "maximum": MAX_SAFE_INT},
        "issued_at": _TIMESTAMP,
        "expires_at": _TIMESTAMP,
        "cameras": {
            "type": "array", "minItems": 1, "maxItems": 1,
            "items": {"type": "object", "additionalProperties": False,
                      "required": ["site", "camera"], "properties": {"site": _NAME, "camera": _NAME}},
        },
        "suppressions": {
            "type": "array", "maxItems": MAX_SUPPRESSIONS,
            "items": {
                "type": "object", "additionalProperties": False,
                "required": ["id", "rule", "zone", "region", "expires_at"],
                "properties": {
                    "id": _UUID,
                    "rule": {"enum": list(EVENT_TYPES)},
                    "zone": {"anyOf": [_NAME, {"type": "null"}]},
                    "region": {"type": "array", "minItems": 4, "maxItems": 4, "items": _COORD},
                    "expires_at": _TIMESTAMP,
                },
            },
        },
        "signature": {"type": "string", "minLength": 1, "maxLength": 200},
    },
}


@dataclass(frozen=True)
class Suppression:
    """One suppression: events of ``rule`` (in ``zone``, None: any) whose objects' foot
    points fall in ``region`` (normalised ``[x, y, w, h]``) are not raised until expiry."""

    id: str
    rule: str
    zone: str | None
    region: tuple[float, float, float, float]
    expires_at: str

    def to_wire(self) -> dict[str, Any]:
        return {"id": self.id, "rule": self.rule, "zone": self.zone,
                "region": list(self.region), "expires_at": self.expires_at}

    @classmethod
    def from_wire(cls, d: dict[str, Any]) -> Suppression:
        r = d["region"]
        return cls(d["id"], d["rule"], d["zone"], (r[0], r[1], r[2], r[3]), d["expires_at"])


@dataclass(frozen=True)
class SuppressionSet(Signed):
    """The current suppressions of one camera, as the hub signs and retains them."""

    KIND: ClassVar[str] = "suppress"
    SCHEMA: ClassVar[dict[str, Any]] = SUPPRESS_SCHEMA

    version: int
    issued_at: str
    expires_at: str
    """After this the set is stale (a box refuses it); the latest entry's expiry, or the issue
    time plus the hub's suppression lifetime when the set is empty."""
    site: str
    camera: str
    suppressions: tuple[Suppression, ...]
    signature: str | None = None

    def unsigned(self) -> dict[str, Any]:
        """The set without its signature: what the hub signs and the box verifies."""
        return {"schema": SUPPRESS_SCHEMA_ID, "version": self.version,
                "issued_at": self.issued_at, "expires_at": self.expires_at,
                "cameras": [{"site": self.site, "camera": self.camera}],
                "suppressions": [s.to_wire() for s in self.suppressions]}

    @classmethod
    def from_valid(cls, d: dict[str, Any]) -> SuppressionSet:
        cam = d["cameras"][0]
        return cls(d["version"], d["issued_at"], d["expires_at"], cam["site"], cam["camera"],
                   tuple(Suppression.from_wire(s) for s in d["suppressions"]),
                   d.get("signature"))
