"""The outbox's byte cap (stats dropped before events, oldest first, counted across
restarts) and a full outbox (real SQLITE_FULL) reported in health, not a crash: the
messages wait in memory and are stored once the outbox can be written again."""

from __future__ import annotations

import json
import logging
import sqlite3
import time
from pathlib import Path
from typing import Any

import pytest

from edge.modelstore import ModelStore
from edge.outbound.outbox import Outbox, OutboxError
from edge.outbound.spool import Spool
from edge.pipeline import Agent
from edge.records import Event
from edge.wire.messages import validate
from tests.kits.scenes import traffic_box

CAP = 256 * 1024


def body(kind: str, n: int, size: int = 1000) -> dict[str, Any]:
    return {"kind": kind, "n": n, "pad": "x" * size}


def stored(outbox: Outbox) -> list[tuple[str, int]]:
    return [(i.suffix, i.body["n"]) for i in outbox.pending(10_000)]


def real_bytes(path: Path) -> int:
    with sqlite3.connect(path) as db:
        return int(db.execute("SELECT SUM(LENGTH(CAST(body AS BLOB))) FROM outbox").fetchone()[0])


def test_cap_drops_stats_before_events_oldest_first(tmp_path: Path,
                                                    caplog: pytest.LogCaptureFixture) -> None:
    path = tmp_path / "outbox.sqlite"
    outbox = Outbox(path, CAP)
    for n in range(60):  # 60 stats and 60 events interleaved, ~122 KB: under the cap
        outbox.put("stats", body("stats", n))
        outbox.put("event", body("event", n))
    assert outbox.dropped() == {}
    with caplog.at_level(logging.WARNING, logger="edge.outbound.outbox"):
        for n in range(60, 200):  # 140 more events (~143 KB) push the total over the cap
            assert outbox.put("event", body("event", n)) > 0
    rows = stored(outbox)
    assert outbox.bytes_stored() == real_bytes(path) <= CAP
    kept_stats = [n for k, n in rows if k == "stats"]
    dropped_stats = 60 - len(kept_stats)
    assert 0 < dropped_stats < 60
    assert kept_stats == list(range(dropped_stats, 60))  # the oldest went first
    assert [n for k, n in rows if k == "event"] == list(range(200))  # no event lost yet
    assert outbox.dropped() == {"stats": dropped_stats}
    assert sum("dropped stats row" in r.getMessage() for r in caplog.records) == dropped_stats
    assert all(r.levelno == logging.WARNING for r in caplog.records)

    # more events: the remaining stats go, then the oldest events, never the new one
    for n in range(200, 400):
        assert outbox.put("event", body("event", n)) > 0
    rows = stored(outbox)
    assert all(k == "event" for k, _ in rows)
    events = [n for _, n in rows]
    assert events == list(range(events[0], 400)) and events[0] > 0
    assert outbox.dropped() == {"stats": 60, "event": events[0]}
    assert outbox.bytes_stored() == real_bytes(path) <= CAP

    # a new stat never pushes out an event: it is itself dropped and counted
    assert outbox.put("stats", body("stats", 999)) == 0
    assert stored(outbox) == rows
    outbox.close()

    # the counts and the byte total survive a restart
    again = Outbox(path, CAP)
    assert again.dropped() == {"stats": 61, "event": events[0]}
    assert again.bytes_stored() == real_bytes(path)
    again.close()


def test_cap_ignores_clip_rows_and_refuses_an_oversized_message(tmp_path: Path) -> None:
    outbox = Outbox(tmp_path / "outbox.sqlite", CAP)
    outbox.put("clip", body("clip", 0, 200))
    for n in range(300):
        outbox.put("event", body("event", n))
    assert ("clip", 0) in stored(outbox)  # clip rows point at files; never dropped by the cap
    assert outbox.put("event", body("event", -1, CAP + 1)) == 0
    assert outbox.dropped()["event"] > 0
    outbox.close()


