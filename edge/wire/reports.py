"""What a box reports besides events: health, statistics and signed egress-ledger digests.

Like every message dataclass of the contract: ``from_wire`` validates a received JSON object
against the kind's schema, ``to_wire(seq)`` gives the object that goes out, and ``body()`` the
same without ``seq`` (what waits in the outbox until egress numbers it). An optional field that
is not on the wire is :data:`edge.wire.events.ABSENT`, so that a message round-trips exactly.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any, ClassVar

from edge.wire.events import ABSENT, Absent, present
from edge.wire.ledger_entries import LedgerEntry
from edge.wire.schemas import (
    HEALTH_SCHEMA,
    HEALTH_SCHEMA_ID,
    LEDGER_SCHEMA,
    LEDGER_SCHEMA_ID,
    STATS_SCHEMA,
    STATS_SCHEMA_ID,
)
from edge.wire.validation import check


@dataclass(frozen=True)
class DetectorHealth:
    """The detector a box runs, its stage timings and its motion gate's counters."""

    model: str
    backend: str
    timings_ms: dict[str, float] | Absent = ABSENT
    gate_runs: int | Absent = ABSENT
    gate_skips: int | Absent = ABSENT

    def to_wire(self) -> dict[str, Any]:
        timings = dict(self.timings_ms) if isinstance(self.timings_ms, dict) else ABSENT
        return present({"model": self.model, "backend": self.backend}, timings_ms=timings,
                       gate_runs=self.gate_runs, gate_skips=self.gate_skips)

    @classmethod
    def from_wire(cls, d: dict[str, Any]) -> DetectorHealth:
        return cls(d["model"], d["backend"], d.get("timings_ms", ABSENT),
                   d.get("gate_runs", ABSENT), d.get("gate_skips", ABSENT))


@dataclass(frozen=True)
class AudioHealth:
    """Whether the box listens for gunshots and under which legal basis (never any sound)."""

    enabled: bool
    legal_basis: str | None


@dataclass(frozen=True)
class OutboxDropped:
    """Messages the box dropped since its outbox was created, by kind."""

    stats: int
    event: int


@dataclass(frozen=True)
class HealthMessage:
    """A ``vigie.health/1`` message without its ledger ``seq``."""

    KIND: ClassVar[str] = "health"
    SCHEMA: ClassVar[dict[str, Any]] = HEALTH_SCHEMA

    site: str
    camera: str
    ts: str
    fps_in: float
    fps_processed: float
    inference_ms_p50: float | None
    inference_ms_p95: float | None
    outbox_depth: int
    uptime_s: float
    cpu_percent: float | Absent | None = ABSENT
    disk_free_bytes: int | Absent | None = ABSENT
    source_ok: bool | Absent = ABSENT
    detector: DetectorHealth | Absent = ABSENT
    audio: AudioHealth | Absent = ABSENT
    outbox_dropped: OutboxDropped | Absent = ABSENT
    outbox_error: str | Absent | None = ABSENT
    outbox_memory_queue: int | Absent = ABSENT
    disk_full: bool | Absent = ABSENT
    verification: dict[str, int] | Absent = ABSENT
    """Counters of the box's verification and suppressions (see the schema)."""

    def body(self) -> dict[str, Any]:
        """The message as it waits for its ``seq``."""
        return present(
            {"schema": HEALTH_SCHEMA_ID, "site": self.site, "camera": self.camera, "ts": self.ts,
             "fps_in": self.fps_in, "fps_processed": self.fps_processed,
             "inference_ms_p50": self.inference_ms_p50, "inference_ms_p95": self.inference_ms_p95,
             "outbox_depth": self.outbox_depth, "uptime_s": self.uptime_s},
            cpu_percent=self.cpu_percent, disk_free_bytes=self.disk_free_bytes,
            source_ok=self.source_ok,
            detector=self.detector.to_wire() if isinstance(self.detector, DetectorHealth) else ABSENT,
            audio=asdict(self.audio) if isinstance(self.audio, AudioHealth) else ABSENT,
            outbox_dropped=(asdict(self.outbox_dropped)
                            if isinstance(self.outbox_dropped, OutboxDropped) else ABSENT),
            outbox_error=self.outbox_error, outbox_memory_queue=self.outbox_memory_queue,
            disk_full=self.disk_full,
            verification=dict(self.verification) if isinstance(self.verification, dict) else ABSENT)

    def to_wire(self, seq: int) -> dict[str, Any]:
        return {**self.body(), "seq": seq}

    @classmethod
    def from_wire(cls, d: dict[str, Any]) -> HealthMessage:
        """The health of a received JSON object; MessageError when it is not a valid one."""
        check(cls.SCHEMA, d)
        return cls.from_valid(d)

    @classmethod
    def from_valid(cls, d: dict[str, Any]) -> HealthMessage:
        """The message of a JSON object already valid against its schema."""
        detector, audio, dropped = d.get("detector"), d.get("audio"), d.get("outbox_dropped")
        return cls(
            d["site"], d["camera"], d["ts"], d["fps_in"], d["fps_processed"],
            d["inference_ms_p50"], d["inference_ms_p95"], d["outbox_depth"], d["uptime_s"],
            cpu_percent=d.get("cpu_percent", ABSENT),
            disk_free_bytes=d.get("disk_free_bytes", ABSENT),
            source_ok=d.get("source_ok", ABSENT),
            detector=DetectorHealth.from_wire(detector) if detector is not None else ABSENT,
            audio=AudioHealth(**audio) if audio is not None else ABSENT,
            outbox_dropped=OutboxDropped(**dropped) if dropped is not None else ABSENT,
            outbox_error=d.get("outbox_error", ABSENT),
            outbox_memory_queue=d.get("outbox_memory_queue", ABSENT),
            disk_full=d.get("disk_full", ABSENT),
            verification=d.get("verification", ABSENT),
        )


