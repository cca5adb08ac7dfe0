"""Poison messages through a real Mosquitto and a real `vigie hub ingest` process.

Each poison (seq 2^63, 6 KB of nested arrays, NaN score, 1e400 measure, a search answer with
a huge integer) is quarantined or receipted, acknowledged (an ingest restart does not get it
again) and the valid messages after it are stored. A writer thread killed by a real database
fault makes the process exit non-zero; the message it held is stored after the restart."""

from __future__ import annotations

import hashlib
import json
import sqlite3
from pathlib import Path
from typing import Any

from central.devtools.broker import LocalBroker
from central.web.health import EXIT_THREAD_DIED
from edge.wire.messages import uuid7
from tests.conftest import wait_for
from tests.kits.hostilekit import (
    CAMERA,
    EVENT_TOPIC,
    SITE,
    count,
    hub_config,
    nested_arrays,
    publish_all,
    publisher,
    raw_event,
    valid_event,
)

POISON_SEQ = str(2**63)


def search_answer_huge_int() -> bytes:
    """A schema-shaped search answer whose row number does not fit SQLite's integer."""
    return json.dumps({
        "schema": "vigie.search.resp/1", "site": SITE, "camera": CAMERA, "request_id": uuid7(),
        "status": "results", "reason": None, "part": 0, "last": True, "seq": 2**63,
        "results": [{"row": 2**63, "class": "car", "first_seen": "2026-11-30T10:00:00.000Z",
                     "last_seen": "2026-11-30T10:00:05.000Z", "zones": [], "direction": "up",
                     "colour": None, "colour_confidence": None, "preview": None}],
    }).encode()


def poisons() -> list[tuple[str, bytes, str]]:
    """(topic, payload, what): every one must leave ingest running."""
    return [
        (EVENT_TOPIC, raw_event("seq", POISON_SEQ), "seq 2^63"),
        (EVENT_TOPIC, nested_arrays(), "6 KB of nested arrays on event"),
        (f"vigie/v1/{SITE}/{CAMERA}/stats", nested_arrays(), "6 KB of nested arrays on stats"),
        (f"vigie/v1/{SITE}/{CAMERA}/ledger", nested_arrays(), "6 KB of nested arrays on ledger"),
        (EVENT_TOPIC, raw_event("objects.0.score", "NaN"), "NaN score"),
        (EVENT_TOPIC, raw_event("measure.count", "1e400"), "1e400 measure"),
        (f"vigie/v1/{SITE}/{CAMERA}/search/resp", search_answer_huge_int(), "huge integer answer"),
    ]


def _start(spawn: Any, name: str, cfg: Path) -> Any:
    proc = spawn(name, "hub", "ingest", "--config", str(cfg))
    wait_for(lambda: "ingest connected" in proc.text() or not proc.alive(), 30,
             what=f"{name} to connect")
    assert proc.alive(), proc.text()[-3000:]
    return proc


def test_poison_messages_are_quarantined_acknowledged_and_the_rest_stored(
    tmp_path: Path, broker: LocalBroker, spawn: Any,
) -> None:
    cfg = hub_config(tmp_path, broker.port)
    database = tmp_path / "hub.sqlite"
    ingest = _start(spawn, "ingest", cfg)
    pub = publisher(broker.port)
    items: list[tuple[str, bytes]] = []
    bad = poisons()
    for topic, payload, _ in bad:
        items += [(topic, payload), (EVENT_TOPIC, valid_event())]  # a valid event after each
    publish_all(pub, items)
    valid = len(poisons())
    wait_for(lambda: count(database, "SELECT COUNT(*) FROM events") == valid, 30,
             what="every valid event after a poison")
    wait_for(lambda: count(database, "SELECT COUNT(*) FROM receipts") == len(items), 30,
             what="a receipt per message")
    quarantined = count(database, "SELECT COUNT(*) FROM quarantine")
    assert quarantined == len(poisons())  # ingest validates search answers too (receipt only)
    conn = sqlite3.connect(str(database))
    reasons = dict(conn.execute("SELECT category, GROUP_CONCAT(reason, ' | ') FROM quarantine "
                                "GROUP BY category").fetchall())
    assert "9223372036854775808 is greater than the maximum" in reasons["invalid"]  # seq 2^63
    assert reasons["invalid"].count("nested") == 3
    assert "non-finite number NaN" in reasons["invalid"] and "1e400" in reasons["invalid"]
    shas = sorted(r[0] for r in conn.execute("SELECT sha256 FROM quarantine"))
    assert shas == sorted(hashlib.sha256(p).hexdigest() for _, p, _ in bad)
    conn.close()
    assert ingest.alive()

    # acknowledged: a restarted ingest (same persistent session) gets none of them again
    assert ingest.stop() == 0
    ingest = _start(spawn, "ingest2", cfg)
    publish_all(pub, [(EVENT_TOPIC, valid_event())])
    wait_for(lambda: count(database, "SELECT COUNT(*) FROM events") == valid + 1, 30,
             what="the marker event after the restart")
    assert count(database, "SELECT COUNT(*) FROM quarantine") == quarantined
    assert count(database, "SELECT COUNT(*) FROM receipts") == len(items) + 1
    assert "rejected message" not in ingest.text()
    pub.loop_stop()


def test_ingest_exits_when_its_writer_dies_and_loses_nothing(
    tmp_path: Path, broker: LocalBroker, spawn: Any,
) -> None:
    """A real fault the writer cannot heal (its receipts table gone, as after a bad manual
    migration): the process exits 70 instead of running on without storing anything, the
    message is not acknowledged, and once the table is back a restart stores it."""
    cfg = hub_config(tmp_path, broker.port)
    database = tmp_path / "hub.sqlite"
    ingest = _start(spawn, "ingest", cfg)
    pub = publisher(broker.port)
    publish_all(pub, [(EVENT_TOPIC, valid_event())])
    wait_for(lambda: count(database, "SELECT COUNT(*) FROM events") == 1, 30, what="first event")

    conn = sqlite3.connect(str(database), timeout=30)
    conn.execute("ALTER TABLE receipts RENAME TO receipts_moved")
    conn.commit()
    publish_all(pub, [(EVENT_TOPIC, valid_event())])
    wait_for(lambda: not ingest.alive(), 30, what="ingest to exit")
    assert ingest.proc.returncode == EXIT_THREAD_DIED
    log = ingest.text()
    assert "thread ingest-writer died" in log and "no such table: receipts" in log
    assert count(database, "SELECT COUNT(*) FROM events") == 1  # rolled back, not acknowledged

    conn.execute("ALTER TABLE receipts_moved RENAME TO receipts")
    conn.commit()
    conn.close()
    _start(spawn, "ingest2", cfg)
    wait_for(lambda: count(database, "SELECT COUNT(*) FROM events") == 2, 30,
             what="the redelivered event")
    pub.loop_stop()


def test_healthz_reports_dead_vital_threads(tmp_path: Path) -> None:
    from central import create_app
    from central.config import HubConfig
    from central.web import health as vitals

    app = create_app(HubConfig(database=tmp_path / "hub.sqlite"))
    client = app.test_client()
    ok = client.get("/healthz")
    assert ok.status_code == 200 and ok.get_json()["ok"] is True
    vitals.mark_dead("search-writer", "OverflowError: Python int too large")
    try:
        bad = client.get("/healthz")
        assert bad.status_code == 503
        assert bad.get_json()["ok"] is False
        assert bad.get_json()["threads"]["search-writer"] == "dead: OverflowError: Python int too large"
    finally:
        vitals.forget("search-writer")
    assert client.get("/healthz").status_code == 200
