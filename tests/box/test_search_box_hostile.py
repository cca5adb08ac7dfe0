"""The box's search component against hostile or replayed requests, on a real Mosquitto.

A request id is remembered on disk until its request expires, so a signed request replayed
after the box process is killed and started again on the same data dir is refused; requests
living too long or issued in the future are refused; any byte string on the box's topics ends
in one log line and never stops its worker; an answer never carries more than ``limit``
results and marks exactly one last part.
"""

from __future__ import annotations

import errno
import json
import logging
import os
import re
import subprocess
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st

from central.devtools.broker import LocalBroker
from edge.config import BoxConfig, BrokerConfig, SourceConfig, ZoneConfig
from edge.config_wings import IndexConfig
from edge.outbound.egress import Egress
from edge.outbound.ledger import Ledger
from edge.search.answer import BoxSearch, Responder
from edge.search.index import IndexRow, TrackIndex
from edge.search.preview import encode_preview
from edge.search.seen import SeenFull, SeenRequests
from edge.wire.keys import public_text, sign, write_public
from edge.wire.messages import (
    MAX_PAYLOAD_BYTES,
    MessageError,
    encode,
    parse_json,
    topic,
    utc_iso,
    validate,
)
from tests.conftest import wait_for
from tests.kits import scenes
from tests.kits.searchkit import BoxProcess, Listener, install_hub_key, request, signed

Box = tuple[BoxSearch, Ed25519PrivateKey, Listener]
UUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")


def box_config(tmp_path: Path, port: int, **index: Any) -> BoxConfig:
    return BoxConfig(site="test", camera="cam-01", data_dir=tmp_path / "box",
                     source=SourceConfig(url="unused.mp4"), broker=BrokerConfig(port=port),
                     zones=[ZoneConfig(name="port", polygon=[(0, 0), (1, 0), (1, 1)])],
                     index=IndexConfig(retention_days=10, **index))


def cars(n: int, preview: bytes | None = None, label: str = "car") -> list[IndexRow]:
    now = time.time()
    return [IndexRow(label, now - 900 + i, now - 899 + i, ("port",), "left", "red", 0.8, preview)
            for i in range(n)]


@pytest.fixture
def make_box(tmp_path: Path, broker: LocalBroker) -> Iterator[Callable[..., Box]]:
    """Start the box's search component in this process (IndexConfig fields as keywords)."""
    started: list[tuple[Egress, BoxSearch, Listener]] = []

    def _make(rows: list[IndexRow] | None = None, **index: Any) -> Box:
        cfg = box_config(tmp_path, broker.port, **index)
        key = Ed25519PrivateKey.generate()
        install_hub_key(cfg.data_dir, key)
        egress = Egress(cfg.site, cfg.camera, cfg.broker, Ledger(cfg.data_dir / "egress-ledger.jsonl"))
        search = BoxSearch(cfg, egress, faces=None)
        search.index.add_many(cars(3) if rows is None else rows)
        subscribed = egress_subscribed(egress)
        search.start()
        egress.start()
        assert subscribed.wait(10)
        listener = Listener(broker.port)
        started.append((egress, search, listener))
        return search, key, listener

    yield _make
    for egress, search, listener in started:
        listener.close()
        egress.stop()
        search.stop()


def egress_subscribed(egress: Egress) -> threading.Event:
    """Set once the broker acknowledges the box's subscription (its SUBACK)."""
    done = threading.Event()
    egress.client.on_subscribe = lambda *a: done.set()
    return done


def resign(key: Ed25519PrivateKey, req: dict[str, Any]) -> dict[str, Any]:
    body = {k: v for k, v in req.items() if k != "signature"}
    return {**body, "signature": sign(key, body)}


def dated(key: Ed25519PrivateKey, issued: float, expires: float) -> dict[str, Any]:
    req = signed(key, request(class_="car"))
    return resign(key, {**req, "issued_at": utc_iso(issued), "expires_at": utc_iso(expires)})


