"""A box killed (SIGKILL) while encoding or uploading a clip: after restart the clip ends
``failed`` with its reason, or is uploaded when its file is whole; never ``pending`` forever.
And the hub ends a clip still pending after its deadline.

Real parts: Mosquitto, the hub's ingest and HTTP server, the ``vigie edge run`` process on the
real video with YOLOX-nano and YuNet, and an HTTP relay in front of the hub that can stall an
upload (accept it, read it, never answer) the way a hung hub or network does.
"""

from __future__ import annotations

import contextlib
import json
import re
import socket
import sqlite3
import threading
import time
from pathlib import Path
from typing import Any

import pytest
import requests

from central import db as hubdb
from central.devtools.broker import LocalBroker, free_port
from central.ingest.camera_watch import Watch, expire_clips
from edge.clips.flow import INTERRUPTED
from edge.modelstore import ModelStore
from edge.outbound.ledger import read, verify_chain
from tests.conftest import wait_for
from tests.kits import scenes

pytestmark = [pytest.mark.e2e, pytest.mark.slow]
TOKEN = "kill-operator-token"
DEVICE = "kill-device-token-cam-01-abcdef"
PUT_LINE = re.compile(rb"PUT /api/v1/events/([0-9a-f-]{36})/clip ")
PRE_S, POST_S = 2, 4
"""Short clips (the defaults are 5 s and 5 s): the first one is encoded and uploaded sooner."""
UNSETTLED = ({"status": "pending", "sha256": None}, {"status": "making", "sha256": None})
"""A clip the box has not finished: waiting for a worker, or being encoded."""


class Relay:
    """A TCP relay to the hub: ``stall`` reads each request and never answers; else it pipes."""

    def __init__(self, target: int):
        self.target = target
        self.stall = True
        self.stalled: list[bytes] = []  # first bytes of each stalled request
        self.sock = socket.create_server(("127.0.0.1", 0))
        self.port = self.sock.getsockname()[1]
        self._stop = threading.Event()
        threading.Thread(target=self._serve, daemon=True).start()

    def _serve(self) -> None:
        self.sock.settimeout(0.2)
        while not self._stop.is_set():
            try:
                conn, _ = self.sock.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            threading.Thread(target=self._handle, args=(conn,), daemon=True).start()

    def _handle(self, conn: socket.socket) -> None:
        if self.stall:
            head = b""
            conn.settimeout(0.5)
            while not self._stop.is_set():
                try:
                    chunk = conn.recv(65536)
                except TimeoutError:
                    continue
                except OSError:
                    break
                if not chunk:
                    break
                if len(head) < 4096:
                    head += chunk
                    if PUT_LINE.search(head) and head not in self.stalled:
                        self.stalled.append(head[:200])
            conn.close()
            return
        up = socket.create_connection(("127.0.0.1", self.target))
        for a, b in ((conn, up), (up, conn)):
            threading.Thread(target=_pipe, args=(a, b), daemon=True).start()

    def stalled_ids(self) -> list[str]:
        return [m.group(1).decode() for h in self.stalled if (m := PUT_LINE.search(h))]

    def close(self) -> None:
        self._stop.set()
        self.sock.close()


def _pipe(a: socket.socket, b: socket.socket) -> None:
    try:
        while data := a.recv(65536):
            b.sendall(data)
    except OSError:
        pass
    finally:
        for s in (a, b):
            with contextlib.suppress(OSError):
                s.shutdown(socket.SHUT_RDWR)


def clip_of(http: int, event_id: str) -> dict[str, Any] | None:
    r = requests.get(f"http://127.0.0.1:{http}/api/v1/alerts/{event_id}",
                     headers={"Authorization": f"Bearer {TOKEN}"}, timeout=10)
    return r.json()["clip"] if r.status_code == 200 else None


def start_hub(tmp_path: Path, spawn: Any, broker: LocalBroker, upload_port: int | None, video: Path
              ) -> tuple[int, Path]:
    http = free_port()
    hub_cfg, box_cfg = scenes.write_person_scene(
        tmp_path, video, broker_port=broker.port, http_port=http, token=TOKEN, device=DEVICE,
        upload_port=upload_port, clips={"pre_s": PRE_S, "post_s": POST_S, "retry_initial_s": 0.5,
                                        "still": False,  # the relay stalls every PUT: clips only
                                        "upload_timeout_s": 600, "max_pending": 16})
    scenes.serve_hub(spawn, hub_cfg, http)
    return http, box_cfg


