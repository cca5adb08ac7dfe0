"""The still of an event start, made from a real frame with the real face model, and the clip's
overlay: faces obscured, the privacy mask painted, the zone and box drawn; the still goes
through egress and the ledger to a real hub over HTTP and shows in the alert JSON, and the
clip's states (pending, making, failed with its reason) follow it there."""

from __future__ import annotations

import json
import time
from pathlib import Path

import cv2
import numpy as np
import pytest
import requests

from central import db as hubdb
from edge.clips.flow import ClipFlow
from edge.clips.maker import make_clip
from edge.clips.overlay import BOX_BGR, ZONE_BGR, Shape
from edge.clips.preroll import compress
from edge.clips.still import make_still
from edge.config import BoxConfig, PrivacyMask, SourceConfig, ZoneConfig
from edge.config_wings import ClipsConfig, UploadConfig
from edge.modelstore import ModelStore
from edge.outbound.ledger import Ledger, read
from edge.outbound.outbox import Outbox
from edge.privacy.faces import Anonymiser, FaceFinder
from edge.privacy.masks import MaskPainter
from edge.records import Event, Track
from edge.wire.messages import EventMessage, utc_iso, uuid7
from tests.conftest import wait_for
from tests.kits.clipkit import DEVICE, OPERATOR, Hub, decode_all, hub  # noqa: F401  (fixtures)

ZONE = [(0.55, 0.05), (0.95, 0.05), (0.95, 0.55), (0.55, 0.55)]
MASK = [(0.0, 0.8), (0.25, 0.8), (0.25, 1.0), (0.0, 1.0)]
BOX = (300.0, 40.0, 460.0, 180.0)
"""The event's object box, in pixels of face.jpg (512 x 355)."""


@pytest.fixture(scope="module")
def face(media: Path) -> np.ndarray:
    image = cv2.imread(str(media / "images" / "face.jpg"))
    assert image is not None
    return image


def near(image: np.ndarray, bgr: tuple[int, int, int], tol: int = 60) -> np.ndarray:
    return np.all(np.abs(image.astype(int) - np.array(bgr)) < tol, axis=2)


def zone_top_drawn(image: np.ndarray) -> float:
    """Share of the columns along the zone's top edge where a zone-coloured pixel is."""
    h, w = image.shape[:2]
    top = round(0.05 * (h - 1))
    return float(near(image[max(top - 3, 0):top + 4, int(0.6 * w):int(0.9 * w)], ZONE_BGR)
                 .any(axis=0).mean())


def faces(image: np.ndarray, model_store: ModelStore) -> int:
    """Faces YuNet finds at threshold 0.5, native size and upscaled 2x."""
    return sum(len(FaceFinder(model_store.path("yunet"), 0.5, s).find(image)) for s in (1.0, 2.0))


def check_still_pixels(still: np.ndarray, model_store: ModelStore) -> None:
    h, w = still.shape[:2]
    assert faces(still, model_store) == 0
    y0, x0 = int(0.85 * h), int(0.02 * w)
    assert still[y0:h - 2, x0:int(0.22 * w)].max() < 30  # the privacy mask is black
    assert zone_top_drawn(still) > 0.9
    sx = w / 512
    assert near(still[int(110 * sx):int(130 * sx), int(297 * sx):int(304 * sx)], BOX_BGR).any()


def test_a_still_obscures_the_face_paints_the_mask_and_draws_the_event(
    face: np.ndarray, model_store: ModelStore, output_dir: Path,
) -> None:
    assert faces(face, model_store) >= 1  # the raw frame has a face YuNet finds
    cfg = ClipsConfig(anonymize="faces")
    painter = MaskPainter([PrivacyMask(name="window", polygon=MASK)])
    anonymise = Anonymiser(painter, cfg.anonymize,
                           FaceFinder(model_store.path("yunet"), cfg.face_threshold, cfg.face_scale))
    masked = painter.apply(face)  # as the pipeline hands frames on
    data, w, h = make_still(masked, (), (BOX,), Shape("zone", tuple(ZONE)), anonymise, cfg)
    (output_dir / "still.jpg").write_bytes(data)
    assert data[:3] == b"\xff\xd8\xff" and len(data) <= cfg.still_max_bytes
    still = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_COLOR)
    assert (still.shape[1], still.shape[0]) == (w, h)
    check_still_pixels(still, model_store)
    small = ClipsConfig(anonymize="faces", still_max_width=200, still_max_height=200,
                        still_max_bytes=16 * 1024)
    data2, w2, h2 = make_still(masked, (), (BOX,), None, anonymise, small)
    assert w2 <= 200 and h2 <= 200 and len(data2) <= 16 * 1024


def test_clip_frames_draw_the_zone_after_anonymisation(face: np.ndarray, tmp_path: Path) -> None:
    cfg = ClipsConfig(anonymize="persons")
    anonymise = Anonymiser(MaskPainter([]), cfg.anonymize, None)
    stored = [compress(i / 10, face, (), 85, None, (BOX,)) for i in range(10)]
    shape = Shape("zone", tuple(ZONE))
    clip = make_clip(stored, 0.0, 1.0, cfg, anonymise, tmp_path / "c.webm", shape)
    frame = decode_all(clip.path)[5]
    assert zone_top_drawn(frame) > 0.9
    assert near(frame[110:130, 297:304], BOX_BGR).any()
    plain = make_clip(stored, 0.0, 1.0, ClipsConfig(anonymize="persons", overlay=False), anonymise,
                      tmp_path / "p.webm", shape)
    bare = decode_all(plain.path)[5]
    assert zone_top_drawn(bare) < 0.2 and not near(bare[110:130, 297:304], BOX_BGR).any()