# -- replay across a restart ----------------------------------------------------------------
def write_box_toml(path: Path, data_dir: Path, port: int) -> Path:
    return scenes.write(path, scenes.box_scene(
        "unused.mp4", data_dir=data_dir, realtime=None, broker_port=port, health_s=None,
        zones=[{"name": "port", "polygon": [[0, 0], [1, 0], [1, 1]]}]))


def test_replayed_request_after_a_restart_is_refused(tmp_path: Path, broker: LocalBroker) -> None:
    data = tmp_path / "box"
    config = write_box_toml(tmp_path / "box.toml", data, broker.port)
    key = Ed25519PrivateKey.generate()
    install_hub_key(data, key)
    index = TrackIndex(data / "index.sqlite")
    index.add_many(cars(3))
    index.close()
    listener = Listener(broker.port)
    box = BoxProcess(config, tmp_path / "box.log")
    mine = lambda suffix: topic("test", "cam-01", suffix)  # noqa: E731
    try:
        req = signed(key, request(class_="car"))
        payload = encode(req)
        listener.send(payload)
        (part,) = listener.answer(req["id"])
        assert part["status"] == "results" and len(part["results"]) == 3
        box.kill()  # no clean shutdown: the id must already be on disk
        # retained junk waits for the next box on its own topics (config: as the hub sends it)
        for suffix in ("search/req", "config"):
            listener.client.publish(mine(suffix), b"[" * 5000, qos=1, retain=True).wait_for_publish(5)
        box = BoxProcess(config, tmp_path / "box2.log")
        listener.parts.clear()
        listener.send(payload)  # byte for byte the request answered before the restart
        (part,) = listener.answer(req["id"])
        assert part["status"] == "refused" and "replayed request" in part["reason"], part
        assert part["results"] == [] and part["last"] is True
        log = box.text()
        assert any("REFUSED" in line and req["id"] in line and "replayed request" in line
                   for line in log.splitlines()), log[-3000:]
        assert log.count("dropped unread") == 1 and "nested 5000 deep" in log  # retained junk
        assert "ignored a message" not in log and "internal error" not in log
        fresh = signed(key, request(class_="car"))  # the restarted box still answers
        listener.send(fresh)
        assert len(listener.answer(fresh["id"])[0]["results"]) == 3
        assert [p for p in listener.parts if p["request_id"] == req["id"] and p["results"]] == []
    finally:
        listener.close()
        box.stop()


def test_remembered_ids_survive_reopening_and_are_purged_after_expiry(tmp_path: Path) -> None:
    path = tmp_path / "index.sqlite"
    now = time.time()
    seen = SeenRequests(path, keep_s=300)
    assert seen.remember("a", now + 60, now)
    assert not seen.remember("a", now + 60, now)
    seen.close()
    seen = SeenRequests(path, keep_s=300)
    assert not seen.remember("a", now + 60, now + 1)  # another process, same file
    assert seen.purge(now + 60 + 299) == 0  # kept past expiry by the clock skew
    assert seen.purge(now + 60 + 301) == 1 and seen.count() == 0
    small = SeenRequests(tmp_path / "small.sqlite", max_rows=2)
    assert small.remember("x", now + 60, now) and small.remember("y", now + 60, now)
    with pytest.raises(SeenFull):
        small.remember("z", now + 60, now)
    assert small.remember("z", now + 120, now + 61)  # x and y expired: room again
    assert not small.remember("z", now + 120, now + 62)


# -- dates ----------------------------------------------------------------------------------
DATES = [
    ("lives too long", lambda now: (now, now + 901), "request lives too long"),
    ("issued in the future", lambda now: (now + 400, now + 500), "request issued in the future"),
    ("expires before issued", lambda now: (now + 100, now + 50), "expires before it is issued"),
]


@pytest.mark.parametrize(("kind", "when", "reason"), DATES, ids=[d[0] for d in DATES])
def test_badly_dated_requests_are_refused(
    make_box: Callable[..., Box], kind: str, when: Callable[[float], tuple[float, float]],
    reason: str, caplog: pytest.LogCaptureFixture,
) -> None:
    search, key, listener = make_box()
    req = dated(key, *when(time.time()))
    with caplog.at_level(logging.WARNING, logger="edge.search.answer"):
        listener.send(req)
        (part,) = listener.answer(req["id"])
    assert part["status"] == "refused" and reason in part["reason"], part
    assert part["results"] == []
    assert any("REFUSED" in r.getMessage() and req["id"] in r.getMessage() for r in caplog.records)
    assert search.answered == 0


