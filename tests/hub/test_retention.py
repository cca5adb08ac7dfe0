"""Retention with a controlled clock: old events and clips leave the database and the disk,
younger ones stay; a dry run deletes nothing; the config refuses more than 30 days."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from pydantic import ValidationError

from central import db as hubdb
from central.config import HubConfig
from central.ingest.clipstore import clip_path
from central.privacy.retention import DAY_S, purge
from edge.wire.messages import utc_iso, uuid7
from tests.kits.samples import sample_event

NOW = 1_800_000_000.0


def seed(db, clips_dir: Path, age_days: float, sha: str | None) -> str:  # type: ignore[no-untyped-def]
    msg = sample_event(id=uuid7(), started_at=utc_iso(NOW - age_days * DAY_S))
    hubdb.upsert_event(db, msg, json.dumps(msg))
    db.execute("UPDATE events SET received_at = ? WHERE id = ?",  # received as it started
               [NOW - age_days * DAY_S, msg["id"]])
    if sha:
        path = clip_path(clips_dir, sha)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(b"webm " + sha.encode())
        db.table("clips").insert({"event_id": msg["id"], "site": "marseille", "camera": "cam-042",
                                  "sha256": sha, "bytes": 10, "stored_at": NOW - age_days * DAY_S})
    return str(msg["id"])


def test_purge_removes_old_events_and_clips_and_keeps_young_ones(tmp_path: Path) -> None:
    db = hubdb.connect(tmp_path / "hub.sqlite")
    clips = tmp_path / "clips"
    old1 = seed(db, clips, 12, "a" * 64)
    old2 = seed(db, clips, 10.01, None)
    shared_old = seed(db, clips, 11, "c" * 64)
    young = seed(db, clips, 9.9, "b" * 64)
    shared_young = seed(db, clips, 1, "c" * 64)  # same bytes as an old clip: the file must stay

    dry = purge(db, clips, 10, now=NOW, dry_run=True)
    assert set(dry.events) == {old1, old2, shared_old} and dry.dry_run
    assert dry.files == (clip_path(clips, "a" * 64),)
    assert db.execute("SELECT COUNT(*) FROM events").fetchone()[0] == 5  # nothing deleted
    assert clip_path(clips, "a" * 64).exists()

    report = purge(db, clips, 10, now=NOW)
    assert set(report.events) == {old1, old2, shared_old}
    assert set(report.clips) == {old1, shared_old}
    left = {r[0] for r in db.execute("SELECT id FROM events")}
    assert left == {young, shared_young}
    assert {r[0] for r in db.execute("SELECT event_id FROM clips")} == {young, shared_young}
    assert not clip_path(clips, "a" * 64).exists()
    assert clip_path(clips, "b" * 64).exists() and clip_path(clips, "c" * 64).exists()
    audit = db.execute("SELECT actor, action FROM audit").fetchall()
    assert audit == [("retention", "retention.purge")]
    # a day later the 9.9-day-old event goes too; a second run at the same time is a no-op
    assert purge(db, clips, 10, now=NOW).events == ()
    later = purge(db, clips, 10, now=NOW + DAY_S)
    assert later.events == (young,) and not clip_path(clips, "b" * 64).exists()


def test_retention_over_30_days_is_refused() -> None:
    with pytest.raises(ValidationError, match="less than or equal to 30"):
        HubConfig(retention_days=31)
    assert HubConfig().retention_days == 10


def test_purge_command_dry_run(tmp_path: Path) -> None:
    (tmp_path / "hub.toml").write_text('database = "hub.sqlite"\nretention_days = 10\n'
                                       '[clips]\ndir = "clips"\n')
    db = hubdb.connect(tmp_path / "hub.sqlite")
    old = seed(db, tmp_path / "clips", 400, "d" * 64)  # 400 days before NOW is long past today too
    db.conn.close()
    cmd = [sys.executable, "-m", "edge.cli", "hub", "purge", "--config", str(tmp_path / "hub.toml")]
    out = subprocess.run([*cmd, "--dry-run"], capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    assert f"would delete event {old}" in out.stdout
    assert clip_path(tmp_path / "clips", "d" * 64).exists()
    out = subprocess.run(cmd, capture_output=True, text=True, timeout=60)
    assert out.returncode == 0 and f"deleted event {old}" in out.stdout
    assert not clip_path(tmp_path / "clips", "d" * 64).exists()
    db = hubdb.connect(tmp_path / "hub.sqlite")
    assert db.execute("SELECT COUNT(*) FROM events").fetchone()[0] == 0


def test_purge_job_runs_in_the_background(tmp_path: Path) -> None:
    from central.privacy.retention import PurgeJob
    from tests.conftest import wait_for

    db = hubdb.connect(tmp_path / "hub.sqlite")
    seed(db, tmp_path / "clips", 400, "e" * 64)
    job = PurgeJob(tmp_path / "hub.sqlite", tmp_path / "clips", 10, interval_s=0.2)
    job.start()
    wait_for(lambda: db.execute("SELECT COUNT(*) FROM events").fetchone()[0] == 0, 10,
             what="the background purge")
    job.stop()
    assert not clip_path(tmp_path / "clips", "e" * 64).exists()