def alert(hub: Hub, eid: str) -> dict:  # noqa: F811
    r = requests.get(f"{hub.url}/api/v1/alerts/{eid}", timeout=5,
                     headers={"Authorization": f"Bearer {OPERATOR}"})
    assert r.status_code == 200, r.text
    return dict(r.json())


def deliver(hub: Hub, outbox: Outbox, done: set[int]) -> list[str]:  # noqa: F811
    """Hand the outbox's new event rows to the hub's store, in order (the sender and ingest's
    part); returns the clip status each carried."""
    statuses = []
    for item in outbox.pending(100, kinds=("event",)):
        if item.id in done:
            continue
        done.add(item.id)
        wire = EventMessage.from_json(item.body).to_wire(item.id)
        with hubdb.connect(hub.cfg.database) as db:  # type: ignore[attr-defined]
            hubdb.upsert_event(db, wire, json.dumps(wire))
        statuses.append(wire["clip"]["status"])
    return statuses


def test_still_reaches_the_hub_then_the_clip_is_made_and_fails_with_its_reason(
    hub: Hub, face: np.ndarray, tmp_path: Path, model_store: ModelStore,  # noqa: F811
) -> None:
    cfg = BoxConfig(
        site="marseille", camera="cam-042", data_dir=tmp_path / "box",
        source=SourceConfig(url=str(tmp_path / "none.mp4")),
        upload=UploadConfig(hub_url=hub.url, device_token=DEVICE),
        zones=[ZoneConfig(name="door", polygon=[list(p) for p in ZONE])],
        privacy_masks=[PrivacyMask(name="window", polygon=[list(p) for p in MASK])],
        clips=ClipsConfig(anonymize="faces", pre_s=0.5, post_s=1.0, max_bytes=64 * 1024,
                          retry_initial_s=0.2, retry_max_s=0.5),
    )
    ledger = Ledger(tmp_path / "ledger.jsonl")
    outbox = Outbox(tmp_path / "outbox.sqlite")
    flow = ClipFlow(cfg, model_store, outbox, ledger, lambda: None)
    painter = MaskPainter(cfg.privacy_masks)
    rng = np.random.default_rng(3)
    try:
        for i in range(5):
            flow.observe(i / 10, painter.apply(face), [])
        eid, now = uuid7(), time.time()
        track = Track(1, "person", 0.9, BOX, 0.0, 0.4, 5, 0)
        ev = Event(eid, "intrusion", "start", "warning", now, None, "door", (track,), {}, 512, 355)
        msg = EventMessage(id=eid, site="marseille", camera="cam-042", type="intrusion",
                           state="start", severity="warning", started_at=utc_iso(now),
                           ended_at=None, zone="door", objects=(), measure={},
                           model_name="yolox-nano", model_sha256="e8" * 32)
        out = flow.on_event(ev, msg, 0.4)
        assert out.clip_status == "pending"
        done: set[int] = set()
        wire = out.to_wire(1)
        with hubdb.connect(hub.cfg.database) as db:  # type: ignore[attr-defined]
            hubdb.upsert_event(db, wire, json.dumps(wire))
        assert alert(hub, eid)["clip"]["status"] == "pending"
        got = wait_for(lambda: alert(hub, eid)["still"], 20, 0.05, what="the still at the hub")
        assert got["taken_at"] == msg.started_at and got["url"] == f"/api/v1/events/{eid}/still"
        pic = requests.get(hub.url + got["url"], timeout=5,
                           headers={"Authorization": f"Bearer {OPERATOR}"})
        assert pic.status_code == 200 and pic.headers["Content-Type"] == "image/jpeg"
        check_still_pixels(cv2.imdecode(np.frombuffer(pic.content, np.uint8), cv2.IMREAD_COLOR),
                           model_store)
        entries = [e for e in read(tmp_path / "ledger.jsonl") if e.dest.endswith(f"{eid}/still")]
        assert entries and entries[-1].kind == "http"
        assert entries[-1].sha256 == json.loads(hub.db().execute(
            "SELECT still FROM events WHERE id = ?", [eid]).fetchone()[0])["sha256"]
        assert not (tmp_path / "box" / "stills" / f"{eid}.jpg").exists()  # least data

        for i in range(5, 20):  # the post-roll: noise, so the clip is over clips.max_bytes
            noisy = face + rng.integers(0, 60, face.shape, dtype=np.uint8)
            flow.observe(i / 10, painter.apply(noisy), [])
        wait_for(lambda: outbox.depth_of("event") >= 2, 30, what="making, then failed")
        seen = deliver(hub, outbox, done)
        assert seen[0] == "making"
        if len(seen) == 1:
            assert alert(hub, eid)["clip"]["status"] == "making"
            wait_for(lambda: deliver(hub, outbox, done), 30, what="the failed status")
        clip = alert(hub, eid)["clip"]
        assert clip["status"] == "failed" and "exceeds clips.max_bytes" in clip["reason"]
    finally:
        flow.stop()
        outbox.close()
