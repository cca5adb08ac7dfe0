"""Candidate events re-checked on their own frame with the real detector, and the hub's signed
suppression sets checked, kept and applied by the box (no network: the book's parser)."""

from __future__ import annotations

import logging
import time
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from central.forensic.fanout import sign_for
from edge.config import DetectorConfig
from edge.config_wings import VerifyConfig
from edge.detect import Detector, make_detector
from edge.modelstore import ModelStore
from edge.records import Event, Frame, Track
from edge.suppressions import SuppressionBook
from edge.verify import EventGate
from edge.wire.keys import HUB_PUBLIC_KEY, keys_dir
from edge.wire.messages import encode, utc_iso, uuid7
from edge.wire.suppress import SUPPRESS_SCHEMA_ID
from tests.kits.searchkit import install_hub_key

VIDEO = Path(__file__).resolve().parents[2].parent / "shared/media/video"
SITE, CAMERA = "marseille", "cam-042"
PERSON_AT_300 = (381.0, 9.0, 543.0, 375.0)
"""Where YOLOX finds the visitor in frame 300 of the corridor clip (0.90)."""


@pytest.fixture(scope="module")
def yolox(model_store: ModelStore) -> Detector:
    return make_detector(DetectorConfig(), model_store)


def frame_at(index: int) -> Frame:
    cap = cv2.VideoCapture(str(VIDEO / "one-by-one-person-detection.mp4"))
    cap.set(cv2.CAP_PROP_POS_FRAMES, index)
    ok, image = cap.read()
    cap.release()
    assert ok
    return Frame(index, index / 10, time.time(), image)


def event(frame: Frame, box: tuple[float, float, float, float], label: str = "person",
          type_: str = "intrusion", state: str = "start", eid: str | None = None,
          zone: str | None = "room") -> Event:
    obj = Track(1, label, 0.4, box, 0.0, frame.ts, 5, 0)
    return Event(eid or uuid7(), type_, state, "warning", frame.wall,  # type: ignore[arg-type]
                 None if state == "start" else frame.wall, zone, (obj,), {"count": 1.0},
                 frame.width, frame.height)


def test_confirmed_on_the_crop_is_sent_with_its_score(yolox: Detector) -> None:
    frame = frame_at(300)
    gate = EventGate(VerifyConfig(), yolox)
    (sent,) = gate.admit([event(frame, PERSON_AT_300)], frame)
    assert sent.measure["verify_score"] >= 0.5
    assert gate.counts["confirmed"] == 1 and gate.counts["refused"] == 0


def test_not_confirmed_is_not_sent_but_counted_and_logged(
        yolox: Detector, caplog: pytest.LogCaptureFixture) -> None:
    empty = frame_at(0)  # the empty room: nobody where the candidate says
    gate = EventGate(VerifyConfig(), yolox)
    start = event(empty, PERSON_AT_300)
    with caplog.at_level(logging.WARNING, logger="edge.verify"):
        assert gate.admit([start], empty) == []
    assert gate.counts == {**gate.counts, "verified": 1, "refused": 1, "confirmed": 0}
    assert any("REFUSED by verification" in r.getMessage() and start.id in r.getMessage()
               for r in caplog.records)
    end = event(empty, PERSON_AT_300, state="end", eid=start.id)
    other_end = event(empty, PERSON_AT_300, state="end")
    assert gate.admit([end, other_end], empty) == [other_end]  # its end is held back too


def test_over_the_hourly_cap_the_event_goes_unverified(yolox: Detector) -> None:
    empty = frame_at(0)
    gate = EventGate(VerifyConfig(max_per_hour=1), yolox)
    assert gate.admit([event(empty, PERSON_AT_300)], empty, now=0.0) == []
    (sent,) = gate.admit([event(empty, PERSON_AT_300)], empty, now=10.0)
    assert sent.measure["verify_unverified"] == 1.0 and gate.counts["unverified"] == 1
    assert gate.admit([event(empty, PERSON_AT_300)], empty, now=3700.0) == []  # a new hour


