"""`vigie sim` boxes keep an egress ledger and publish signed digests the hub verifies clean."""

from __future__ import annotations

import time
from pathlib import Path

from central.config import HubBroker, HubConfig, PrivacyVerifyConfig
from central.devtools.broker import LocalBroker
from central.devtools.sim import SimSettings, Simulator
from central.ingest.receipts import enrol_device
from central.ingest.subscriber import Ingest
from central.privacy.egress_verify import verify_camera
from tests.conftest import wait_for


def test_simulated_boxes_publish_verifiable_digests(tmp_path: Path, broker: LocalBroker) -> None:
    ingest = Ingest(HubConfig(database=tmp_path / "hub.sqlite", broker=HubBroker(port=broker.port),
                              privacy=PrivacyVerifyConfig(verify_every_s=3600)))
    sim = Simulator(SimSettings(cameras=3, event_rate=1.0, duration_s=3.0, port=broker.port,
                                site="simled", digest_every_s=1.0))
    for who, key in sim.public_keys().items():
        site, cam = who.split("/")
        enrol_device(ingest.db, site, cam, key, "test")
    ingest.start()
    try:
        wait_for(ingest.connected.is_set, 10, what="ingest connection")
        report = sim.run()
        assert report.failed == 0 and report.published["ledger"] >= 6
        total = sum(report.published.values())
        wait_for(lambda: sum(ingest.counts.values()) >= total, 15, what="hub ingested everything")
    finally:
        ingest.stop()
    assert ingest.counts["rejected"] == 0
    for i in range(3):
        rep = verify_camera(ingest.db, "simled", f"cam-{i:04d}", grace_s=0.5, now=time.time() + 1)
        assert rep.findings == (), rep.findings
        assert rep.status == "ok" and rep.digests >= 2 and rep.entries > 5
    # a box whose key the hub has is caught when something else signs for it
    sigs = ingest.db.execute("SELECT COUNT(*) FROM digests WHERE sig_ok = 1").fetchone()[0]
    assert sigs == report.published["ledger"]
