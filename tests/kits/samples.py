"""Valid sample messages of each kind, from one box (marseille/cam-042): the starting point of
the tests that change a field, fuzz a message or feed the hub."""

from __future__ import annotations

from typing import Any

from edge.wire.messages import EventMessage, ObjectRef, utc_iso, uuid7

SITE, CAMERA = "marseille", "cam-042"


def sample_event(**overrides: object) -> dict[str, object]:
    """An intrusion ``start`` event as the box sends it (a fresh id), with ``overrides``."""
    msg = EventMessage(
        id=uuid7(), site=SITE, camera=CAMERA, type="intrusion", state="start",
        severity="warning", started_at=utc_iso(1_795_000_000.48), ended_at=None,
        zone="pedestrian-street", objects=(ObjectRef("car", 0.87, (0.41, 0.52, 0.12, 0.09)),),
        measure={"count": 1.0}, model_name="yolox-nano", model_sha256="e8" * 32,
    ).to_wire(seq=1842)
    msg.update(overrides)
    return msg


def sample_health() -> dict[str, Any]:
    """A health message."""
    return {"schema": "vigie.health/1", "site": SITE, "camera": CAMERA, "ts": utc_iso(1_795_000_000),
            "fps_in": 10.0, "fps_processed": 4.5, "inference_ms_p50": 61.0,
            "inference_ms_p95": 80.0, "outbox_depth": 0, "uptime_s": 12.0, "seq": 3,
            "outbox_dropped": {"stats": 1, "event": 0}, "outbox_error": None}


def sample_stats() -> dict[str, Any]:
    """A stats message: one line's crossings over one minute."""
    return {"schema": "vigie.stats/1", "site": SITE, "camera": CAMERA,
            "interval_start": "2026-11-24T10:00:00.000Z", "interval_end": "2026-11-24T10:01:00.000Z",
            "lines": [{"line": "mid", "class": "person", "forward": 2, "backward": 1}],
            "zones": [], "seq": 7}