def test_modes_off_and_unnameable_objects_pass(yolox: Detector) -> None:
    empty = frame_at(0)
    gate = EventGate(VerifyConfig(modes={"intrusion": "off"}), yolox)
    assert len(gate.admit([event(empty, PERSON_AT_300)], empty)) == 1
    assert gate.counts["verified"] == 0
    assert gate.cfg.modes["wrong_way"] == "crop"  # unnamed types keep their default
    blob = event(empty, (100, 300, 140, 340), label="static object", type_="abandoned_object")
    (sent,) = EventGate(VerifyConfig(), yolox).admit([blob], empty)
    assert sent.measure["verify_unverified"] == 1.0


def test_second_model_mode_runs_the_openvino_model(model_store: ModelStore) -> None:
    from edge.detect import load_detector

    spec = model_store.manifest.get("person-vehicle-bike-2000-fp16")
    pvb = load_detector(spec, "openvino", model_store.path(spec.name), DetectorConfig(),
                        model_store)
    yolo = make_detector(DetectorConfig(), model_store)
    cfg = VerifyConfig(modes={"intrusion": "second_model"})
    gate = EventGate(cfg, yolo, second=pvb)
    frame, empty = frame_at(300), frame_at(0)
    assert len(gate.admit([event(frame, PERSON_AT_300)], frame)) == 1
    assert gate.admit([event(empty, PERSON_AT_300)], empty) == []
    assert gate.counts["confirmed"] == 1 and gate.counts["refused"] == 1


# -- suppression sets ------------------------------------------------------------------------
def body(version: int, entries: list[dict[str, Any]], camera: str = CAMERA,
         expires_in: float = 3600.0) -> dict[str, Any]:
    now = time.time()
    return {"schema": SUPPRESS_SCHEMA_ID, "version": version, "issued_at": utc_iso(now),
            "expires_at": utc_iso(now + expires_in), "suppressions": entries,
            "cameras": [{"site": SITE, "camera": camera}]}


def entry(rule: str = "intrusion", region: list[float] | None = None, zone: str | None = "room",
          expires_in: float = 3600.0) -> dict[str, Any]:
    return {"id": uuid7(), "rule": rule, "zone": zone, "region": region or [0.4, 0.5, 0.3, 0.5],
            "expires_at": utc_iso(time.time() + expires_in)}


def signed(key: Ed25519PrivateKey, b: dict[str, Any], camera: str = CAMERA) -> bytes:
    return encode(sign_for(key, b, SITE, camera))


@pytest.fixture
def hub_key(tmp_path: Path) -> Ed25519PrivateKey:
    key = Ed25519PrivateKey.generate()
    install_hub_key(tmp_path, key)
    return key


def book(tmp_path: Path) -> SuppressionBook:
    return SuppressionBook(SITE, CAMERA, keys_dir(tmp_path) / HUB_PUBLIC_KEY,
                           tmp_path / "suppressions.sqlite")


def ev_at(foot: tuple[float, float], type_: str = "intrusion", zone: str | None = "room") -> Event:
    frame = Frame(0, 0.0, time.time(), np.zeros((100, 100, 3), np.uint8))
    x, y = foot[0] * 100, foot[1] * 100
    return event(frame, (x - 5, y - 30, x + 5, y), type_=type_, zone=zone)


