"""One simulated camera box: its connection state, its in-memory egress ledger and signed
digests, and the contract messages it makes (health, stats, event starts).

:class:`central.devtools.sim.Simulator` drives many of these over one broker pump; the messages
are built from the dataclasses of ``edge.wire.messages`` with the simulator's seeded random
generator, so a run with the same seed sends the same traffic.
"""

from __future__ import annotations

import hashlib
import logging
import random
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field
from typing import TYPE_CHECKING, Any

from edge.wire.ledger_entries import make_entry
from edge.wire.messages import (
    EVENT_TYPES,
    EventMessage,
    HealthMessage,
    LineCount,
    ObjectRef,
    StatsMessage,
    ZoneCount,
    utc_iso,
    uuid7,
)

if TYPE_CHECKING:
    import paho.mqtt.client as mqtt

    from edge.wire.ledger_digest import LedgerDigest

log = logging.getLogger(__name__)

RECONNECT_MIN_S, RECONNECT_MAX_S = 1.0, 30.0
SIM_MODEL = "sim-yolox-s"
SIM_TYPES = tuple(t for t in ("intrusion", "wrong_way", "crowd_density") if t in EVENT_TYPES)
SIM_MODEL_SHA = hashlib.sha256(b"vigie load simulator").hexdigest()


@dataclass
class SimCamera:
    """One simulated box: its client and socket, sequence, open events and egress ledger."""

    name: str
    client: mqtt.Client
    seq: int = 0
    open_events: dict[str, EventMessage] = field(default_factory=dict)
    sock: Any = None  # the socket registered with the selector, while connected
    retry_at: float | None = None  # monotonic time of the next reconnect attempt, while down
    backoff: float = RECONNECT_MIN_S
    key: Any = None
    head: str = "0" * 64
    undigested: list[dict[str, Any]] = field(default_factory=list)

    def ledger(self, dest: str, payload: bytes, seq: int) -> None:
        """Append one sent payload to this camera's (in-memory) egress ledger."""
        entry = make_entry(seq, self.head, "mqtt", dest, payload)
        self.head = entry.hash
        self.undigested.append(asdict(entry))

    def next_seq(self) -> int:
        self.seq += 1
        return self.seq

    # -- signed ledger digests -----------------------------------------------------
    def digests(self, site: str) -> Iterator[LedgerDigest]:
        """Signed digests of the entries not yet digested (as a box's digester makes them)."""
        from edge.wire.ledger_digest import build_digest
        from edge.wire.messages import LEDGER_DIGEST_MAX_ENTRIES

        pending, self.undigested = self.undigested, []  # a digest's own entry waits for the next
        for i in range(0, len(pending), LEDGER_DIGEST_MAX_ENTRIES):
            chunk = pending[i:i + LEDGER_DIGEST_MAX_ENTRIES]
            yield build_digest(self.key, site, self.name, chunk, chunk[-1]["seq"],
                               chunk[-1]["hash"])


# -- messages ------------------------------------------------------------------------
def health_message(rng: random.Random, site: str, cam: SimCamera, now: float, started: float,
                   ) -> HealthMessage:
    return HealthMessage(
        site=site, camera=cam.name, ts=utc_iso(now), fps_in=10.0,
        fps_processed=round(rng.uniform(4, 6), 2),
        inference_ms_p50=round(rng.uniform(40, 60), 1),
        inference_ms_p95=round(rng.uniform(70, 110), 1),
        outbox_depth=0, uptime_s=round(now - started, 1),
        cpu_percent=round(rng.uniform(20, 80), 1), source_ok=True,
    )


def stats_message(rng: random.Random, site: str, cam: SimCamera, start: float, end: float,
                  ) -> StatsMessage:
    return StatsMessage(
        site=site, camera=cam.name,
        interval_start=utc_iso(start), interval_end=utc_iso(end),
        lines=(LineCount("entrance", "person", rng.randint(0, 30),
                         rng.randint(0, 30)),),
        zones=(ZoneCount("plaza", "person", rng.randint(0, 12),
                         round(rng.uniform(0, 5), 2)),),
    )


def event_start(rng: random.Random, site: str, cam: SimCamera, now: float) -> EventMessage:
    """A new event of the camera (kept open on it until its end is sent)."""
    x, y = rng.uniform(0, 0.7), rng.uniform(0, 0.6)
    ev = EventMessage(
        id=uuid7(), site=site, camera=cam.name,
        type=rng.choice(SIM_TYPES),
        state="start", severity=rng.choice(("info", "warning", "critical")),
        started_at=utc_iso(now), ended_at=None, zone="plaza",
        objects=(ObjectRef("person", round(rng.uniform(0.5, 0.95), 3),
                           (round(x, 4), round(y, 4), 0.1, 0.3)),),
        measure={"dwell_s": round(rng.uniform(0, 30), 1)},
        model_name=SIM_MODEL, model_sha256=SIM_MODEL_SHA,
    )
    cam.open_events[ev.id] = ev
    return ev
