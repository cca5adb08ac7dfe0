"""The box's side of forensic search, on a real Mosquitto: signed requests are answered from
the index through egress (ledgered); every kind of bad request gets a clear refusal on
``search/resp`` and a line in the box log, and nothing from the index leaves with it."""

from __future__ import annotations

import base64
import logging
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from central.devtools.broker import LocalBroker
from edge.config import BoxConfig, BrokerConfig, SourceConfig, ZoneConfig
from edge.config_wings import IndexConfig
from edge.outbound.egress import Egress
from edge.outbound.ledger import Ledger, read, verify_chain
from edge.search.answer import BoxSearch
from edge.search.index import IndexRow
from edge.search.preview import encode_preview
from tests.conftest import wait_for
from tests.kits.searchkit import Listener, install_hub_key, request, signed


def jpeg(colour: tuple[int, int, int]) -> bytes:
    img = np.full((60, 90, 3), colour, np.uint8)
    return cv2.imencode(".jpg", img)[1].tobytes()


@pytest.fixture
def box(tmp_path: Path, broker: LocalBroker) -> Iterator[tuple[BoxSearch, Ed25519PrivateKey, Listener]]:
    cfg = BoxConfig(site="test", camera="cam-01", data_dir=tmp_path / "box",
                    source=SourceConfig(url="unused.mp4"), broker=BrokerConfig(port=broker.port),
                    zones=[ZoneConfig(name="port", polygon=[(0, 0), (1, 0), (1, 1)])],
                    index=IndexConfig(retention_days=10))
    hub_key = Ed25519PrivateKey.generate()
    install_hub_key(cfg.data_dir, hub_key)
    ledger = Ledger(cfg.data_dir / "egress-ledger.jsonl")
    egress = Egress(cfg.site, cfg.camera, cfg.broker, ledger)
    search = BoxSearch(cfg, egress, faces=None)
    now = time.time()
    search.index.add_many([
        IndexRow("car", now - 600, now - 590, ("port",), "left", "red", 0.8, jpeg((30, 30, 200))),
        IndexRow("car", now - 500, now - 480, (), "right", "white", 0.9, jpeg((240, 240, 240))),
        IndexRow("person", now - 400, now - 380, ("port",), "up"),
    ])
    search.start()
    egress.start()
    assert egress.connected.wait(10)
    wait_for(lambda: broker_subscribed(egress), 5, what="box subscribed")
    listener = Listener(broker.port)
    yield search, hub_key, listener
    listener.close()
    egress.stop()
    search.stop()


def broker_subscribed(egress: Egress) -> bool:
    time.sleep(0.2)
    return egress.connected.is_set()


def test_signed_request_is_answered_through_egress(box: Any, tmp_path: Path) -> None:
    search, key, listener = box
    req = signed(key, request(class_="car", colour="red"))
    listener.send(req)
    parts = listener.answer(req["id"])
    assert [p["status"] for p in parts] == ["results"]
    (res,) = parts[0]["results"]
    assert res["class"] == "car" and res["colour"] == "red" and res["zones"] == ["port"]
    assert res["direction"] == "left"
    assert base64.b64decode(res["preview"])[:2] == b"\xff\xd8"
    entries = list(read(tmp_path / "box" / "egress-ledger.jsonl"))
    verify_chain(entries)
    assert any(e.dest == "vigie/v1/test/cam-01/search/resp" for e in entries)

    # persons: class, times, zones, direction only
    req = signed(key, request(class_="person"))
    listener.send(req)
    (part,) = listener.answer(req["id"])
    (res,) = part["results"]
    assert res["class"] == "person" and res["colour"] is None and res["preview"] is None

    # nothing matching: an empty answer, so the hub knows the box was asked and answered
    req = signed(key, request(class_="car", colour="green"))
    listener.send(req)
    (part,) = listener.answer(req["id"])
    assert part["status"] == "results" and part["results"] == [] and part["last"]
    assert search.answered == 3


def test_large_answer_streams_in_parts(box: Any) -> None:
    search, key, listener = box
    now = time.time()
    noise = np.random.default_rng(0).integers(0, 255, (200, 300, 3), np.uint8)
    preview = encode_preview(noise)  # the box's own encoder, capped at MAX_PREVIEW_BYTES
    assert 6000 < len(preview) <= 12 * 1024
    search.index.add_many([IndexRow("truck", now - 100 + i, now - 99 + i, (), "down", "blue", 0.5,
                                    preview) for i in range(30)])
    req = signed(key, request(class_="truck"))
    listener.send(req)
    parts = listener.answer(req["id"])
    assert len(parts) >= 3, [len(p["results"]) for p in parts]
    assert [p["part"] for p in parts] == list(range(len(parts)))
    assert [p["last"] for p in parts] == [False] * (len(parts) - 1) + [True]
    rows = [r for p in parts for r in p["results"]]
    assert len(rows) == 30
    assert [r["first_seen"] for r in rows] == sorted(r["first_seen"] for r in rows)