@dataclass(frozen=True)
class LineCount:
    """Crossings of one counting line by one class in an interval."""

    line: str
    cls: str
    forward: int
    backward: int


@dataclass(frozen=True)
class ZoneCount:
    """Occupancy of one zone by one class in an interval: the most at once and the mean."""

    zone: str
    cls: str
    max: int
    mean: float


@dataclass(frozen=True)
class StatsMessage:
    """A ``vigie.stats/1`` message (counts, never identities) without its ledger ``seq``."""

    KIND: ClassVar[str] = "stats"
    SCHEMA: ClassVar[dict[str, Any]] = STATS_SCHEMA

    site: str
    camera: str
    interval_start: str
    interval_end: str
    lines: tuple[LineCount, ...]
    zones: tuple[ZoneCount, ...]

    def body(self) -> dict[str, Any]:
        return {
            "schema": STATS_SCHEMA_ID, "site": self.site, "camera": self.camera,
            "interval_start": self.interval_start, "interval_end": self.interval_end,
            "lines": [{"line": ln.line, "class": ln.cls, "forward": ln.forward,
                       "backward": ln.backward} for ln in self.lines],
            "zones": [{"zone": z.zone, "class": z.cls, "max": z.max, "mean": z.mean}
                      for z in self.zones],
        }

    def to_wire(self, seq: int) -> dict[str, Any]:
        return {**self.body(), "seq": seq}

    @classmethod
    def from_wire(cls, d: dict[str, Any]) -> StatsMessage:
        check(cls.SCHEMA, d)
        return cls.from_valid(d)

    @classmethod
    def from_valid(cls, d: dict[str, Any]) -> StatsMessage:
        """The message of a JSON object already valid against its schema."""
        return cls(
            d["site"], d["camera"], d["interval_start"], d["interval_end"],
            tuple(LineCount(ln["line"], ln["class"], ln["forward"], ln["backward"])
                  for ln in d["lines"]),
            tuple(ZoneCount(z["zone"], z["class"], z["max"], z["mean"]) for z in d["zones"]),
        )


def digest_signed_part(message: dict[str, Any]) -> dict[str, Any]:
    """What a digest's signature covers: the message without ``seq`` and ``signature``."""
    return {k: v for k, v in message.items() if k not in ("seq", "signature")}


def entry_json(entry: LedgerEntry) -> dict[str, Any]:
    """A ledger entry in a digest: its fields in key order, as the ledger file holds them."""
    return dict(sorted(asdict(entry).items()))


@dataclass(frozen=True)
class LedgerDigest:
    """A signed ``vigie.ledger/1`` digest of egress-ledger entries, without its ledger ``seq``.

    ``signature`` is Ed25519 (box key) over the canonical JSON of :meth:`signed_part`."""

    KIND: ClassVar[str] = "ledger"
    SCHEMA: ClassVar[dict[str, Any]] = LEDGER_SCHEMA

    site: str
    camera: str
    ts: str
    entries: tuple[LedgerEntry, ...]
    head_seq: int
    head: str
    signature: str

    def signed_part(self) -> dict[str, Any]:
        """What the signature covers."""
        return {"schema": LEDGER_SCHEMA_ID, "site": self.site, "camera": self.camera,
                "ts": self.ts, "entries": [entry_json(e) for e in self.entries],
                "head_seq": self.head_seq, "head": self.head}

    def body(self) -> dict[str, Any]:
        return {**self.signed_part(), "signature": self.signature}

    def to_wire(self, seq: int) -> dict[str, Any]:
        return {**self.body(), "seq": seq}

    @classmethod
    def from_wire(cls, d: dict[str, Any]) -> LedgerDigest:
        check(cls.SCHEMA, d)
        return cls.from_valid(d)

    @classmethod
    def from_valid(cls, d: dict[str, Any]) -> LedgerDigest:
        """The message of a JSON object already valid against its schema."""
        return cls(d["site"], d["camera"], d["ts"], tuple(LedgerEntry(**e) for e in d["entries"]),
                   d["head_seq"], d["head"], d["signature"])
