"""End to end, all real: Mosquitto, hub ingest + HTTP server, and an edge agent running YOLOX-nano
on the real sample video. An intrusion with a person reaches the API, is acknowledged, and the
acknowledgement survives a hub restart."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import requests

from central.devtools.broker import LocalBroker, free_port, wait_port
from edge.modelstore import ModelStore
from edge.outbound.ledger import read, verify_chain
from edge.wire.messages import validate
from tests.conftest import wait_for
from tests.kits import scenes

pytestmark = pytest.mark.e2e
TOKEN = "e2e-token"


def api(port: int, path: str, method: str = "GET", **kw: object) -> requests.Response:
    return requests.request(method, f"http://127.0.0.1:{port}{path}",
                            headers={"Authorization": f"Bearer {TOKEN}"}, timeout=10, **kw)  # type: ignore[arg-type]


def test_intrusion_end_to_end(
    tmp_path: Path, broker: LocalBroker, spawn, person_video_short: Path,  # type: ignore[no-untyped-def]
    model_store: ModelStore,
) -> None:
    http = free_port()
    hub_cfg, box_cfg = scenes.write_person_scene(tmp_path, person_video_short, broker_port=broker.port,
                                                 http_port=http, token=TOKEN)
    env = {"VIGIE_MODELS": str(model_store.root)}
    ingest, serve = scenes.serve_hub(spawn, hub_cfg, http)
    agent = spawn("agent", "edge", "run", str(box_cfg), env=env)

    def intrusion() -> dict | None:  # type: ignore[type-arg]
        alerts = api(http, "/api/v1/alerts?status=new").json()["alerts"]
        return next((a for a in alerts if a["type"] == "intrusion"), None)

    alert = wait_for(intrusion, 120, interval=0.5, what="an intrusion alert")
    assert alert["zone"] == "table" and alert["camera"] == "cam-01"
    assert {o["label"] for o in alert["objects"]} == {"person"}
    assert requests.get(f"http://127.0.0.1:{http}/api/v1/alerts", timeout=5).status_code == 401

    r = api(http, f"/api/v1/alerts/{alert['id']}/ack", "POST", json={"comment": "seen on screen 3"})
    assert r.status_code == 200, r.text
    assert r.json()["status"] == "acknowledged" and r.json()["acked_by"] == "alice"
    assert api(http, f"/api/v1/alerts/{alert['id']}/ack", "POST", json={}).status_code == 409

    # the agent reaches the end of the file, closes open events and empties its outbox
    assert agent.proc.wait(180) == 0, agent.text()[-3000:]
    assert "0 message(s) left in the outbox" in agent.text()

    # restart the hub (both processes): the acknowledgement is durable
    serve.stop()
    ingest.stop()
    serve2 = spawn("serve2", "hub", "serve", "--config", str(hub_cfg))
    assert wait_port(http, 30, serve2.proc), serve2.text()
    after = api(http, f"/api/v1/alerts/{alert['id']}").json()
    assert after["status"] == "acknowledged" and after["ack_comment"] == "seen on screen 3"

    import sqlite3

    con = sqlite3.connect(tmp_path / "hub.sqlite")
    payloads = [json.loads(p) for (p,) in con.execute("SELECT payload FROM events")]
    assert payloads
    for p in payloads:
        validate("event", p)
    audit = con.execute("SELECT actor, action, subject FROM audit").fetchall()
    assert ("alice", "alert.ack", alert["id"]) in audit
    # several visitors stop at the table over the video: several situations, each one start+end
    states = dict(con.execute("SELECT state, COUNT(*) FROM events GROUP BY state").fetchall())
    assert states.get("end", 0) >= 3 and states.get("start", 0) == 0
    # the box's ledger is an intact chain that covers every event message the hub stored
    entries = list(read(tmp_path / "box-data" / "egress-ledger.jsonl"))
    verify_chain(entries)
    seqs = {e.seq for e in entries if e.dest.endswith("/event")}
    assert {p["seq"] for p in payloads} <= seqs
    cams = api(http, "/api/v1/cameras").json()["cameras"]
    assert cams[0]["camera"] == "cam-01" and cams[0]["state"] == "offline"
    health = cams[0]["health"]
    assert health["fps_processed"] > 0 and health["inference_ms_p95"] >= health["inference_ms_p50"] > 0
    det = health["detector"]
    assert (det["model"], det["backend"]) == ("yolox-nano", "onnxruntime")
    # motion gating is on by default: the detector ran on only part of the frames
    assert det["gate_runs"] > 0 and det["gate_skips"] > det["gate_runs"]
