"""The privacy officer's command line end to end: a real agent (enrolled with its key) on a real
video through Mosquitto to the hub's ingest; `vigie privacy verify` finds the egress clean; a
ledger exported on the box and then edited is caught, naming the sequence number."""

from __future__ import annotations

import json
import sqlite3
import time
from pathlib import Path

import pytest
from click.testing import CliRunner

from central.devtools.broker import LocalBroker
from edge.cli import main
from edge.modelstore import ModelStore
from tests.conftest import wait_for
from tests.kits import scenes

pytestmark = pytest.mark.e2e


def test_verify_export_and_edited_ledger(
    tmp_path: Path, broker: LocalBroker, spawn, media: Path, model_store: ModelStore  # type: ignore[no-untyped-def]
) -> None:
    hub = scenes.write(tmp_path / "hub.toml", scenes.hub_scene(
        broker_port=broker.port, privacy={"grace_s": 0.5, "verify_every_s": 0.5}))
    box = scenes.write(tmp_path / "box.toml", scenes.box_scene(
        media / scenes.TRAFFIC_VIDEO, data_dir=tmp_path / "box-data", models_dir=model_store.root,
        broker_port=broker.port, ledger={"interval_s": 0.5, "require_key": True}))
    runner = CliRunner()
    r = runner.invoke(main, ["edge", "run", str(box)])
    assert r.exit_code != 0 and "vigie edge enrol" in r.output  # no key yet, and one is required
    r = runner.invoke(main, ["edge", "enrol", str(box)])
    assert r.exit_code == 0, r.output
    site_cam, public = r.output.split()[-2:]
    assert site_cam == "test/cam-01"
    r = runner.invoke(main, ["hub", "enrol-box", "--config", str(hub), "--site", "test",
                             "--camera", "cam-01", "--public-key", public])
    assert r.exit_code == 0, r.output

    env = {"VIGIE_MODELS": str(model_store.root)}
    ingest = spawn("ingest", "hub", "ingest", "--config", str(hub))
    wait_for(lambda: "subscribed" in ingest.text(), 20, what="ingest subscription")
    agent = spawn("agent", "edge", "run", str(box), env=env)
    wait_for(lambda: not agent.alive(), 120, what="agent end of video")
    assert agent.proc.returncode == 0, agent.text()
    ledger_lines = (tmp_path / "box-data" / "egress-ledger.jsonl").read_text().splitlines()

    def digested() -> int:
        con = sqlite3.connect(tmp_path / "hub.sqlite")
        try:
            return int(con.execute("SELECT COALESCE(MAX(head_seq), 0) FROM digests").fetchone()[0])
        finally:
            con.close()

    # everything but the last digest's own entry and the final "offline" is digested
    wait_for(lambda: digested() >= len(ledger_lines) - 2, 30, what="final digest at the hub")
    time.sleep(1.0)  # past the grace period
    out = tmp_path / "report"
    r = runner.invoke(main, ["privacy", "verify", "--config", str(hub), "-o", str(out)])
    assert r.exit_code == 0, r.output
    doc = json.loads((out / "report.json").read_text())
    [cam] = doc["cameras"]
    assert (cam["site"], cam["camera"], cam["status"]) == ("test", "cam-01", "ok")
    assert cam["findings"] == [] and cam["digests"] >= 1
    assert "test" in (out / "report.html").read_text()

    export = tmp_path / "export.jsonl"
    r = runner.invoke(main, ["edge", "ledger", "export", str(box), "-o", str(export)])
    assert r.exit_code == 0 and "chain intact" in r.output, r.output
    r = runner.invoke(main, ["privacy", "verify", "--config", str(hub), "--ledger", str(export),
                             "-o", str(out)])
    assert r.exit_code == 0, r.output

    lines = export.read_text().splitlines()
    e = json.loads(lines[2])
    e["bytes"] += 1  # the box's ledger edited after the fact
    lines[2] = json.dumps(e, sort_keys=True, separators=(",", ":"))
    export.write_text("\n".join(lines) + "\n")
    r = runner.invoke(main, ["privacy", "verify", "--config", str(hub), "--ledger", str(export),
                             "--camera", "cam-01", "-o", str(out)])
    assert r.exit_code == 1, r.output
    assert f"seq {e['seq']}: entry_edited" in r.output
    # the same edit with the entry's hash recomputed: it now differs from what was signed
    from edge.wire.ledger_entries import entry_hash

    e["hash"] = entry_hash(e["prev"], {k: v for k, v in e.items() if k != "hash"})
    lines[2] = json.dumps(e, sort_keys=True, separators=(",", ":"))
    export.write_text("\n".join(lines) + "\n")
    r = runner.invoke(main, ["privacy", "verify", "--config", str(hub), "--ledger", str(export),
                             "--camera", "cam-01", "-o", str(out)])
    assert r.exit_code == 1, r.output
    assert f"seq {e['seq']}: export_differs" in r.output
    assert f"seq {e['seq']}: entry_edited" not in r.output
    doc = json.loads((out / "report.json").read_text())
    assert "export_differs" in {f["kind"] for f in doc["cameras"][0]["findings"]}
    con = sqlite3.connect(tmp_path / "hub.sqlite")
    assert con.execute("SELECT COUNT(*) FROM audit WHERE action = 'privacy.verify'").fetchone()[0] == 4
    assert con.execute("SELECT seq, kind FROM privacy_alerts WHERE kind = 'export_differs'"
                       ).fetchall() == [(e["seq"], "export_differs")]
