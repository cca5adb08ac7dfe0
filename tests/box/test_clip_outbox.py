"""The box's clip uploads live in the outbox: a refused-for-now upload (event not at the hub
yet) is retried with backoff, survives a restart of the agent, and once stored at the hub
the event's latest message goes out again with the clip's status and sha256."""

from __future__ import annotations

import json
import shutil
import time
from pathlib import Path

from central import db as hubdb
from edge.clips.encode import ClipFile
from edge.clips.flow import INTERRUPTED, ClipFlow, backoff
from edge.config import BoxConfig, SourceConfig
from edge.config_wings import ClipsConfig, UploadConfig
from edge.modelstore import ModelStore
from edge.outbound.ledger import Ledger
from edge.outbound.outbox import Outbox
from edge.wire.messages import EventMessage, utc_iso, uuid7
from tests.conftest import wait_for
from tests.kits.clipkit import DEVICE, Hub, clip, hub  # noqa: F401  (fixtures)


def test_backoff_doubles_up_to_the_limit() -> None:
    assert [backoff(n, 2.0, 30.0) for n in (1, 2, 3, 4, 5, 9)] == [2.0, 4.0, 8.0, 16.0, 30.0, 30.0]


def test_clip_upload_retries_survive_a_restart(
    hub: Hub, clip: ClipFile, tmp_path: Path, model_store: ModelStore,  # noqa: F811
) -> None:
    cfg = BoxConfig(
        site="marseille", camera="cam-042", data_dir=tmp_path / "box",
        source=SourceConfig(url=str(tmp_path / "none.mp4")),
        upload=UploadConfig(hub_url=hub.url, device_token=DEVICE),
        clips=ClipsConfig(anonymize="persons", retry_initial_s=0.2, retry_max_s=0.5),
    )
    ledger = Ledger(tmp_path / "ledger.jsonl")
    outbox = Outbox(tmp_path / "outbox.sqlite")
    msg = EventMessage(  # an event the hub has not ingested yet: uploads get 404
        id=uuid7(), site="marseille", camera="cam-042", type="intrusion", state="start",
        severity="warning", started_at=utc_iso(time.time()), ended_at=None, zone=None,
        objects=(), measure={}, model_name="yolox-nano", model_sha256="e8" * 32, clip_status="pending",
    )
    local = tmp_path / "box" / "clips" / f"{msg.id}.webm"
    local.parent.mkdir(parents=True)
    shutil.copy(clip.path, local)
    outbox.put("clip", {"event_id": msg.id, "path": str(local), "sha256": clip.sha256,
                        "bytes": clip.bytes, "message": msg.to_json()})
    flow = ClipFlow(cfg, model_store, outbox, ledger, lambda: None)
    wait_for(lambda: outbox.pending(1, kinds=("clip",))[0].attempts >= 2, 20, what="two 404 attempts")
    flow.stop()
    outbox.close()
    assert local.exists() and hub.clip_rows() == 0

    # the hub ingests the event; the agent restarts with the same outbox and ledger file
    wire = {**msg.to_wire(1)}
    hubdb.upsert_event(hub.db(), wire, json.dumps(wire))
    outbox = Outbox(tmp_path / "outbox.sqlite")
    flow = ClipFlow(cfg, model_store, outbox, Ledger(tmp_path / "ledger.jsonl"), lambda: None)
    wait_for(lambda: outbox.depth_of("clip") == 0, 20, what="the upload after the restart")
    flow.stop()
    assert hub.clip_rows() == 1 and not local.exists()
    rows = outbox.pending(10)
    assert [r.suffix for r in rows] == ["event"]
    update = EventMessage.from_json(rows[0].body)
    assert (update.id, update.state, update.clip_status, update.clip_sha256) == (
        msg.id, "start", "uploaded", clip.sha256)


def test_clip_config_refuses_no_anonymisation(tmp_path: Path) -> None:
    import pytest

    from edge.config import ConfigError, parse

    base = 'site = "a"\ncamera = "b"\n[source]\nurl = "x.mp4"\n'
    for value in ("none", "off", ""):
        with pytest.raises(ConfigError) as err:
            parse(base + f'[clips]\nanonymize = "{value}"\n', tmp_path / "box.toml")
        (problem,) = err.value.problems
        assert problem.line == 6 and problem.location == "clips.anonymize"
        assert "never sent without anonymisation" in problem.message
    with pytest.raises(ConfigError, match="at least 16 characters"):
        parse(base + '[upload]\nhub_url = "http://hub"\ndevice_token = "short"\n', tmp_path / "box.toml")
    cfg = parse(base + '[clips]\nanonymize = "faces"\n[[privacy_masks]]\nname = "w"\n'
                'polygon = [[0, 0], [0.5, 0], [0.5, 0.5]]\n', tmp_path / "box.toml")
    assert cfg.clips.anonymize == "faces" and cfg.clips.pre_s == 5 and cfg.clips.post_s == 5
    assert cfg.upload is None  # no [upload]: no clips are made


def test_interrupted_clip_jobs_are_settled_on_restart(
    hub: Hub, clip: ClipFile, tmp_path: Path, model_store: ModelStore,  # noqa: F811
) -> None:
    """Jobs a killed run left: one whose file was already encoded (renamed into place) goes up;
    one killed mid-encoding (only a ``.part.webm``) ends ``failed`` with the reason."""
    cfg = BoxConfig(
        site="marseille", camera="cam-042", data_dir=tmp_path / "box",
        source=SourceConfig(url=str(tmp_path / "none.mp4")),
        upload=UploadConfig(hub_url=hub.url, device_token=DEVICE),
        clips=ClipsConfig(anonymize="persons", retry_initial_s=0.2, retry_max_s=0.5),
    )
    outbox = Outbox(tmp_path / "outbox.sqlite")
    msgs = [EventMessage(
        id=uuid7(), site="marseille", camera="cam-042", type="intrusion", state="start",
        severity="warning", started_at=utc_iso(time.time()), ended_at=None, zone=None,
        objects=(), measure={}, model_name="yolox-nano", model_sha256="e8" * 32, clip_status="pending",
    ) for _ in range(2)]
    for m in msgs:
        wire = m.to_wire(1)
        hubdb.upsert_event(hub.db(), wire, json.dumps(wire))
        outbox.put("clipjob", {"event_id": m.id, "message": m.to_json()})
    clips = tmp_path / "box" / "clips"
    clips.mkdir(parents=True)
    shutil.copy(clip.path, clips / f"{msgs[0].id}.webm")  # encoded, not yet queued
    shutil.copy(clip.path, clips / f"{msgs[1].id}.part.webm")  # killed while encoding
    flow = ClipFlow(cfg, model_store, outbox, Ledger(tmp_path / "ledger.jsonl"), lambda: None)
    try:
        wait_for(lambda: hub.clip_rows() == 1 and outbox.depth_of("clip") == 0, 20,
                 what="the encoded clip uploaded")
    finally:
        flow.stop()
    assert outbox.depth_of("clipjob") == 0 and not list(clips.iterdir())
    updates = {u.id: u for u in (EventMessage.from_json(r.body) for r in outbox.pending(10))}
    assert (updates[msgs[0].id].clip_status, updates[msgs[0].id].clip_sha256) == ("uploaded", clip.sha256)
    failed = updates[msgs[1].id]
    assert (failed.clip_status, failed.clip_reason) == ("failed", INTERRUPTED)
    assert failed.to_wire(2)["clip"] == {"status": "failed", "sha256": None, "reason": INTERRUPTED}
    outbox.close()
