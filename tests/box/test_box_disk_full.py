"""A real agent whose data disk (a real tmpfs) fills up: the ledger stays whole, health says the
disk is full while it is, no event is lost, and the agent starts again afterwards.

Real parts: the ``vigie edge run`` process on the real video with YOLOX-nano, a real
Mosquitto, the hub's ``vigie hub ingest`` (signed ledger digests verified) and a subscriber,
a 48 MiB tmpfs or loop-mounted ext4 as the box's data disk.
"""

from __future__ import annotations

import json
import re
import sqlite3
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner

from central import db as hubdb
from central.devtools.broker import LocalBroker
from central.privacy.egress_verify import verify_camera
from edge.cli import main
from edge.modelstore import ModelStore
from edge.outbound.ledger import read, verify_chain
from edge.wire.ledger_entries import REPAIR_KIND
from edge.wire.messages import validate
from tests.conftest import wait_for
from tests.kits import scenes
from tests.kits.brokerkit import Spy
from tests.kits.diskkit import SmallDisk, mounted

pytestmark = pytest.mark.e2e
EVENT_LINE = re.compile(r"INFO edge\.pipeline: event \w+ (start|end) ([0-9a-f-]{36}) ")


@pytest.fixture(params=["tmpfs", "ext4"])
def small_disk(tmp_path: Path, request: pytest.FixtureRequest) -> Iterator[SmallDisk]:
    """The box's data disk: a 48 MiB tmpfs, or ext4 on a loop device (as the box image has)."""
    with mounted(tmp_path / "disk", "48M", request.param) as disk:
        yield disk


def box_toml(tmp: Path, data_dir: Path, port: int, video: Path) -> Path:
    return scenes.write(tmp / "box.toml", scenes.box_scene(
        video, data_dir=data_dir, loop=True, broker_port=port, ledger={"interval_s": 2},
        zones=[scenes.TABLE], rules=[scenes.intrusion(dwell_s=2)]))


def events_logged(text: str) -> list[tuple[str, str]]:
    """(state, id) of every event message the agent produced, from its log, in order."""
    return [(m.group(1), m.group(2)) for m in EVENT_LINE.finditer(text)]


def hub_rows(database: Path, sql: str) -> list:  # type: ignore[type-arg]
    con = sqlite3.connect(database)
    try:
        return con.execute(sql).fetchall()
    finally:
        con.close()


def check_ledger(path: Path) -> list:  # type: ignore[type-arg]
    data = path.read_bytes()
    assert data.endswith(b"\n"), "torn last line"
    for line in data.splitlines():
        json.loads(line)  # every line whole
    entries = list(read(path))
    verify_chain(entries)
    return entries