def test_impossible_date_is_refused_not_an_internal_error(
    make_box: Callable[..., Box], caplog: pytest.LogCaptureFixture
) -> None:
    """``2026-13-45T99:00:00Z`` matches the schema's pattern; the calendar refuses it."""
    _search, key, listener = make_box()
    req = resign(key, {**signed(key, request(class_="car")), "issued_at": "2026-13-45T99:00:00Z"})
    with caplog.at_level(logging.WARNING):
        listener.send(req)
        (part,) = listener.answer(req["id"])
    assert part["status"] == "refused" and "issued_at" in part["reason"]
    assert "is not a date" in part["reason"]
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR]


def test_configured_lifetime_and_skew_are_honoured(make_box: Callable[..., Box]) -> None:
    _search, key, listener = make_box(request_max_lifetime_s=3600, clock_skew_s=30)
    now = time.time()
    long_lived = dated(key, now, now + 1800)
    listener.send(long_lived)
    assert listener.answer(long_lived["id"])[0]["status"] == "results"
    ahead = dated(key, now + 60, now + 120)  # 60 s ahead: beyond this box's 30 s skew
    listener.send(ahead)
    (part,) = listener.answer(ahead["id"])
    assert part["status"] == "refused" and "more than 30 s ahead" in part["reason"]
    slightly = dated(key, now + 10, now + 120)
    listener.send(slightly)
    assert listener.answer(slightly["id"])[0]["status"] == "results"


def test_lifetime_field_is_bounded_in_config() -> None:
    with pytest.raises(ValueError, match="request_max_lifetime_s"):
        IndexConfig(request_max_lifetime_s=86400)
    with pytest.raises(ValueError, match="extra"):
        IndexConfig(request_lifetime=60)  # type: ignore[call-arg]
    assert IndexConfig().request_max_lifetime_s == 900 and IndexConfig().clock_skew_s == 300


# -- limit and last part --------------------------------------------------------------------
def big_preview() -> bytes:
    noise = np.random.default_rng(1).integers(0, 255, (200, 300, 3), np.uint8)
    return encode_preview(noise)


@pytest.mark.parametrize("limit", [1, 5, 7, 30])
def test_answer_never_exceeds_the_limit_and_has_one_last_part(
    make_box: Callable[..., Box], limit: int
) -> None:
    _search, key, listener = make_box(cars(25, big_preview(), label="truck"), max_results=20)
    body = {**request(class_="truck"), "limit": limit}
    req = signed(key, body)
    listener.send(req)
    listener.answer(req["id"])
    fence = signed(key, request(class_="car"))  # answered after every part of the first
    listener.send(fence)
    listener.answer(fence["id"])
    parts = sorted((p for p in listener.parts if p["request_id"] == req["id"]), key=lambda p: p["part"])
    assert sum(len(p["results"]) for p in parts) == min(limit, 25, 20)
    assert [p["part"] for p in parts] == list(range(len(parts)))
    assert [p["last"] for p in parts] == [False] * (len(parts) - 1) + [True]
    if limit >= 7:
        assert len(parts) >= 2  # 12 KiB previews: the answer really is split