def test_a_signed_set_suppresses_its_rule_in_its_region_only(
        tmp_path: Path, hub_key: Ed25519PrivateKey, yolox: Detector) -> None:
    b = book(tmp_path)
    assert b.receive(signed(hub_key, body(10, [entry()])))
    gate = EventGate(VerifyConfig(modes={"intrusion": "off", "weapon": "off"}),
                     yolox, b)
    inside, outside = ev_at((0.5, 0.8)), ev_at((0.1, 0.8))
    other_rule, other_zone = ev_at((0.5, 0.8), type_="weapon"), ev_at((0.5, 0.8), zone="gate")
    assert gate.admit([inside, outside, other_rule, other_zone], Frame(
        0, 0.0, 0.0, np.zeros((100, 100, 3), np.uint8))) == [outside, other_rule, other_zone]
    assert gate.counts["suppressed"] == 1
    b.close()
    again = book(tmp_path)  # kept on disk: applies after a restart
    assert again.version == 10 and again.match(inside, time.time()) is not None
    assert again.match(inside, time.time() + 7200) is None  # past its expiry


def test_revocation_is_a_newer_set_without_it(tmp_path: Path, hub_key: Ed25519PrivateKey) -> None:
    b = book(tmp_path)
    assert b.receive(signed(hub_key, body(10, [entry()])))
    assert b.receive(signed(hub_key, body(11, [])))
    assert b.match(ev_at((0.5, 0.8)), time.time()) is None


@pytest.mark.parametrize("why", ["unsigned", "forged", "altered", "other camera", "stale",
                                 "replayed", "future", "bad date"])
def test_a_bad_set_is_refused_and_the_applied_one_stays(
        tmp_path: Path, hub_key: Ed25519PrivateKey, why: str) -> None:
    b = book(tmp_path)
    assert b.receive(signed(hub_key, body(10, [entry()])))
    bad = body(20, [])
    if why == "unsigned":
        payload = encode(sign_for(hub_key, bad, SITE, CAMERA) | {"signature": ""})
    elif why == "forged":
        payload = signed(Ed25519PrivateKey.generate(), bad)
    elif why == "altered":
        payload = encode({**sign_for(hub_key, bad, SITE, CAMERA), "version": 21})
    elif why == "other camera":
        payload = signed(hub_key, body(20, [], camera="cam-043"), camera="cam-043")
    elif why == "stale":
        payload = signed(hub_key, body(20, [], expires_in=-10))
    elif why == "replayed":
        payload = signed(hub_key, body(10, []))
    elif why == "future":
        payload = signed(hub_key, {**bad, "issued_at": utc_iso(time.time() + 3600)})
    else:
        payload = signed(hub_key, body(20, [{**entry(), "expires_at": "2026-13-45T99:00:00Z"}]))
    assert not b.receive(payload)
    assert b.refused == 1 and b.version == 10 and len(b.live()) == 1


def test_the_agent_gates_its_events_and_reports_it_in_health(
        tmp_path: Path, media: Path, model_store: ModelStore) -> None:
    """The real pipeline on the corridor clip: an intrusion over the whole room is suppressed
    by a signed set received on the agent's subscription; health counts it."""
    from edge.pipeline import Agent
    from tests.kits.scenes import box_scene, load_box

    whole = [[0.0, 0.0], [1.0, 0.0], [1.0, 1.0], [0.0, 1.0]]
    doc = box_scene(media / "video/one-by-one-person-detection.mp4", site=SITE, camera=CAMERA,
                    data_dir=tmp_path / "data", models_dir=model_store.root, broker_port=1,
                    zones=[{"name": "room", "polygon": whole}],
                    rules=[{"type": "intrusion", "zone": "room", "dwell_s": 0.0}],
                    clips={"enabled": False}, index={"enabled": False})
    cfg = load_box(tmp_path / "box.toml", doc)
    key = Ed25519PrivateKey.generate()
    install_hub_key(cfg.data_dir, key)
    agent = Agent(cfg, model_store)
    try:
        agent.egress._handlers["suppress"](signed(key, body(5, [entry(region=[0, 0, 1, 1])])))
        sent = []
        for frame in agent.source.frames():
            sent += agent.process(frame)
            if frame.index >= 400:
                break
        verification = agent.health().verification
        assert isinstance(verification, dict)
        assert sent == [] and verification["suppressed"] >= 1
        assert verification["suppression_version"] == 5
    finally:
        agent.source.stop()
        agent.outbox.close()