def test_deleting_rows_frees_room(tmp_path: Path) -> None:
    path = tmp_path / "outbox.sqlite"
    outbox = Outbox(path, CAP)
    ids = [outbox.put("event", body("event", n)) for n in range(100)]
    for row in ids[:50]:
        outbox.delete(row)
    outbox.delete(ids[0])  # a row already gone (e.g. dropped) is harmless
    assert outbox.bytes_stored() == real_bytes(path)
    for n in range(100, 250):
        outbox.put("event", body("event", n))
    assert outbox.dropped() == {}  # 250 - 50 = 200 KB fit
    outbox.close()


def fill_disk(outbox: Outbox) -> int:
    """Cap the SQLite file at its current size: the next growth fails with SQLITE_FULL."""
    pages = outbox._db.execute("PRAGMA page_count").fetchone()[0]
    outbox._db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    outbox._db.execute(f"PRAGMA max_page_count = {pages}")
    return int(pages)


def test_full_database_is_real_sqlite_full(tmp_path: Path) -> None:
    outbox = Outbox(tmp_path / "outbox.sqlite")
    outbox.put("event", body("event", 0))
    fill_disk(outbox)
    with pytest.raises(OutboxError, match="database or disk is full"):
        for n in range(1, 50):
            outbox.put("event", body("event", n, 4000))
    assert stored(outbox)[0] == ("event", 0)  # what was stored is intact
    outbox.close()


def test_spool_keeps_messages_while_full_and_stores_them_in_order(tmp_path: Path) -> None:
    outbox = Outbox(tmp_path / "outbox.sqlite")
    spool = Spool(outbox, capacity=10)
    assert spool.put("event", body("event", 0)) == "stored"
    pages = fill_disk(outbox)
    outcomes = [spool.put("event", body("event", n, 4000)) for n in range(1, 12)]
    outcomes += [spool.put("stats", body("stats", 12))]
    assert "queued" in outcomes and spool.error is not None
    assert "database or disk is full" in spool.error
    assert spool.queued == 10  # bounded; overflow counted
    lost = spool.dropped()
    assert sum(lost.values()) == 12 - outcomes.count("stored") - 10
    assert spool.retry() == 0 and spool.error is not None  # still full

    outbox._db.execute(f"PRAGMA max_page_count = {pages * 100}")  # the disk recovers
    stored_now = spool.retry()
    assert stored_now == 10 and spool.queued == 0 and spool.error is None
    events = [n for k, n in stored(outbox) if k == "event"]
    assert events == sorted(events) and events[0] == 0
    assert outbox.dropped() == {k: v for k, v in lost.items() if v}  # now persistent
    outbox.close()


def test_agent_reports_a_full_outbox_in_health_and_recovers(
    tmp_path: Path, media: Path, model_store: ModelStore,
) -> None:
    cfg = traffic_box(tmp_path, media, model_store.root, 1883)
    agent = Agent(cfg, model_store)
    try:
        health = agent.health().body()
        validate("health", {**health, "seq": 0})
        assert health["outbox_error"] is None and health["outbox_dropped"] == {"stats": 0, "event": 0}
        pages = fill_disk(agent.outbox)
        now = time.time()
        events = [Event(id=f"01900000-0000-7000-8000-{n:012d}", type="intrusion", state="start",
                        severity="warning", started_wall=now, ended_wall=None, zone=None,
                        objects=(), measure={}, frame_w=640, frame_h=480) for n in range(40)]
        agent._emit(events)  # must not raise
        health = agent.health().body()
        validate("health", {**health, "seq": 1})
        assert health["outbox_error"] and "full" in health["outbox_error"]
        assert health["outbox_memory_queue"] > 0
        assert health["outbox_memory_queue"] + agent.outbox.depth() == 40

        agent.outbox._db.execute(f"PRAGMA max_page_count = {pages * 1000}")
        assert agent.spool.retry() > 0
        health = agent.health().body()
        validate("health", {**health, "seq": 2})
        assert health["outbox_error"] is None and health["outbox_memory_queue"] == 0
        ids = [json.loads(json.dumps(i.body))["id"] for i in agent.outbox.pending(100)]
        assert ids == [e.id for e in events]  # all 40, in order
    finally:
        agent.outbox.close()
