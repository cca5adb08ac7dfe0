"""The load simulator publishes valid traffic as distinct boxes through a real broker."""

from __future__ import annotations

import calendar
import json
import subprocess
import sys
import time
from pathlib import Path

import pytest

from central.config import HubBroker, HubConfig
from central.devtools.broker import LocalBroker, start_broker
from central.ingest.subscriber import Ingest
from tests.conftest import wait_for


def parse_iso(text: str) -> float:
    """Seconds since the epoch of a wire timestamp like 2026-11-23T10:15:02.480Z."""
    return calendar.timegm(time.strptime(text[:19], "%Y-%m-%dT%H:%M:%S")) + int(text[20:23]) / 1000


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


@pytest.mark.slow
def test_vigie_sim_reconnects_every_camera_after_a_broker_restart(
    tmp_path: Path, broker: LocalBroker
) -> None:
    """Restart the broker mid-run: every simulated camera comes back online and keeps publishing."""
    ingest = Ingest(HubConfig(database=tmp_path / "hub.sqlite", broker=HubBroker(port=broker.port)))
    ingest.start()
    restarted = None
    cams = [f"cam-{i:04d}" for i in range(12)]
    try:
        wait_for(ingest.connected.is_set, 10, what="ingest connection")
        sim = subprocess.Popen(
            [str(Path(sys.executable).parent / "vigie"), "sim", "--cameras", "12", "--event-rate", "1",
             "--duration", "26", "--broker", f"127.0.0.1:{broker.port}", "--site", "restart"],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        )

        def online() -> int:
            return ingest.db.execute(
                "select count(*) from cameras where site = 'restart' and state = 'online'").fetchone()[0]

        wait_for(lambda: online() == 12, 20, what="12 simulated cameras online")
        wait_for(lambda: ingest.db.execute(
            "select count(distinct camera) from events where site = 'restart'").fetchone()[0] == 12,
            20, what="events from every camera before the restart")
        broker.stop()
        down_at = time.time()
        time.sleep(3)
        restarted = start_broker(broker.workdir, port=broker.port)
        up_at = time.time()
        out, err = sim.communicate(timeout=90)
        assert sim.returncode == 0, err[-3000:] + out
        assert "12/12 connected" in out and out.rstrip().endswith("reconnects 12"), out
        published = json.loads(out.split("published ")[1].split(", acked")[0].replace("'", '"'))
        assert published["state"] == 36  # online, online again after the reconnect, offline
        starts = published["event"] // 2
        wait_for(lambda: ingest.db.execute(
            "select count(*) from events where site = 'restart' and ended_at is not null"
        ).fetchone()[0] >= starts, 30, what="every simulated event at the hub")
    finally:
        ingest.stop()
        if restarted is not None:
            restarted.stop()
    db = ingest.db
    assert ingest.counts["rejected"] == 0
    rows = list(db.query("select camera, started_at from events where site = 'restart'"))
    assert len(rows) == starts  # nothing lost, nothing doubled by the redelivery
    after = {r["camera"] for r in rows if parse_iso(r["started_at"]) > up_at}
    assert after == set(cams), f"cameras silent after the restart: {set(cams) - after}"
    assert not [r for r in rows if down_at + 1 < parse_iso(r["started_at"]) < up_at], \
        "no camera published while the broker was down"
