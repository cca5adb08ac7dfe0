"""The load simulator publishes valid traffic as distinct boxes through a real broker."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from central.broker import LocalBroker
from central.config import HubBroker, HubConfig
from central.ingest import Ingest
from tests.conftest import wait_for


def test_vigie_sim_feeds_a_real_hub_without_rejections(tmp_path: Path, broker: LocalBroker) -> None:
    ingest = Ingest(HubConfig(database=tmp_path / "hub.sqlite",
                              broker=HubBroker(port=broker.port)))
    ingest.start()
    try:
        wait_for(ingest.connected.is_set, 10, what="ingest connection")
        run = subprocess.run(
            [str(Path(sys.executable).parent / "vigie"), "sim", "--cameras", "5", "--event-rate", "1",
             "--duration", "4", "--broker", f"127.0.0.1:{broker.port}", "--site", "testsite"],
            capture_output=True, text=True, timeout=60,
        )
        assert run.returncode == 0, run.stderr + run.stdout
        assert "5/5 connected" in run.stdout
        published = json.loads(run.stdout.split("published ")[1].split(", acked")[0].replace("'", '"'))
        want = published["event"] + published["health"] + published["state"] + published["stats"]
        assert published["event"] >= 10  # ~5 cameras x 1/s x 4 s, starts plus their ends
        wait_for(lambda: sum(ingest.counts.values()) >= want, 15, what="hub ingested everything")
    finally:
        ingest.stop()
    assert ingest.counts["rejected"] == 0
    db = ingest.db
    cams = {r["camera"]: r for r in db.query("select * from cameras where site = 'testsite'")}
    assert sorted(cams) == [f"cam-{i:04d}" for i in range(5)]
    assert all(r["state"] == "offline" for r in cams.values())
    events = list(db.query("select * from events where site = 'testsite'"))
    starts = published["event"] // 2
    assert len(events) == starts  # each start and its end share one id
    assert all(e["ended_at"] for e in events)
    assert {e["camera"] for e in events} <= set(cams)
