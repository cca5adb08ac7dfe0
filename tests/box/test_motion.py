"""Motion gating: fewer detector calls on a mostly static scene, same events as without it."""

from __future__ import annotations

import json
import threading
from pathlib import Path

import cv2
import numpy as np
import paho.mqtt.client as mqtt
import pytest

from central.devtools.broker import LocalBroker
from edge.config import DetectorConfig, MotionConfig, parse
from edge.detect import make_detector
from edge.modelstore import ModelStore
from edge.motion import MotionGate
from edge.pipeline import Agent
from edge.records import Detection, Frame
from edge.wire.messages import validate
from tests.conftest import MEDIA, wait_for
from tests.kits import scenes

VIDEOS = MEDIA / "video"


def read_video(path: Path, limit: int | None = None) -> tuple[list[np.ndarray], float]:
    cap = cv2.VideoCapture(str(path))
    fps = cap.get(cv2.CAP_PROP_FPS)
    frames = []
    while limit is None or len(frames) < limit:
        ok, image = cap.read()
        if not ok:
            break
        frames.append(image)
    cap.release()
    return frames, fps


def test_gate_cuts_detector_calls_on_car_detection_by_70_percent(model_store: ModelStore) -> None:
    frames, fps = read_video(VIDEOS / "car-detection.mp4")
    assert len(frames) > 300
    det = make_detector(DetectorConfig(), model_store)
    calls = 0
    last: list[Detection] = []

    def detect(image: np.ndarray) -> list[Detection]:
        nonlocal calls, last
        calls += 1
        last = det.detect(image)
        return last

    gate = MotionGate(MotionConfig())
    for i, image in enumerate(frames):
        dets = gate.detections(Frame(i, i / fps, 0.0, image), detect)
        assert dets is last  # a skipped frame reports what the detector last saw
    assert calls == gate.runs and gate.runs + gate.skips == len(frames)
    assert calls <= 0.30 * len(frames), f"{calls} detector calls for {len(frames)} frames"


def test_still_scene_runs_only_on_refresh() -> None:
    image = cv2.imread(str(MEDIA / "images" / "two_people.png"))
    gate = MotionGate(MotionConfig(refresh_s=2.0))
    reasons = [gate.check(Frame(i, i / 10, 0.0, image)).reason for i in range(100)]  # 10 s at 10 fps
    assert reasons[0] == "first"
    assert reasons.count("refresh") == 4  # at 2, 4, 6, 8 s
    assert reasons.count("still") == 95


def test_motion_fires_at_most_every_min_interval() -> None:
    gate = MotionGate(MotionConfig(min_interval_s=0.2, refresh_s=60))
    decisions = []
    for i in range(50):  # a bright square crossing a dark frame at 25 fps
        image = np.zeros((240, 320, 3), np.uint8)
        x = 5 * i
        image[100:140, x:x + 40] = 255
        decisions.append(gate.check(Frame(i, i / 25, 0.0, image)))
    runs = [d for d in decisions if d.run]
    assert {d.reason for d in runs} == {"first", "motion"}
    assert 9 <= len(runs) <= 11  # 2 s of motion at 5 runs/s
    assert all(d.reason == "rate" for d in decisions if not d.run)


def test_gate_off_runs_every_frame() -> None:
    gate = MotionGate(MotionConfig(enabled=False))
    image = np.zeros((100, 100, 3), np.uint8)
    assert all(gate.check(Frame(i, i / 10, 0.0, image)).run for i in range(20))


def _box_toml(data: Path, video: Path, gating: bool, broker_port: int = 1883, models: Path | None = None,
              realtime: bool = False) -> str:
    return scenes.to_toml(scenes.box_scene(
        video, site="t", camera="c", data_dir=data, models_dir=models, realtime=realtime,
        broker_port=broker_port, motion={"enabled": gating}, zones=[scenes.TABLE],
        rules=[scenes.intrusion(classes=None)]))


def test_gated_agent_raises_the_same_intrusion_as_ungated(model_store: ModelStore, tmp_path: Path) -> None:
    video = VIDEOS / "one-by-one-person-detection.mp4"
    frames, fps = read_video(video, limit=240)  # the first visitor stops at the table and leaves
    starts: dict[bool, list[int]] = {}
    ends: dict[bool, list[int]] = {}
    agents = {}
    for gating in (True, False):
        cfg = parse(_box_toml(tmp_path / f"data-{gating}", video, gating), tmp_path / "box.toml")
        agent = Agent(cfg, model_store)
        agents[gating] = agent
        starts[gating], ends[gating] = [], []
        for i, image in enumerate(frames):
            for ev in agent.process(Frame(i, i / fps, 1.7e9 + i / fps, image)):
                (starts if ev.state == "start" else ends)[gating].append(i)
        health = agent.health().body()
        health["seq"] = 0
        validate("health", health)
        if gating:
            assert health["detector"]["gate_skips"] == agent.gate.skips > 0
        agent.outbox.close()
    assert len(starts[False]) == 1 and len(starts[True]) == 1, (starts, ends)
    assert abs(starts[True][0] - starts[False][0]) <= 5  # within half a second
    assert len(ends[True]) == len(ends[False]) == 1
    assert abs(ends[True][0] - ends[False][0]) <= 5
    gated = agents[True].gate
    assert gated.skips >= 0.5 * len(frames)


@pytest.mark.e2e
def test_agent_with_gating_publishes_intrusion_over_mqtt(
    broker: LocalBroker, model_store: ModelStore, tmp_path: Path, spawn
) -> None:  # type: ignore[no-untyped-def]
    video = VIDEOS / "one-by-one-person-detection.mp4"
    box = tmp_path / "box.toml"
    box.write_text(_box_toml(tmp_path / "data", video, True, broker.port, model_store.root))
    got: list[dict] = []  # type: ignore[type-arg]
    lock = threading.Lock()

    def on_message(_c, _u, msg):  # type: ignore[no-untyped-def]
        if msg.topic.endswith(("/event", "/health")):
            with lock:
                got.append({"topic": msg.topic, **json.loads(msg.payload)})

    client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2)
    client.on_message = on_message
    client.connect("127.0.0.1", broker.port)
    client.subscribe("vigie/v1/t/c/#", qos=1)
    client.loop_start()
    try:
        agent = spawn("edge", "edge", "run", str(box))
        wait_for(lambda: any(m.get("type") == "intrusion" and m.get("state") == "start" for m in got),
                 timeout=120, what="an intrusion start event over MQTT")
        start = next(m for m in got if m.get("type") == "intrusion")
        validate("event", {k: v for k, v in start.items() if k != "topic"})
        assert start["objects"][0]["label"] == "person"
        healths = wait_for(lambda: [m for m in got if m["topic"].endswith("/health")], timeout=30,
                           what="a health message")
        validate("health", {k: v for k, v in healths[-1].items() if k != "topic"})
        det = healths[-1]["detector"]
        assert det["backend"] == "onnxruntime" and det["gate_runs"] >= 1
        assert agent.alive() or "Traceback" not in agent.text()
    finally:
        client.loop_stop()
        client.disconnect()