def test_box_killed_while_uploading_uploads_after_restart(
    tmp_path: Path, broker: LocalBroker, spawn, person_video_short: Path,  # type: ignore[no-untyped-def]
    model_store: ModelStore,
) -> None:
    relay = Relay(0)
    try:
        http, box_cfg = start_hub(tmp_path, spawn, broker, relay.port, person_video_short)
        relay.target = http
        env = {"VIGIE_MODELS": str(model_store.root)}
        agent = spawn("agent", "edge", "run", str(box_cfg), env=env)
        stalled = wait_for(relay.stalled_ids, 300, interval=0.2, what="a clip upload under way")
        agent.kill()  # SIGKILL in the middle of the PUT
        event_id = stalled[0]
        assert clip_of(http, event_id) in UNSETTLED
        assert (tmp_path / "box-data" / "clips" / f"{event_id}.webm").is_file()

        relay.stall = False
        again = spawn("agent2", "edge", "run", str(box_cfg), env=env)
        clip = wait_for(lambda: (c := clip_of(http, event_id)) and c not in UNSETTLED and c,
                        240, interval=0.5, what="the killed upload settled after restart")
        assert clip["status"] == "uploaded" and len(clip["sha256"]) == 64, clip
        con = sqlite3.connect(tmp_path / "hub.sqlite")
        assert con.execute("SELECT sha256 FROM clips WHERE event_id = ?",
                           [event_id]).fetchone() == (clip["sha256"],)
        again.stop()
        verify_chain(list(read(tmp_path / "box-data" / "egress-ledger.jsonl")))
    finally:
        relay.close()


def test_box_killed_while_encoding_sends_failed_with_reason(
    tmp_path: Path, broker: LocalBroker, spawn, person_video_short: Path,  # type: ignore[no-untyped-def]
    model_store: ModelStore,
) -> None:
    http, box_cfg = start_hub(tmp_path, spawn, broker, None, person_video_short)
    env = {"VIGIE_MODELS": str(model_store.root)}
    clips = tmp_path / "box-data" / "clips"
    agent = spawn("agent", "edge", "run", str(box_cfg), env=env)

    def encoding() -> list[Path]:
        return list(clips.glob("*.part.webm")) if clips.is_dir() else []

    part = wait_for(encoding, 300, interval=0.02, what="a clip being encoded")[0]
    agent.kill()  # SIGKILL while the encoder writes the file
    event_id = part.name.split(".")[0]
    assert not (clips / f"{event_id}.webm").exists()
    wait_for(lambda: clip_of(http, event_id), 30, what="the event at the hub")
    assert clip_of(http, event_id) in UNSETTLED

    again = spawn("agent2", "edge", "run", str(box_cfg), env=env)
    clip = wait_for(lambda: (c := clip_of(http, event_id)) and c not in UNSETTLED and c,
                    120, interval=0.5, what="the killed clip settled after restart")
    assert clip == {"status": "failed", "sha256": None, "reason": INTERRUPTED}
    assert "was being made" in again.text()
    again.stop()
    verify_chain(list(read(tmp_path / "box-data" / "egress-ledger.jsonl")))


def test_hub_fails_a_clip_pending_past_its_deadline(tmp_path: Path) -> None:
    """A box that never comes back: the hub's watch ends the pending clip with the deadline as
    its reason; a clip the hub holds (the box's message lost) becomes ``uploaded``."""
    from tests.kits.hubkit import insert_event

    database = tmp_path / "hub.sqlite"
    stale = insert_event(database)
    held = insert_event(database)
    fresh = insert_event(database)
    db = hubdb.connect(database)
    old = time.time() - 7200
    db.execute("UPDATE events SET received_at = ? WHERE id IN (?, ?)", [old, stale, held])
    db.execute("INSERT INTO clips (event_id, site, camera, sha256, bytes, duration_s, frames, "
               "width, height, stored_at) VALUES (?, 'test', 'cam-01', ?, 1, 1, 1, 1, 1, ?)",
               [held, "ab" * 32, old])
    plan = " ".join(str(r) for r in db.execute(
        "EXPLAIN QUERY PLAN SELECT id FROM events WHERE json_extract(clip, '$.status') = "
        "'pending' AND received_at < ?", [time.time()]).fetchall())
    assert "events_clip_pending" in plan  # the deadline check does not scan every event
    watch = Watch(database, silent_after_s=3600, every_s=0.2, clip_deadline_s=3600)
    watch.start()
    try:
        def clip(eid: str) -> dict[str, Any]:
            return json.loads(db.execute("SELECT clip FROM events WHERE id = ?", [eid]).fetchone()[0])

        wait_for(lambda: clip(stale)["status"] != "pending", 10, what="the stale clip ended")
    finally:
        watch.stop()
    assert clip(stale) == {"status": "failed", "sha256": None,
                           "reason": "no clip received within 3600 s (hub deadline)"}
    assert clip(held) == {"status": "uploaded", "sha256": "ab" * 32}
    assert clip(fresh)["status"] == "pending"
    assert expire_clips(db, 3600) == []  # settled once
