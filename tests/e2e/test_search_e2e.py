"""Forensic search end to end, all real: car-detection.mp4 through a box pipeline
(person-vehicle-bike-2000 on OpenVINO, the track index, previews), Mosquitto, the hub's
ingest, its HTTP API and its signed fan-out, an investigator's session, the audit log.

Frame numbers below were checked by looking at the frames (contact sheets of every 2nd-4th
frame; also tests/data/car_detection_vehicles.md): the red car is in view from frame 188
(its bonnet at the bottom edge) to frame 236 (its boot leaving at the top)."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import cv2
import numpy as np
import pytest
import requests

from central.config import HubBroker, HubConfig
from central.devtools.broker import LocalBroker
from central.ingest.subscriber import Ingest
from edge.config import load
from edge.modelstore import ModelStore
from edge.pipeline import Agent
from edge.privacy.faces import FaceFinder
from edge.search.answer import parse_ts
from edge.wire.keys import generate_private
from edge.wire.messages import utc_iso
from tests.conftest import MEDIA, wait_for
from tests.kits import scenes
from tests.kits.hubkit import Hub, start_hub
from tests.kits.searchkit import install_hub_key

pytestmark = [pytest.mark.e2e, pytest.mark.slow]

FPS = 12.5
RED_VISIBLE = (188, 236)
OTHER_CARS = [  # (first visible frame, last visible frame, colour labelled by eye)
    (55, 105, "white"),
    (181, 229, "silver/grey"),
    (316, 347, "white"),
]
ABSENT_COLOURS = ("blue", "green", "yellow/orange", "brown/beige")


@dataclass
class Scene:
    hub: Hub
    agent: Agent
    first_wall: float
    first_index: int
    last_wall: float
    inv: requests.Session

    def frame_of(self, iso: str) -> float:
        return (parse_ts(iso) - self.first_wall) * FPS + self.first_index

    def search(self, **query: Any) -> dict[str, Any]:
        body = {"case": "PV-2026-0042", "reason": "hit and run near the car park exit",
                "start": utc_iso(self.first_wall - 1), "end": utc_iso(self.last_wall + 1), **query}
        r = self.inv.post(f"{self.hub.url}/api/v1/searches", json=body, timeout=20)
        assert r.status_code == 202, r.text
        url = self.hub.url + r.json()["url"]
        return wait_for(lambda: (lambda v: v if v["complete"] else None)(
            self.inv.get(url, timeout=10).json()), 20, what="search complete")  # type: ignore[no-any-return]


@pytest.fixture(scope="module")
def scene(tmp_path_factory: pytest.TempPathFactory, model_store: ModelStore) -> Iterator[Scene]:
    from central.devtools.broker import mosquitto_path, start_broker

    tmp = tmp_path_factory.mktemp("search-e2e")
    assert mosquitto_path() is not None, "Mosquitto is not installed"
    broker: LocalBroker = start_broker(tmp / "broker")
    key = generate_private(tmp / "hub.ed25519")
    hub_gen = start_hub(tmp, signing_key=tmp / "hub.ed25519",
                        broker=HubBroker(port=broker.port, client_id="e2e-hub"))
    hub = next(hub_gen)
    ingest = Ingest(HubConfig(database=hub.database, broker=HubBroker(port=broker.port)))
    ingest.start()
    box = scenes.write(tmp / "box.toml", scenes.box_scene(
        MEDIA / scenes.CAR_VIDEO, broker_port=broker.port, health_s=None,
        detector={"model": "person-vehicle-bike-2000-fp16", "backend": "openvino"}))
    cfg = load(box)
    install_hub_key(cfg.data_dir, key)
    agent = Agent(cfg, model_store)
    seen: list[tuple[int, float]] = []
    process = agent.process

    def watch(frame: Any) -> Any:
        seen.append((frame.index, frame.wall))
        return process(frame)

    agent.process = watch  # type: ignore[method-assign]
    agent.run()  # the whole video, not paced; the agent stays connected until shutdown
    assert len(seen) == 377
    db = hub.db()
    wait_for(lambda: db.execute("SELECT state FROM cameras WHERE key='test/cam-01'").fetchone()
             == ("online",), 10, what="camera online at the hub")
    db.conn.close()
    inv = hub.login("investigator")
    yield Scene(hub, agent, seen[0][1], seen[0][0], seen[-1][1], inv)
    agent.shutdown(2)
    ingest.stop()
    for fo in [hub.app.extensions.get("vigie_search")]:
        if fo is not None:
            fo.stop()
    next(hub_gen, None)
    broker.stop()


def test_red_car_found_with_its_time_range(scene: Scene) -> None:
    view = scene.search(**{"class": "car", "colour": "red"})
    assert view["progress"] == {"asked": 1, "answered": 1, "refused": 0, "offline": 0,
                                "pending": 0, "timed_out": 0}
    (red,) = view["results"]
    first, last = scene.frame_of(red["first_seen"]), scene.frame_of(red["last_seen"])
    # seen by the detector while in view: starts within 12 frames of its entry, ends within
    # 12 frames of its exit (the tracker needs a few frames to confirm and to drop it)
    assert RED_VISIBLE[0] - 1 <= first <= RED_VISIBLE[0] + 12, first
    assert RED_VISIBLE[1] - 12 <= last <= RED_VISIBLE[1] + 1, last
    assert red["camera"] == "cam-01" and red["site"] == "test" and red["class"] == "car"
    assert red["direction"] == "up"  # enters at the bottom, leaves at the top
    assert red["preview_url"]
    img = scene.inv.get(scene.hub.url + red["preview_url"], timeout=10)
    assert img.status_code == 200 and img.headers["Content-Type"] == "image/jpeg"
    still = cv2.imdecode(np.frombuffer(img.content, np.uint8), cv2.IMREAD_COLOR)
    b, g, r = still.reshape(-1, 3).mean(axis=0)
    assert r > b + 15 and r > g + 15, (b, g, r)  # the still shows the red car


def test_every_other_car_under_its_labelled_colour(scene: Scene) -> None:
    view = scene.search(**{"class": "car"})
    found = [(scene.frame_of(r["first_seen"]), scene.frame_of(r["last_seen"]), r["colour"])
             for r in view["results"]]
    assert view["results"] == sorted(view["results"], key=lambda r: r["first_seen"])
    def overlap(f: tuple[float, float, Any], lo: int, hi: int) -> float:  # IoU in time
        inter = min(f[1], hi) - max(f[0], lo)
        return max(inter, 0) / (max(f[1], hi) - min(f[0], lo))

    for lo, hi, colour in [*OTHER_CARS, (*RED_VISIBLE, "red")]:
        best = max(found, key=lambda f: overlap(f, lo, hi))
        assert overlap(best, lo, hi) > 0.6, (lo, hi, found)
        assert best[2] == colour, f"car in frames {lo}-{hi} labelled {colour}, found {best}"


@pytest.mark.parametrize("colour", ABSENT_COLOURS)
def test_a_colour_no_vehicle_has_returns_nothing(scene: Scene, colour: str) -> None:
    view = scene.search(colour=colour)
    assert view["complete"] and view["progress"]["answered"] == 1
    assert view["results"] == []


def test_previews_show_no_face(scene: Scene, model_store: ModelStore) -> None:
    rows = scene.agent.search.index.query(  # type: ignore[union-attr]
        __import__("edge.search.index", fromlist=["IndexQuery"]).IndexQuery(0, 2e9))
    previews = [r.preview for r in rows if r.preview]
    assert len(previews) >= 4
    check = FaceFinder(model_store.path("yunet"), 0.5, 2.0)
    for p in previews:
        assert check.find(cv2.imdecode(np.frombuffer(p, np.uint8), cv2.IMREAD_COLOR)) == []


def test_searches_and_preview_views_are_audited(scene: Scene) -> None:
    view = scene.search(**{"class": "car", "colour": "red"})
    (red,) = view["results"]
    scene.inv.get(scene.hub.url + red["preview_url"], timeout=10).raise_for_status()
    clip = scene.inv.post(scene.hub.url + red["clip_request_url"], timeout=10)
    assert clip.status_code == 404 and "aucun enregistrement vidéo" in clip.json()["message"]
    db = scene.hub.db()
    rows = [dict(zip(("actor", "action", "subject", "why"), r, strict=True)) for r in db.execute(
        "SELECT actor, action, subject, why FROM audit WHERE subject LIKE ?", [f"search {view['id']}%"])]
    db.conn.close()
    actions = [r["action"] for r in rows]
    assert actions == ["search", "search.preview", "search.clip_request"], rows
    for r in rows:
        assert r["actor"] == "investigator" and "PV-2026-0042" in r["why"], r
    # every search of the module is audited with requester and case
    db = scene.hub.db()
    searches = {r[0] for r in db.execute("SELECT id FROM searches")}
    audited = {r[0].split()[1] for r in db.execute("SELECT subject FROM audit WHERE action='search' "
                                                    "AND actor='investigator' AND why LIKE "
                                                    "'case PV-2026-0042:%'")}
    rejected = db.execute("SELECT COUNT(*) FROM quarantine").fetchone()[0]
    db.conn.close()
    assert searches and searches <= audited
    assert rejected == 0  # ingest leaves search/req and search/resp to the fan-out
    # the privacy officer lists them by requester and case; other investigators see nothing
    po = scene.hub.login("privacy-officer")
    listed = po.get(scene.hub.url + "/api/v1/privacy/searches",
                    params={"requester": "investigator", "case": "PV-2026-0042"}, timeout=10).json()
    assert {s["id"] for s in listed["searches"]} == searches
    assert po.get(scene.hub.url + f"/api/v1/searches/{view['id']}", timeout=10).status_code == 403
    page = po.get(scene.hub.url + "/privacy/searches?case=PV-2026-0042", timeout=10)
    assert page.status_code == 200 and "PV-2026-0042" in page.text