@settings(max_examples=60, deadline=None, derandomize=True,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(rows=st.integers(0, 140), limit=st.integers(1, 500), max_results=st.integers(1, 500),
       with_previews=st.booleans())
def test_responder_parts_respect_limit_property(
    tmp_path_factory: pytest.TempPathFactory, rows: int, limit: int, max_results: int,
    with_previews: bool,
) -> None:
    tmp = tmp_path_factory.mktemp("resp")
    key = Ed25519PrivateKey.generate()
    write_public(tmp / "hub.pub", public_text(key))
    index = TrackIndex(tmp / "index.sqlite")
    index.add_many(cars(rows, big_preview() if with_previews else None))
    responder = Responder("test", "cam-01", index, tmp / "hub.pub", 10, max_results)
    req = signed(key, {**request(class_="car"), "limit": limit})
    parts = [p.body() for p in responder.respond(encode(req))]
    index.close()
    assert sum(len(p["results"]) for p in parts) == min(rows, limit, max_results)
    assert [p["last"] for p in parts] == [False] * (len(parts) - 1) + [True]
    for p in parts:
        validate("search/resp", {**p, "seq": 0})
        assert len(encode(p)) < MAX_PAYLOAD_BYTES


# -- hostile bytes on the box's topics ------------------------------------------------------
def deep(n: int) -> bytes:
    return b"[" * n + b"]" * n


FIXED = [
    b"", b"\xff\xfe not utf-8", b"\xc3\x28", b"null", b"true", b"42", b'"a string"', b"[]",
    b"{" + b" " * 70_000 + b"}", b"x" * (1 << 20), deep(3000), deep(17), b'{"a":' * 2000,
    b'{"id": NaN}', b'{"id": Infinity}', b'{"id": 1e400}', b'{"id": ' + b"9" * 5000 + b"}",
    b'{"id": 18446744073709551616}', b'{"id": ["0192f0c1-0000-7000-8000-000000000000"]}',
    b'{"id": "0192f0c1-0000-7000-8000-000000000000\\n"}', b'{"id": "\\ud800"}',
    b'{"id": "0192f0c1-0000-7000-8000-000000000000", "signature": 5}',
    b'{"id": "0192f0c1-0000-7000-8000-000000000001", "limit": NaN, "signature": "eA=="}',
]
EXTREMES: list[Any] = [float("nan"), float("inf"), -float("inf"), 2**63, 2**64, -(2**63) - 1,
                       10**30, 0, -1, 1.5, True, None, "", "x" * 400, "9999-99-99T99:99:99Z",
                       "2026-02-30T10:00:00Z", "\u0000", [], {}, [[[[[[]]]]]], {"a": {"b": 1}}]
FIELDS = [("requester",), ("case",), ("reason",), ("issued_at",), ("expires_at",), ("limit",),
          ("window",), ("window", "start"), ("window", "end"), ("cameras",), ("query",),
          ("query", "class"), ("query", "colour"), ("query", "zone"), ("query", "direction"),
          ("schema",), ("extra",), ("query", "clothing")]


def mutated(key: Ed25519PrivateKey, path: tuple[str, ...], value: Any, sign_it: bool) -> bytes:
    """A request for this box with ``value`` at ``path``; signed over the mutation or not."""
    req = json.loads(encode(signed(key, request(class_="car"))))
    node = req
    for k in path[:-1]:
        node = node[k]
    node[path[-1]] = value
    if sign_it:
        req = resign(key, req)
    return json.dumps(req).encode()  # NaN and Infinity as Python writes them


NO_SHRINK = (Phase.explicit, Phase.reuse, Phase.generate)
"""Over a broker each example takes a round trip: report the failing one as found."""
hostile = st.one_of(
    st.sampled_from(FIXED),
    st.binary(max_size=300),
    st.builds(lambda p, v, s: (p, v, s), st.sampled_from(FIELDS),
              st.sampled_from(EXTREMES) | st.integers() | st.floats() | st.text(max_size=30),
              st.booleans()),
)


def test_hostile_payloads_never_stop_the_box_worker(
    make_box: Callable[..., Box], broker: LocalBroker, caplog: pytest.LogCaptureFixture
) -> None:
    """Every payload on ``search/req`` ends in exactly one log line of the search component
    (dropped, REFUSED or answered), and an answer or refusal when it names a usable id;
    payloads on ``config`` (retained, as the hub sends it) are never read: the box does not
    subscribe to it. A valid signed request is answered after all of them."""
    search, key, listener = make_box()
    config = topic("test", "cam-01", "config")
    caplog.set_level(logging.INFO)
    outcomes = ("dropped unread", "dropped (nobody", "REFUSED", "answered")

    def search_lines() -> list[str]:
        return [r.getMessage() for r in caplog.records if r.name == "edge.search.answer"
                and any(o in r.getMessage() for o in outcomes)]

    sent = 0

    @settings(max_examples=400, deadline=None, derandomize=True, phases=NO_SHRINK,
              suppress_health_check=[HealthCheck.too_slow])
    @given(item=hostile, on_config=st.booleans())
    def publish(item: Any, on_config: bool) -> None:
        nonlocal sent
        payload = mutated(key, *item) if isinstance(item, tuple) else item
        if on_config:
            listener.client.publish(config, payload, qos=1, retain=True).wait_for_publish(5)
            return
        rid = request_id(payload)
        listener.send(payload)
        sent += 1
        wait_for(lambda: len(search_lines()) >= sent, 10, interval=0.01, what="a log line")
        if rid is not None:
            assert listener.answer(rid)[-1]["last"]

    publish()
    ok = signed(key, request(class_="car"))
    listener.send(ok)
    assert len(listener.answer(ok["id"])[0]["results"]) == 3
    assert len(search_lines()) == sent + 1, search_lines()[-5:]
    assert search._thread.is_alive()
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR], \
        [r.getMessage() for r in caplog.records if r.levelno >= logging.ERROR][:3]
    assert not [r for r in caplog.records if "ignored a message" in r.getMessage()]


