"""Extreme values in every field of otherwise valid messages of every kind the hub stores, through
the real ingest (``Ingest.process_batch`` on a real SQLite file), the real search-answer writer
and one real-broker round: each message is stored or quarantined (never an exception out of the
batch), and the operators' JSON API still answers valid JSON.

The values come from the decoder's blind spots and beyond it: NaN and infinities, 1e400, 2^63
and larger, -0.0, deep nesting, long and unpaired-surrogate strings, impossible dates, wrong
types. Storage must survive anything the decoder lets through, whatever the schemas bound."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from central import create_app
from central.config import ApiToken, HubBroker, HubConfig
from central.devtools.broker import LocalBroker
from central.forensic.fanout import SearchFanout
from central.ingest.received import Delivery
from central.ingest.subscriber import Ingest
from edge.wire import keys
from edge.wire.messages import encode, utc_iso, uuid7
from tests.conftest import wait_for
from tests.kits.hostilekit import publish_all, publisher, with_raw
from tests.kits.samples import sample_event, sample_health, sample_stats

SITE, CAMERA = "marseille", "cam-042"
SEARCH_ID = "0192f0c1-0000-7000-8000-000000000001"
OUTCOMES = {"stored", "duplicate", "rejected", "receipted"}

EXTREMES = [
    "NaN", "Infinity", "-Infinity", "1e400", "-1e400", "1e308", "-0.0", "5e-324",
    str(2**53 + 1), str(2**63 - 1), str(2**63), str(-(2**63) - 1), str(2**64), "1" + "0" * 30,
    "-1", "0", "true", "null", '""', '"\\ud800"', '"\\u0000"', json.dumps("é" * 5000),
    json.dumps("x" * 30000), "[" * 40 + "]" * 40, "[[1, [2, [3]]]]", "{}", '{"a": {"b": {}}}',
    "[]", '"2026-13-45T99:00:00Z"', '"9999-12-31T23:59:59Z"', '"0001-01-01T00:00:00Z"',
]


def sample_ledger() -> dict[str, Any]:
    now = time.time()
    return {"schema": "vigie.ledger/1", "site": SITE, "camera": CAMERA, "ts": utc_iso(now - 5),
            "entries": [{"seq": 1, "ts": now - 10, "kind": "mqtt",
                         "dest": f"vigie/v1/{SITE}/{CAMERA}/event", "bytes": 100,
                         "sha256": "a" * 64, "prev": "0" * 64, "hash": "b" * 64}],
            "head_seq": 1, "head": "b" * 64, "signature": "A" * 86 + "==", "seq": 2}


def sample_answer() -> dict[str, Any]:
    return {"schema": "vigie.search.resp/1", "site": SITE, "camera": CAMERA,
            "request_id": SEARCH_ID, "status": "results", "reason": None, "part": 0,
            "last": False, "seq": 9,
            "results": [{"row": 1, "class": "car", "first_seen": utc_iso(time.time() - 300),
                         "last_seen": utc_iso(time.time() - 290), "zones": ["gate"],
                         "direction": "up", "colour": "red", "colour_confidence": 0.7,
                         "preview": None}]}


def fresh_event() -> dict[str, Any]:
    return sample_event(id=uuid7(), started_at=utc_iso(time.time() - 30))


SAMPLES = {"event": fresh_event, "health": sample_health, "stats": sample_stats,
           "ledger": sample_ledger, "search/resp": sample_answer}


def paths(value: Any, prefix: str = "") -> Iterator[str]:
    """Every field path of a message, containers and leaves (``objects.0.bbox.2``)."""
    items = value.items() if isinstance(value, dict) else enumerate(value)
    for key, inner in items:
        path = f"{prefix}{key}"
        yield path
        if isinstance(inner, (dict, list)) and inner:
            yield from paths(inner, path + ".")


def message(kind: str, path: str, raw: str) -> tuple[str, bytes]:
    return f"vigie/v1/{SITE}/{CAMERA}/{kind}", with_raw(SAMPLES[kind](), path, raw)


def grid() -> list[tuple[str, bytes]]:
    """Every extreme in every field of every kind."""
    return [message(kind, path, raw) for kind, make in SAMPLES.items()
            for path in paths(make()) for raw in EXTREMES]


def setup_search(db: Any) -> None:
    now = time.time()
    db.execute("INSERT INTO searches (id, requester, case_ref, reason, created_at, deadline, "
               "expires_at, window_start, window_end, query, asked, result_limit) VALUES "
               "(?, 'inv', 'PV-1', 'test', ?, ?, ?, ?, ?, '{}', 1, 500)",
               [SEARCH_ID, now, now + 3600, now + 3600, utc_iso(now - 3600), utc_iso(now)])
    db.execute("INSERT INTO search_cameras (search_id, site, camera, state) VALUES (?, ?, ?, "
               "'asked')", [SEARCH_ID, SITE, CAMERA])


def strict_json(text: str) -> Any:
    def refuse(name: str) -> Any:
        raise AssertionError(f"the API emitted {name}")

    return json.loads(text, parse_constant=refuse)


def check_api(database: Path) -> None:
    app = create_app(HubConfig(database=database, api_tokens={
        "op": ApiToken(actor="op", role="operator"), "sup": ApiToken(actor="sup", role="supervisor"),
    }))
    client = app.test_client()
    for token, url in (("op", "/api/v1/alerts?limit=1000"), ("op", "/api/v1/alerts?status=open"),
                       ("op", "/api/v1/cameras"), ("sup", "/api/v1/events?class=car"),
                       ("sup", "/api/v1/stats/counts?hours=720")):
        resp = client.get(url, headers={"Authorization": f"Bearer {token}"})
        assert resp.status_code == 200, (url, resp.get_data(as_text=True)[:500])
        strict_json(resp.get_data(as_text=True))


def quarantine_count(db: Any) -> int:
    return int(db.execute("SELECT COUNT(*) FROM quarantine").fetchone()[0])


def run_ingest(ing: Ingest, batch: list[tuple[str, bytes]]) -> list[str]:
    before = quarantine_count(ing.db)
    receipts = ing.db.execute("SELECT COUNT(*) FROM receipts").fetchone()[0]
    outcomes = ing.process_batch([Delivery(t, p) for t, p in batch])
    assert len(outcomes) == len(batch) and set(outcomes) <= OUTCOMES
    assert quarantine_count(ing.db) - before == outcomes.count("rejected")
    assert ing.db.execute("SELECT COUNT(*) FROM receipts").fetchone()[0] - receipts == len(batch)
    return outcomes


def run_answers(fo: SearchFanout, batch: list[tuple[str, bytes]]) -> list[str]:
    """Store answers on a search that has received nothing yet (so that each one reaches the
    results, not the duplicate-part check)."""
    fo.db.execute("DELETE FROM search_parts")
    fo.db.execute("UPDATE search_cameras SET state = 'asked', results = 0, parts = 0, "
                  "last_part = NULL")
    before = quarantine_count(fo.db)
    outcomes = fo.store([Delivery(t, p) for t, p in batch])
    assert len(outcomes) == len(batch) and set(outcomes) <= {"stored", "rejected"}
    assert quarantine_count(fo.db) - before >= outcomes.count("rejected")
    return outcomes


@pytest.fixture
def hub_db(tmp_path: Path) -> Iterator[tuple[Ingest, SearchFanout]]:
    database = tmp_path / "hub.sqlite"
    ing = Ingest(HubConfig(database=database))
    setup_search(ing.db)
    fo = SearchFanout(database, HubBroker(), keys.generate_private(tmp_path / "k.ed25519"))
    yield ing, fo
    fo.db.conn.close()


def test_every_extreme_in_every_field_is_stored_or_quarantined(
    hub_db: tuple[Ingest, SearchFanout], tmp_path: Path,
) -> None:
    ing, fo = hub_db
    messages = grid()
    assert len(messages) == sum(len(list(paths(m()))) for m in SAMPLES.values()) * len(EXTREMES)
    outcomes: list[str] = []
    for i in range(0, len(messages), 50):
        outcomes += run_ingest(ing, messages[i:i + 50])
    answers = [m for m in messages if m[0].endswith("search/resp")]
    stored = sum(run_answers(fo, [m]).count("stored") for m in answers)
    assert 20 < stored < len(answers)
    assert outcomes.count("rejected") > len(messages) // 2
    assert outcomes.count("stored") > 50  # many extremes are legal values somewhere
    categories = {r[0] for r in ing.db.execute("SELECT DISTINCT category FROM quarantine")}
    assert {"invalid", "clock_skew"} <= categories
    check_api(tmp_path / "hub.sqlite")


raw_values = (
    st.integers(-(2**80), 2**80).map(str)
    | st.floats().map(lambda f: "NaN" if f != f else "Infinity" if f == float("inf")
                      else "-Infinity" if f == float("-inf") else repr(f))
    | st.text(max_size=300).map(json.dumps)
    | st.sampled_from(EXTREMES)
    | st.recursive(st.integers(-(2**70), 2**70) | st.booleans() | st.none() | st.text(max_size=5),
                   lambda inner: st.lists(inner, max_size=3), max_leaves=8).map(json.dumps)
)


@st.composite
def extreme_message(draw: st.DrawFn) -> tuple[str, bytes]:
    kind = draw(st.sampled_from(sorted(SAMPLES)))
    path = draw(st.sampled_from(list(paths(SAMPLES[kind]()))))
    return message(kind, path, draw(raw_values))


def test_random_extremes_through_ingest_and_the_answer_writer(
    hub_db: tuple[Ingest, SearchFanout], tmp_path: Path,
) -> None:
    ing, fo = hub_db

    @settings(max_examples=400, deadline=None, derandomize=True,
              suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
    @given(batch=st.lists(extreme_message(), min_size=1, max_size=6))
    def fuzz(batch: list[tuple[str, bytes]]) -> None:
        run_ingest(ing, batch)
        run_answers(fo, [m for m in batch if m[0].endswith("search/resp")])

    fuzz()
    check_api(tmp_path / "hub.sqlite")


def test_extremes_over_a_real_broker(tmp_path: Path, broker: LocalBroker) -> None:
    """One extreme per field of each kind, published to a real Mosquitto: ingest handles
    every one and its writer is still alive."""
    database = tmp_path / "hub.sqlite"
    ing = Ingest(HubConfig(database=database, broker=HubBroker(port=broker.port,
                                                               client_id="hub-extremes")))
    ing.start()
    try:
        wait_for(ing.connected.is_set, 15, what="ingest connection")
        items = [message(kind, path, EXTREMES[i % len(EXTREMES)])
                 for kind, make in SAMPLES.items()
                 for i, path in enumerate(paths(make()))]
        items.append((f"vigie/v1/{SITE}/{CAMERA}/event", encode(fresh_event())))
        pub = publisher(broker.port)
        publish_all(pub, items)
        wait_for(lambda: sum(ing.counts.values()) == len(items), 60, what="every message handled")
        pub.loop_stop()
        assert ing._writer is not None and ing._writer.is_alive()
        assert ing.counts["rejected"] == quarantine_count(ing.db) > 0
        assert ing.counts["stored"] >= 1
    finally:
        ing.stop()
    check_api(database)


def schema_gap(name: str, payload: bytes, site: str, camera: str) -> tuple[Any, Any]:
    """A reader with the schemas' bounds missing: JSON only (as the hub was before them),
    then the message dataclass of whatever parsed."""
    from edge.wire.messages import kind, parse_json

    body = parse_json(payload)
    return body, kind(name).message.from_valid(body)  # type: ignore[union-attr]


def test_storage_survives_what_a_schema_gap_lets_through(
    hub_db: tuple[Ingest, SearchFanout], monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The schemas refuse 2^63 today; if one ever lets such a value through, storing it fails
    with OverflowError, and that message alone is quarantined as unstorable."""
    ing, fo = hub_db
    monkeypatch.setattr("central.ingest.received.read", schema_gap)  # ingest and search answers
    topic = "vigie/v1/marseille/cam-042/event"
    poison = with_raw(fresh_event(), "seq", str(2**63))
    good = encode(fresh_event())
    assert run_ingest(ing, [(topic, poison), (topic, good)]) == ["rejected", "stored"]
    answer = with_raw(sample_answer(), "results.0.row", str(2**63))
    assert run_answers(fo, [("vigie/v1/marseille/cam-042/search/resp", answer)]) == ["rejected"]
    rows = list(ing.db.execute("SELECT category, reason FROM quarantine"))
    assert len(rows) == 2 and all(c == "unstorable" and "OverflowError" in r for c, r in rows), rows
