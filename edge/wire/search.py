"""Forensic search on the wire: the hub's signed request and the parts of a box's answer.

A request (``vigie.search.req/1``, hub -> box) is signed by the hub over the canonical JSON of
:meth:`SearchRequest.unsigned` and carries no ``seq``. An answer part (``vigie.search.resp/1``,
box -> hub) is numbered by the box's egress like any box message.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar, Literal

from edge.wire.schemas import (
    SEARCH_REQ_SCHEMA,
    SEARCH_REQ_SCHEMA_ID,
    SEARCH_RESP_SCHEMA,
    SEARCH_RESP_SCHEMA_ID,
)
from edge.wire.validation import Signed, check


@dataclass(frozen=True)
class SearchQuery:
    """What is searched for; None is "any". Persons: class, zone and direction only."""

    cls: str | None
    colour: str | None
    zone: str | None
    direction: str | None

    def to_wire(self) -> dict[str, Any]:
        return {"class": self.cls, "colour": self.colour, "zone": self.zone,
                "direction": self.direction}

    @classmethod
    def from_wire(cls, d: dict[str, Any]) -> SearchQuery:
        return cls(d["class"], d["colour"], d["zone"], d["direction"])


@dataclass(frozen=True)
class SearchRequest(Signed):
    """A signed, audited question from the hub to the boxes it names."""

    KIND: ClassVar[str] = "search/req"
    SCHEMA: ClassVar[dict[str, Any]] = SEARCH_REQ_SCHEMA

    id: str
    requester: str
    case: str
    reason: str
    issued_at: str
    expires_at: str
    window_start: str
    window_end: str
    query: SearchQuery
    limit: int
    cameras: tuple[tuple[str, str], ...] = ()
    """``(site, camera)`` of each box asked; the hub signs one request per camera."""
    signature: str | None = None
    """Ed25519 (hub key, base64) over :meth:`unsigned`; not on the wire when None."""

    def unsigned(self) -> dict[str, Any]:
        """The request without its signature: what the hub signs and the box verifies."""
        return {
            "schema": SEARCH_REQ_SCHEMA_ID, "id": self.id, "requester": self.requester,
            "case": self.case, "reason": self.reason, "issued_at": self.issued_at,
            "expires_at": self.expires_at,
            "window": {"start": self.window_start, "end": self.window_end},
            "query": self.query.to_wire(), "limit": self.limit,
            "cameras": [{"site": s, "camera": c} for s, c in self.cameras],
        }

    @classmethod
    def from_valid(cls, d: dict[str, Any]) -> SearchRequest:
        """The message of a JSON object already valid against its schema."""
        return cls(
            d["id"], d["requester"], d["case"], d["reason"], d["issued_at"], d["expires_at"],
            d["window"]["start"], d["window"]["end"], SearchQuery.from_wire(d["query"]),
            d["limit"], tuple((c["site"], c["camera"]) for c in d["cameras"]),
            d.get("signature"),
        )


@dataclass(frozen=True)
class SearchResult:
    """One track a box found: class, times, zones, direction; for vehicles colour and preview
    (base64 JPEG)."""

    row: int
    cls: str
    first_seen: str
    last_seen: str
    zones: tuple[str, ...]
    direction: str
    colour: str | None
    colour_confidence: float | None
    preview: str | None

    def to_wire(self) -> dict[str, Any]:
        return {"row": self.row, "class": self.cls, "first_seen": self.first_seen,
                "last_seen": self.last_seen, "zones": list(self.zones),
                "direction": self.direction, "colour": self.colour,
                "colour_confidence": self.colour_confidence, "preview": self.preview}

    @classmethod
    def from_wire(cls, d: dict[str, Any]) -> SearchResult:
        return cls(d["row"], d["class"], d["first_seen"], d["last_seen"], tuple(d["zones"]),
                   d["direction"], d["colour"], d["colour_confidence"], d["preview"])


@dataclass(frozen=True)
class SearchAnswer:
    """One part of a box's answer to a search request, or its refusal, without ``seq``."""

    KIND: ClassVar[str] = "search/resp"
    SCHEMA: ClassVar[dict[str, Any]] = SEARCH_RESP_SCHEMA

    site: str
    camera: str
    request_id: str
    status: Literal["results", "refused"]
    reason: str | None
    part: int
    last: bool
    results: tuple[SearchResult, ...]

    def body(self) -> dict[str, Any]:
        return {"schema": SEARCH_RESP_SCHEMA_ID, "site": self.site, "camera": self.camera,
                "request_id": self.request_id, "status": self.status, "reason": self.reason,
                "part": self.part, "last": self.last,
                "results": [r.to_wire() for r in self.results]}

    def to_wire(self, seq: int) -> dict[str, Any]:
        return {**self.body(), "seq": seq}

    @classmethod
    def from_wire(cls, d: dict[str, Any]) -> SearchAnswer:
        """The answer part of a received JSON object; MessageError when it is not a valid one."""
        check(cls.SCHEMA, d)
        return cls.from_valid(d)

    @classmethod
    def from_valid(cls, d: dict[str, Any]) -> SearchAnswer:
        """The message of a JSON object already valid against its schema."""
        return cls(d["site"], d["camera"], d["request_id"], d["status"], d["reason"], d["part"],
                   d["last"], tuple(SearchResult.from_wire(r) for r in d["results"]))