def test_agent_survives_a_full_disk(
    tmp_path: Path, small_disk: SmallDisk, broker: LocalBroker, spawn, media: Path,  # type: ignore[no-untyped-def]
    model_store: ModelStore,
) -> None:
    data = small_disk.root / "data"
    cfg = box_toml(tmp_path, data, broker.port, media / "video" / "one-by-one-person-detection.mp4")
    env = {"VIGIE_MODELS": str(model_store.root)}
    hub_cfg = tmp_path / "hub.toml"
    hub_cfg.write_text(f'database = "hub.sqlite"\n[broker]\nport = {broker.port}\n')
    ingest = spawn("ingest", "hub", "ingest", "--config", str(hub_cfg))
    wait_for(lambda: "subscribed" in ingest.text(), 20, what="ingest subscription")
    enrol = CliRunner().invoke(main, ["edge", "enrol", str(cfg)])  # the box key, on the small disk
    assert enrol.exit_code == 0, enrol.output
    public = enrol.output.split()[-1]
    reg = CliRunner().invoke(main, ["hub", "enrol-box", "--config", str(hub_cfg), "--site", "test",
                                    "--camera", "cam-01", "--public-key", public])
    assert reg.exit_code == 0, reg.output
    spy = Spy(broker.port, client_id="disk-spy")
    try:
        agent = spawn("agent", "edge", "run", str(cfg), env=env)
        wait_for(lambda: spy.of("event"), 240, interval=0.5, what="a first event at the broker")

        left = small_disk.fill()
        assert left == 0
        full_from = len(agent.text())
        full_at = time.time()

        def full_health() -> dict | None:  # type: ignore[type-arg]
            return next((h for h in spy.of("health") if h.get("disk_full")
                         and h["ts"] >= time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(full_at))), None)

        health = wait_for(full_health, 60, interval=0.5, what="a health message saying disk full")
        validate("health", health)
        assert health["disk_free_bytes"] is not None and health["disk_free_bytes"] < 1 << 20

        # events go on while the disk is full: at least two are produced then
        def while_full() -> list[tuple[str, str]]:
            got = events_logged(agent.text()[full_from:])
            healths = [h for h in spy.of("health") if h.get("disk_full")]
            return got if len(got) >= 2 and len(healths) >= 5 else []

        produced = wait_for(while_full, 300, interval=1, what="events produced while the disk is full")
        assert agent.alive(), agent.text()[-3000:]
        full_log = agent.text()[full_from:]
        errors = [ln for ln in full_log.splitlines() if " ERROR " in ln]
        assert len(errors) <= 8, "\n".join(errors[:20])  # once per failing part, not per retry
        assert "Traceback" not in full_log, full_log[-3000:]
        healths_while_full = len([h for h in spy.of("health") if h.get("disk_full")])
        assert healths_while_full >= 5

        small_disk.free()
        received = lambda: {(m["state"], m["id"]) for m in spy.of("event")}  # noqa: E731
        wait_for(lambda: set(produced) <= received(), 120, interval=0.5,
                 what="every event produced while full at the broker after space returned")
        wait_for(lambda: any(h.get("disk_full") is False for h in spy.of("health")[-3:]), 30,
                 what="health no longer saying disk full")
        assert agent.stop() == 0, agent.text()[-3000:]
        assert set(events_logged(agent.text())) <= received()  # nothing lost, also at shutdown
        entries = check_ledger(data / "egress-ledger.jsonl")
        assert not [e for e in entries if e.kind == REPAIR_KIND]  # appends stayed whole
        health_entries = [e for e in entries if e.dest.endswith("/health") and e.ts >= full_at]
        assert len(health_entries) >= healths_while_full

        # the agent starts again, even on a ledger whose tail was torn (as the old code left
        # it: a short write, then the next entry on the same line), and its chain verifies
        ledger = data / "egress-ledger.jsonl"
        last = ledger.read_bytes().splitlines(keepends=True)[-1]
        with ledger.open("ab") as f:
            f.write(last[:25] + last)
        again = spawn("agent2", "edge", "run", str(cfg), env=env)
        n = len(spy.of("health"))
        wait_for(lambda: len(spy.of("health")) > n + 1, 120, interval=0.5, what="health after restart")
        assert again.stop() == 0, again.text()[-3000:]
        repairs = [e for e in check_ledger(ledger) if e.kind == REPAIR_KIND]
        assert [r.bytes for r in repairs] == [len(last) + 25]
        assert "torn tail" in again.text()

        def hub(sql: str) -> list:  # type: ignore[type-arg]
            return hub_rows(tmp_path / "hub.sqlite", sql)

        # the hub got signed digests of the whole ledger, repair entry included: no finding
        digested = {e["seq"] for d in spy.of("ledger") for e in d["entries"]}
        wait_for(lambda: hub("SELECT COUNT(*) FROM digests")[0][0] >= len(spy.of("ledger")),
                 30, what="every digest stored at the hub")
        assert digested == set(range(1, max(digested) + 1))
        assert hub("SELECT COUNT(*) FROM ledger_entries WHERE kind = 'repair'")[0][0] == 1
        assert hub("SELECT COUNT(*) FROM rejected")[0][0] == 0
        db = hubdb.connect(tmp_path / "hub.sqlite")
        report = verify_camera(db, "test", "cam-01", grace_s=0.0, now=time.time() + 1)
        assert report.findings == (), report.findings
        assert json.loads(hub("SELECT health FROM cameras")[0][0])["disk_full"] is False
    finally:
        spy.stop()
