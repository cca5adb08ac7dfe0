"""Audio wired into the agent: gunshot events over a real Mosquitto, health, and no disk writes."""

from __future__ import annotations

import os
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from central import create_app
from central.config import HubConfig
from central.devtools.broker import LocalBroker
from central.ingest.subscriber import Ingest
from edge.modelstore import ModelStore
from edge.pipeline import Agent
from edge.wire import messages
from tests.conftest import wait_for
from tests.kits.brokerkit import Spy
from tests.kits.scenes import traffic_box

GUNSHOT = "audio/gunshots/FP1_test_003_SCP-00-BNQ-1409.wav"  # 49 m, 3 rounds plus echoes
SPEECH = "audio/other/speech_vctk_p286_011.wav"
AUTH = {"Authorization": "Bearer t0k"}


@pytest.fixture
def spy(broker: LocalBroker) -> Iterator[Spy]:
    s = Spy(broker.port)
    yield s
    s.stop()


def start(agent: Agent) -> threading.Thread:
    t = threading.Thread(target=agent.run, daemon=True)
    t.start()
    return t


def test_audio_is_off_by_default_and_health_says_so(
    tmp_path: Path, media: Path, model_store: ModelStore
) -> None:
    agent = Agent(traffic_box(tmp_path, media, model_store.root, 1883), model_store)
    try:
        assert agent.audio is None
        health = agent.health().body()
        messages.validate("health", {**health, "seq": 0})
        assert health["audio"] == {"enabled": False, "legal_basis": None}
    finally:
        agent.outbox.close()


def test_gunshot_file_gives_one_event_over_mqtt_and_health_names_the_legal_basis(
    tmp_path: Path, media: Path, model_store: ModelStore, broker: LocalBroker, spy: Spy
) -> None:
    audio = {"enabled": True, "legal_basis": "AIPD-2026-014 (arrêté préfectoral)",
             "file": str(media / GUNSHOT), "realtime": True}
    cfg = traffic_box(tmp_path, media, model_store.root, broker.port, audio, health_s=1)
    agent = Agent(cfg, model_store)
    assert agent.audio is not None
    runner = start(agent)
    try:
        health = wait_for(lambda: [h for h in spy.of("health") if h["audio"]["enabled"]], 15,
                          what="a health message while audio listens")[0]
        assert health["audio"]["legal_basis"] == "AIPD-2026-014 (arrêté préfectoral)"
        wait_for(agent.audio.done.is_set, 30, what="the 10 s recording to be heard")
        events = wait_for(lambda: [e for e in spy.of("event") if e["state"] == "end"] and spy.of("event"),
                          15, what="the gunshot event's start and end")
    finally:
        agent.stop()
        runner.join(30)
        agent.shutdown()
    assert [e["state"] for e in events] == ["start", "end"]
    assert len({e["id"] for e in events}) == 1  # shots plus echoes = one event
    for e in events:
        messages.validate("event", e)
        assert e["type"] == "gunshot" and e["zone"] is None and e["objects"] == []
        assert e["model"] == {"name": "yamnet", "sha256": model_store.sha256("yamnet")}
        assert set(e["measure"]) == {"confidence", "impulses", "first_impulse_s", "delay_s"}
    assert events[1]["measure"]["impulses"] >= 2
    assert events[1]["ended_at"] is not None

    # the hub stores what the box sent: one gunshot alert, and the camera's legal basis
    hub = HubConfig(database=tmp_path / "hub.sqlite", api_tokens={"t0k": "ops"})
    ingest = Ingest(hub)
    results = [ingest.handle(t, p) for t, p in list(spy.raw)]
    assert "rejected" not in results
    api = create_app(hub).test_client()
    alerts = api.get("/api/v1/alerts", headers=AUTH).json["alerts"]  # type: ignore[index]
    assert [(a["type"], a["id"]) for a in alerts] == [("gunshot", events[0]["id"])]
    cams = api.get("/api/v1/cameras", headers=AUTH).json["cameras"]  # type: ignore[index]
    assert cams[0]["health"]["audio"]["legal_basis"] == "AIPD-2026-014 (arrêté préfectoral)"


def _snapshot(root: Path) -> dict[str, tuple[int, int]]:
    out = {}
    for dirpath, _dirs, files in os.walk(root):
        for name in files:
            st = os.stat(os.path.join(dirpath, name))
            out[os.path.relpath(os.path.join(dirpath, name), root)] = (st.st_size, st.st_mtime_ns)
    return out


def test_nothing_under_the_data_dir_grows_while_audio_runs(
    tmp_path: Path, media: Path, model_store: ModelStore, broker: LocalBroker, spy: Spy
) -> None:
    audio = {"enabled": True, "legal_basis": "AIPD-2026-014", "file": str(media / SPEECH),
             "loop": True, "realtime": True, "gate_rise_db": 0.0}
    cfg = traffic_box(tmp_path, media, model_store.root, broker.port, audio)
    agent = Agent(cfg, model_store)
    assert agent.audio is not None
    runner = start(agent)
    try:
        runner.join(60)  # the 20 video frames are done; audio goes on listening
        assert not runner.is_alive()
        wait_for(lambda: spy.of("state"), 10, what="the box online")
        wait_for(lambda: agent.audio is not None and agent.audio.detector.windows >= 2, 10,
                 what="audio windows")
        before = _snapshot(cfg.data_dir)
        runs_before = agent.audio.detector.model_runs
        wait_for(lambda: agent.audio is not None and agent.audio.detector.model_runs >= runs_before + 8, 20,
                 what="eight more windows through YAMNet")
        after = _snapshot(cfg.data_dir)
        assert agent.audio.listening and agent.audio.error is None
    finally:
        agent.shutdown()
    assert set(before) <= {"outbox.sqlite", "outbox.sqlite-wal", "outbox.sqlite-shm", "egress-ledger.jsonl",
                           "index.sqlite", "index.sqlite-wal", "index.sqlite-shm",  # track index
                           "suppressions.sqlite"}  # the hub's false-alarm suppressions
    assert after == before  # no file appeared, grew or was rewritten
    assert spy.of("event") == []
