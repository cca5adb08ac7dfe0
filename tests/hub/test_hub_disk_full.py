"""The hub's own disk full: a real `vigie hub ingest` with its database on a real 4 MiB tmpfs.

While SQLite cannot write, ingest keeps the batch unacknowledged and retries (the broker holds
the rest); once space is freed everything is stored: count at the hub = count sent."""

from __future__ import annotations

import errno
import os
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from central.devtools.broker import LocalBroker
from tests.conftest import wait_for
from tests.kits.hostilekit import EVENT_TOPIC, count, hub_config, publish_all, publisher, valid_event


@pytest.fixture
def small_fs(tmp_path: Path) -> Iterator[Path]:
    """A 4 MiB tmpfs mounted for this test (the tests run as root)."""
    mount = tmp_path / "fs"
    mount.mkdir()
    subprocess.run(["mount", "-t", "tmpfs", "-o", "size=4m,mode=0700", "tmpfs", str(mount)],
                   check=True)
    try:
        yield mount
    finally:
        if subprocess.run(["umount", str(mount)], check=False).returncode != 0:
            subprocess.run(["umount", "-l", str(mount)], check=True)


def fill(path: Path) -> int:
    """Write ``path`` until the filesystem is full; returns the bytes written."""
    written = 0
    with path.open("wb", buffering=0) as f:
        for chunk in (1 << 20, 1 << 16, 1 << 12, 1 << 9, 1):
            while True:
                try:
                    written += f.write(b"\0" * chunk) or 0
                except OSError as exc:
                    if exc.errno != errno.ENOSPC:
                        raise
                    break
    return written


def test_ingest_stops_acknowledging_on_a_full_disk_and_stores_everything_after(
    small_fs: Path, tmp_path: Path, broker: LocalBroker, spawn: Any,
) -> None:
    database = small_fs / "hub.sqlite"
    cfg = hub_config(tmp_path, broker.port, database)
    ingest = spawn("ingest", "hub", "ingest", "--config", str(cfg))
    try:
        wait_for(lambda: "ingest connected" in ingest.text(), 30, what="ingest to connect")
        pub = publisher(broker.port)
        publish_all(pub, [(EVENT_TOPIC, valid_event()) for _ in range(20)])
        wait_for(lambda: count(database, "SELECT COUNT(*) FROM events") == 20, 30,
                 what="the first events")

        filler = small_fs / "filler"
        assert fill(filler) > 0
        sent = 20 + 600
        publish_all(pub, [(EVENT_TOPIC, valid_event()) for _ in range(600)])
        wait_for(lambda: ingest.text().count("database or disk is full") >= 3, 60,
                 what="ingest to retry on the full disk")
        assert ingest.alive()
        stored_while_full = count(database, "SELECT COUNT(*) FROM events")
        assert 20 <= stored_while_full < sent

        os.unlink(filler)
        wait_for(lambda: count(database, "SELECT COUNT(*) FROM events") == sent, 120,
                 what="every event once space is back")
        assert count(database, "SELECT COUNT(*) FROM receipts") == sent
        assert count(database, "SELECT COUNT(*) FROM quarantine") == 0
        assert ingest.alive()
        pub.loop_stop()
    finally:
        ingest.stop()
