"""End to end with clips, all real: Mosquitto, hub ingest + HTTP server, and an edge agent
running YOLOX-nano on the sample video (its first three visitors) with clips on. An
intrusion's clip reaches the hub through the ledgered HTTP PUT; it decodes with OpenCV, lasts
its pre-roll + post-roll ± 1 s, and its bytes hash to the sha256 the event message carries.
The file is replayed faster than real time, so ``max_pending`` is raised for every event to
get its clip (with the default, 4, a fifth overlapping event gets clip status "failed", by
design)."""

from __future__ import annotations

import hashlib
import sqlite3
from pathlib import Path

import cv2
import pytest
import requests

from central.devtools.broker import LocalBroker, free_port
from edge.modelstore import ModelStore
from edge.outbound.ledger import read, verify_chain
from tests.conftest import wait_for
from tests.kits import scenes

pytestmark = [pytest.mark.e2e, pytest.mark.slow]
TOKEN = "e2e-operator-token"
DEVICE = "e2e-device-token-cam-01-abcdef"


PRE_S, POST_S = 3, 5
"""The clips' pre-roll and post-roll (shorter than the defaults, 5 s and 5 s: fewer frames
to anonymise and encode; the clip must still hold both whole)."""


def api(port: int, path: str) -> requests.Response:
    return requests.get(f"http://127.0.0.1:{port}{path}", headers={"Authorization": f"Bearer {TOKEN}"},
                        timeout=10)


def test_intrusion_clip_reaches_the_hub(
    tmp_path: Path, broker: LocalBroker, spawn, person_video_short: Path,  # type: ignore[no-untyped-def]
    model_store: ModelStore,
    output_dir: Path,
) -> None:
    http = free_port()
    hub_cfg, box_cfg = scenes.write_person_scene(
        tmp_path, person_video_short, broker_port=broker.port, http_port=http, token=TOKEN,
        device=DEVICE, masks=[scenes.SHOP_WINDOW],
        clips={"pre_s": PRE_S, "post_s": POST_S, "retry_initial_s": 0.5, "shutdown_wait_s": 600,
               "max_pending": 16})
    scenes.serve_hub(spawn, hub_cfg, http)
    agent = spawn("agent", "edge", "run", str(box_cfg), env={"VIGIE_MODELS": str(model_store.root)})

    def uploaded() -> list[dict]:  # type: ignore[type-arg]
        alerts = api(http, "/api/v1/alerts").json()["alerts"]
        return [a for a in alerts if a["type"] == "intrusion" and a["clip"]["status"] == "uploaded"]

    wait_for(uploaded, 240, interval=1.0, what="an intrusion whose clip is uploaded")
    assert agent.proc.wait(420) == 0, agent.text()[-3000:]
    assert "0 message(s) left in the outbox" in agent.text(), agent.text()[-3000:]
    def all_uploaded() -> list[dict] | None:  # type: ignore[type-arg]
        every = [a for a in api(http, "/api/v1/alerts").json()["alerts"] if a["type"] == "intrusion"]
        done = uploaded()
        return done if len(done) == len(every) else None

    alerts = wait_for(all_uploaded, 20, what="every intrusion to have its clip uploaded")
    durations = []
    for alert in alerts:
        r = api(http, f"/api/v1/events/{alert['id']}/clip")
        assert r.status_code == 200 and r.headers["Content-Type"] == "video/webm"
        assert hashlib.sha256(r.content).hexdigest() == alert["clip"]["sha256"]
        path = output_dir / f"{alert['id']}.webm"
        path.write_bytes(r.content)
        cap = cv2.VideoCapture(str(path))
        n = 0
        while True:
            ok, frame = cap.read()
            if not ok:
                break
            n += 1
            # the privacy mask (top-left 15 % x 30 % of 768x432) is black, inside its edge
            assert frame[:122, :107].max() <= 6
        fps = cap.get(cv2.CAP_PROP_FPS)
        assert n > 0 and fps > 0
        durations.append(n / fps)
    # every intrusion of the sample video is more than PRE_S after its start: whole pre + post
    assert len(durations) >= 3 and all(abs(d - (PRE_S + POST_S)) <= 1.0 for d in durations), durations

    con = sqlite3.connect(tmp_path / "hub.sqlite")
    views = con.execute("SELECT COUNT(*) FROM audit WHERE action = 'clip.view'").fetchone()[0]
    assert views == len(alerts)
    stored = {sha for (sha,) in con.execute("SELECT sha256 FROM clips")}
    assert {a["clip"]["sha256"] for a in alerts} <= stored
    # every upload went through the ledger with the clip's hash; the chain is intact
    entries = list(read(tmp_path / "box-data" / "egress-ledger.jsonl"))
    verify_chain(entries)
    http_entries = {(e.dest, e.sha256) for e in entries if e.kind == "http"}
    for a in alerts:
        assert (f"/api/v1/events/{a['id']}/clip", a["clip"]["sha256"]) in http_entries
    # the box keeps no clip once the hub has it
    assert list((tmp_path / "box-data" / "clips").glob("*.webm")) == []