def request_id(payload: bytes) -> str | None:
    """The id the box can answer to, if the payload parses as an object with a UUID id."""
    try:
        obj = parse_json(payload)
    except MessageError:
        return None
    rid = obj.get("id") if isinstance(obj, dict) else None
    return rid if isinstance(rid, str) and UUID.fullmatch(rid) else None


# -- the id cannot be written ---------------------------------------------------------------
@pytest.fixture
def small_fs(tmp_path: Path) -> Iterator[Path]:
    """A real 512 KiB tmpfs (CI runs as root), unmounted after the test."""
    mnt = tmp_path / "small"
    mnt.mkdir()
    subprocess.run(["mount", "-t", "tmpfs", "-o", "size=512k", "tmpfs", str(mnt)], check=True)
    try:
        yield mnt
    finally:
        subprocess.run(["umount", "-l", str(mnt)], check=True)


def fill(folder: Path) -> Path:
    """Write a file until the filesystem is full; returns it."""
    filler = folder / "filler"
    fd = os.open(filler, os.O_WRONLY | os.O_CREAT)
    try:
        while os.write(fd, b"\0" * 4096):
            pass
    except OSError as exc:
        assert exc.errno == errno.ENOSPC
    finally:
        os.close(fd)
    return filler


def test_request_whose_id_cannot_be_recorded_is_refused_not_answered(
    tmp_path: Path, broker: LocalBroker, small_fs: Path
) -> None:
    """Data dir full: the box refuses rather than answer a request it could not refuse again
    after a restart; once there is room, the same request is answered (it was never recorded)."""
    cfg = box_config(tmp_path, broker.port).model_copy(update={"data_dir": small_fs})
    key = Ed25519PrivateKey.generate()
    install_hub_key(cfg.data_dir, key)
    egress = Egress(cfg.site, cfg.camera, cfg.broker, Ledger(tmp_path / "egress-ledger.jsonl"))
    search = BoxSearch(cfg, egress, faces=None)
    search.index.add_many(cars(3))
    subscribed = egress_subscribed(egress)
    search.start()
    egress.start()
    listener = Listener(broker.port)
    try:
        assert subscribed.wait(10)
        filler = fill(small_fs)
        req = signed(key, request(class_="car"))
        listener.send(req)
        (part,) = listener.answer(req["id"])
        assert part["status"] == "refused" and "cannot record the request id" in part["reason"]
        assert "full" in part["reason"] and part["results"] == []
        filler.unlink()
        listener.parts.clear()
        listener.send(req)
        assert len(listener.answer(req["id"])[0]["results"]) == 3
        listener.parts.clear()
        listener.send(req)
        assert "replayed request" in listener.answer(req["id"])[0]["reason"]
    finally:
        listener.close()
        egress.stop()
        search.stop()