REFUSALS = [
    ("unsigned", "unsigned request"),
    ("bad signature", "bad signature"),
    ("expired", "expired request"),
    ("past retention", "before this box's retention"),
    ("person colour", "person attribute asked"),
    ("person appearance field", "malformed request"),
    ("other camera", "answers only for itself"),
]


def bad_request(kind: str, key: Ed25519PrivateKey) -> dict[str, Any]:
    now = time.time()
    if kind == "unsigned":
        body = request(class_="car", colour="red")
        return body
    if kind == "bad signature":
        req = signed(key, request(class_="car", colour="red"))
        req["query"]["colour"] = "white"  # altered after signing
        return req
    if kind == "expired":
        return signed(key, request(class_="car", expires_in=-5))
    if kind == "past retention":
        return signed(key, request(class_="car", start=now - 11 * 86400, end=now))
    if kind == "person colour":
        return signed(key, request(class_="person", colour="red"))
    if kind == "person appearance field":
        body = request(class_="person")
        body["query"]["clothing"] = "red jacket"
        return signed(key, body)
    if kind == "other camera":
        return signed(key, request(class_="car"), site="test", camera="cam-99")
    raise AssertionError(kind)


@pytest.mark.parametrize(("kind", "reason"), REFUSALS)
def test_bad_requests_are_refused_and_logged(
    box: Any, kind: str, reason: str, caplog: pytest.LogCaptureFixture, tmp_path: Path
) -> None:
    search, key, listener = box
    req = bad_request(kind, key)
    with caplog.at_level(logging.WARNING, logger="edge.search.answer"):
        listener.send(req)  # always on this box's own topic
        (part,) = listener.answer(req["id"])
    assert part["status"] == "refused", part
    assert reason in part["reason"], part["reason"]
    assert part["results"] == [] and part["last"] is True
    logged = [r.getMessage() for r in caplog.records if r.name == "edge.search.answer"]
    assert any("REFUSED" in m and req["id"] in m and reason in m for m in logged), logged
    assert search.answered == 0 and search.refused == 1


def test_replayed_request_and_junk_are_refused_or_dropped(
    box: Any, caplog: pytest.LogCaptureFixture
) -> None:
    _search, key, listener = box
    req = signed(key, request(class_="car"))
    listener.send(req)
    assert listener.answer(req["id"])[0]["status"] == "results"
    listener.parts.clear()
    listener.send(req)
    (part,) = listener.answer(req["id"])
    assert part["status"] == "refused" and "replay" in part["reason"]
    with caplog.at_level(logging.WARNING, logger="edge.search.answer"):
        listener.send(b"\xff not json")
        listener.send(b'{"no": "id"}')
        listener.send(b"{" + b" " * 70_000 + b"}")
        wait_for(lambda: sum("dropped" in r.getMessage() for r in caplog.records) >= 3, 5,
                 what="junk logged")
    req = signed(key, request(class_="car"))  # the worker survived
    listener.send(req)
    assert listener.answer(req["id"])[0]["status"] == "results"


def test_box_without_hub_key_refuses(box: Any, tmp_path: Path) -> None:
    search, key, listener = box
    search.hub_key_path.unlink()
    req = signed(key, request(class_="car"))
    listener.send(req)
    (part,) = listener.answer(req["id"])
    assert part["status"] == "refused" and "vigie edge enrol" in part["reason"]


def test_box_listens_to_its_own_search_req_only(box: Any) -> None:
    search, key, listener = box
    with pytest.raises(ValueError, match="may subscribe only to"):
        search.egress.subscribe("config", lambda payload: None)
    with pytest.raises(ValueError, match="may subscribe only to"):
        search.egress.subscribe("#", lambda payload: None)
    req = signed(key, request(class_="car"))  # signed for cam-01, sent on cam-02's topic
    listener.send(req, camera="cam-02")
    time.sleep(1.0)
    assert [p for p in listener.parts if p["request_id"] == req["id"]] == []
    assert search.answered == 0 and search.refused == 0
