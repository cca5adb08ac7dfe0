"""The hub's search-answer writer over a real Mosquitto: never more than the request's limit per
camera, nothing after the last part or twice, and a poison answer (a huge integer) is
quarantined while the answers after it are stored."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from central import db as hubdb
from central.config import HubBroker
from central.devtools.broker import LocalBroker
from central.forensic.fanout import SearchFanout
from central.forensic.searches import start_search
from edge.wire import keys
from edge.wire.messages import utc_iso
from tests.conftest import wait_for
from tests.kits.hostilekit import publish_all, publisher, with_raw

SITE, CAMERA = "test", "cam-01"
RESP = f"vigie/v1/{SITE}/{CAMERA}/search/resp"


@pytest.fixture
def fanout(tmp_path: Path, broker: LocalBroker) -> Iterator[SearchFanout]:
    database = tmp_path / "hub.sqlite"
    db = hubdb.connect(database)
    hubdb.camera_seen(db, SITE, CAMERA, state="online", state_at=time.time())
    db.conn.close()
    key = keys.generate_private(tmp_path / "hub.ed25519")
    fo = SearchFanout(database, HubBroker(port=broker.port, client_id="hub-search-test"), key)
    yield fo
    fo.stop()


def ask(fo: SearchFanout, limit: int) -> str:
    now = time.time()
    q = {"case": "PV-1", "reason": "stolen scooter", "start": now - 3600, "end": now,
         "class": "car", "colour": None, "zone": None, "direction": None, "limit": limit,
         "cameras": [(SITE, CAMERA)]}
    return start_search(fo.db, fo, "investigator", q, 10.0, 120.0)


def result(row: int) -> dict[str, Any]:
    return {"row": row, "class": "car", "first_seen": utc_iso(time.time() - 300),
            "last_seen": utc_iso(time.time() - 290), "zones": [], "direction": "up",
            "colour": None, "colour_confidence": None, "preview": None}


def part(sid: str, n: int, rows: range, last: bool) -> dict[str, Any]:
    return {"schema": "vigie.search.resp/1", "site": SITE, "camera": CAMERA, "request_id": sid,
            "status": "results", "reason": None, "part": n, "last": last,
            "results": [result(r) for r in rows], "seq": 100 + n}


def quarantined(fo: SearchFanout) -> list[str]:
    return [r[0] for r in fo.db.execute("SELECT reason FROM quarantine WHERE category = 'search' "
                                        "ORDER BY id")]


def test_limit_last_part_and_duplicates_are_enforced(fanout: SearchFanout, broker: LocalBroker) -> None:
    sid = ask(fanout, limit=5)
    parts = [part(sid, n, range(n * 100, n * 100 + 100), last=n == 3) for n in range(4)]
    after_last = part(sid, 4, range(400, 410), last=True)
    duplicate = parts[1]
    pub = publisher(broker.port)
    publish_all(pub, [(RESP, json.dumps(p).encode()) for p in [*parts, after_last, duplicate]])
    wait_for(lambda: sum(fanout.counts.values()) == 6, 30, what="six answers handled")
    pub.loop_stop()
    db = fanout.db
    assert db.execute("SELECT COUNT(*) FROM search_results WHERE search_id = ?", [sid]).fetchone()[0] == 5
    cam = db.execute("SELECT state, results, parts, last_part FROM search_cameras").fetchone()
    assert cam == ("answered", 5, 4, 3)
    reasons = quarantined(fanout)
    assert sum("beyond the request's limit" in r for r in reasons) == 4  # 95 + 100 + 100 + 100
    assert any("part 4" in r and "after its last part (3)" in r for r in reasons)
    assert any("part 1" in r and "duplicate part" in r for r in reasons)
    assert fanout.counts == {"stored": 4, "rejected": 2}


def test_a_huge_integer_answer_is_quarantined_and_the_writer_goes_on(
    fanout: SearchFanout, broker: LocalBroker,
) -> None:
    sid = ask(fanout, limit=50)
    poison = with_raw(part(sid, 0, range(1), last=False), "results.0.row", str(2**63))
    good = part(sid, 1, range(5, 8), last=True)
    pub = publisher(broker.port)
    publish_all(pub, [(RESP, poison), (RESP, json.dumps(good).encode())])
    wait_for(lambda: sum(fanout.counts.values()) == 2, 30, what="both answers handled")
    pub.loop_stop()
    assert fanout.counts == {"stored": 1, "rejected": 1}
    assert fanout._writer is not None and fanout._writer.is_alive()
    row = fanout.db.execute("SELECT category, reason FROM quarantine").fetchone()
    assert row[0] == "invalid" and "9223372036854775808 is greater than the maximum" in row[1]
    rows = [r[0] for r in fanout.db.execute("SELECT row FROM search_results ORDER BY row")]
    assert rows == [5, 6, 7]
    assert fanout.db.execute("SELECT state, results FROM search_cameras").fetchone() == ("answered", 3)
